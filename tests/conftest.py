"""Every suite runs against fakes of AWS: never an endpoint or credentials from the environment."""

import gc
import os
from typing import Any

import pytest

for name in list(os.environ):
    if name.startswith("AWS_ENDPOINT_URL") or name in {"AWS_PROFILE", "AWS_SESSION_TOKEN"}:
        del os.environ[name]
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
)


# ---- how `make test` spreads the files over its two workers (pytest -n 2 --dist loadfile) ----
#
# A file stays on one worker (its module fixtures are set up once). The e2e files that talk to the
# shared `python -m local` (tests/e2e/conftest.py's `service`) are one unit: one worker runs them
# one after the other on one runtime, which stops when the last of them is done.
SHARED_RUNTIME = "tests/e2e (the shared runtime)"
OWN_RUNTIME = {"tests/e2e/test_contract.py"}  # e2e files that start a runtime of their own
# The units that take longest, longest first (seconds, measured on two workers); every other file
# follows in collection order. A worker takes the next unit when it is nearly done with its own, so
# starting the long ones first leaves no long one to run alone at the end.
LONGEST_FIRST = [
    SHARED_RUNTIME,  # ~150, of which the console in a browser ~95
    "tests/e2e/test_contract.py",  # ~65: schemathesis with each key
    "tests/integration/test_pacing.py",  # ~50
    "tests/integration/test_fanout_pages.py",  # ~25
    "tests/integration/test_scheduled_sends.py",  # ~18
    "tests/infra/test_stack.py",  # ~15 and under from here
    "tests/integration/test_mass_messages.py",
    "tests/integration/test_receipts.py",
    "tests/integration/test_balance.py",
    "tests/integration/test_inbound.py",
    "tests/integration/test_previews.py",
    "tests/integration/test_api.py",
    "tests/integration/test_contract.py",
    "tests/integration/test_balance_concurrency.py",
    "tests/integration/test_bad_input.py",
    "tests/integration/test_status_callbacks.py",
    "tests/integration/test_quiet_hours.py",
    "tests/infra/test_console.py",
    "tests/integration/test_triggered_message.py",
    "tests/integration/test_tenant_setup.py",
    "tests/integration/test_sent_messages_log.py",
    "tests/integration/test_sharded_reads.py",
    "tests/integration/test_three_a_day.py",
    "tests/integration/test_calling_lists.py",
]


def pytest_sessionstart(session: pytest.Session) -> None:
    # moto's backends and boto3's models make a large heap of long-lived objects: the collector's
    # full passes over it (Python's default thresholds: every 700 allocations, a full pass every
    # hundred) stop every thread of a test for a while. What the imports made is kept out of them.
    from local.runtime import GC_THRESHOLDS  # after the environment above is set

    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


# Within its unit, a test may go first or last: the quiet-hours test's hold is placed before the other
# e2e files and checked after them, so its wait for the next whole minute overlaps them.
FIRST_IN_UNIT = {"tests/e2e/test_quiet_hours.py::test_a_trigger_in_the_quiet_hours_is_held_until_they_end"}
LAST_IN_UNIT = {"tests/e2e/test_quiet_hours.py::test_the_held_trigger_is_released_when_the_quiet_hours_end"}


def unit_of(path: str) -> str:
    """The unit of work a test file belongs to: the file, or the shared runtime's."""
    if path.startswith("tests/e2e/test_") and path not in OWN_RUNTIME:
        return SHARED_RUNTIME
    return path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The workers collect in this order, and the scheduler hands out the units in it.
    rank = {unit: index for index, unit in enumerate(LONGEST_FIRST)}

    def order(item: pytest.Item) -> tuple[int, int]:
        place = 0 if item.nodeid in FIRST_IN_UNIT else 2 if item.nodeid in LAST_IN_UNIT else 1
        return rank.get(unit_of(item.nodeid.split("::", 1)[0]), len(rank)), place

    items.sort(key=order)  # stable


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class Units(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(super()._split_scope(nodeid))

    config.option.loadscopereorder = False  # keep the order above, not the largest count first
    return Units(config, log)
