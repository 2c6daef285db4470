"""Schemathesis (every check) against the served OpenAPI document, with a tenant's and the operator's
key: no server error, no answer outside its documented schema, no undocumented status code.

A runtime of its own (the checks change settings, numbers and opt-outs freely), bounded: a few
examples per operation and a time cap per key. bench/contract.py runs the same at a larger bound.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.contract import OPERATOR_KEY, TENANT_KEY, run_schemathesis, summary
from tests.e2e.conftest import LocalService, local_service

pytestmark = pytest.mark.e2e
MAX_EXAMPLES = 3
MAX_SECONDS = 40  # per key


@pytest.fixture(scope="module")
def fresh_service() -> Iterator[LocalService]:
    with local_service("--no-demo-activity") as running:
        yield running


@pytest.mark.parametrize("key", [TENANT_KEY, OPERATOR_KEY], ids=["tenant", "operator"])
def test_the_api_answers_as_its_document_says(fresh_service: LocalService, key: str):
    # WHEN schemathesis drives every documented operation with generated valid and invalid requests
    result = run_schemathesis(
        fresh_service.url, key, max_examples=MAX_EXAMPLES, max_time=MAX_SECONDS, phases="examples,fuzzing"
    )
    # THEN every check passes: no 5xx, every status, content type, header and body as documented
    assert result.returncode == 0, (
        summary(result.stdout) + "\n" + result.stdout[:15000] + result.stderr[-3000:]
    )
