"""Previews as jobs: a preview too large to answer inline is computed by the preview function, in
parallel segments with checkpoints, and a confirmation is checked the same way."""

from __future__ import annotations

from typing import Any

import pytest

from functions.dal.config import ConfigTable
from functions.dal.preview_queue import PreviewWork
from functions.domain.tenants import Contact, ContactPhone, EntityType
from functions.handlers import preview as preview_handler
from functions.logic import mass as mass_logic
from functions.logic import previews as previews_logic
from infra.constants import FANOUT_QUEUE_ID
from tests.integration.conftest import Platform
from tests.integration.test_mass_messages import OUTAGE, ok

# Contact ids over every first character the segments split on, and two that share a number.
IDS = [f"{first}-{n}" for first in "0259bcefhkmpruwz" for n in range(3)]


@pytest.fixture
def queued_previews(monkeypatch: pytest.MonkeyPatch) -> None:
    """No inline computation, small pages and runs: every preview goes through the preview function."""
    monkeypatch.setattr(previews_logic, "INLINE_BUDGET_MS", 0)
    monkeypatch.setattr(mass_logic, "QUEUED_AFTER_INLINE_SECONDS", 0)
    monkeypatch.setattr(previews_logic, "PAGE_SIZE", 4)
    monkeypatch.setattr(previews_logic, "RUN_FLUSH_ENTRIES", 3)
    preview_handler.services.cache_clear()


@pytest.fixture
def audience(platform: Platform) -> int:
    """48 opted-in mobiles at site-east, two of them on one number: 47 recipients."""
    config = ConfigTable(platform.table("CONFIG_TABLE"))
    contacts = [
        Contact(
            contact_id=contact_id,
            name=f"Subscriber {contact_id}",
            contact_type="Primary",
            related_entity_type=EntityType.NETWORK_SITE,
            related_entity_id="site-east",
            related_entity_name="East",
            phones=[  # the last two share +14165552046
                ContactPhone(number=f"+1416555{2000 + min(i, 46):04d}", number_type="Mobile", sms_opt_in=True)
            ],
        )
        for i, contact_id in enumerate(IDS)
    ]
    config.put_contacts("demo-isp", contacts)
    return 47


EAST = {**OUTAGE, "filters": {"network_site_ids": ["site-east"]}}


def create(platform: Platform) -> dict[str, Any]:
    return ok(platform, "POST", "/v1/mass-messages", EAST, status=202)


def test_a_preview_runs_as_a_job_in_segments_and_ends_with_the_exact_counts(
    platform: Platform, audience: int, queued_previews: None
):
    # GIVEN a mass message whose preview the API does not compute inline
    job = create(platform)

    # THEN it answers at once, previewing, with nothing to confirm and nothing sent
    assert (job["status"], job["preview"], job["confirmation_token"]) == ("previewing", None, None)
    assert job["preview_progress"]["segments"] == 1
    assert platform.ready_count() + platform.queue_depth(FANOUT_QUEUE_ID) == 0

    # WHEN the preview function works through its queue
    done = platform.settle(f"/v1/mass-messages/{job['id']}")

    # THEN the first segment was split into ranges of contact ids, and the counts are exact
    assert done["status"] == "previewed", done
    assert done["preview_progress"]["segments"] == 8
    assert done["preview_progress"]["segments_done"] == 8
    assert done["preview_progress"]["records_read"] >= len(IDS)
    assert done["preview"]["recipients"] == audience, done["preview"]
    assert done["preview"]["duplicates_removed"] == 1
    assert done["preview"]["total_micros"] == audience * done["preview"]["price_per_message_micros"]
    assert done["confirmation_token"]


def test_the_inline_and_the_queued_preview_agree(platform: Platform, audience: int, monkeypatch):
    # GIVEN the same audience previewed inline (the API's short budget suffices)...
    inline = ok(platform, "POST", "/v1/mass-messages", EAST, status=202)
    assert inline["status"] == "previewed"
    # ...and through the queue
    monkeypatch.setattr(previews_logic, "INLINE_BUDGET_MS", 0)
    monkeypatch.setattr(previews_logic, "PAGE_SIZE", 5)
    queued = platform.settle(f"/v1/mass-messages/{create(platform)['id']}")
    # THEN both previews are the same, to the digest (the confirmation compares it)
    assert inline["preview"] == queued["preview"]


def test_a_confirmation_is_checked_through_the_queue_and_a_stale_one_sends_nothing(
    platform: Platform, audience: int, queued_previews: None
):
    job = platform.settle(f"/v1/mass-messages/{create(platform)['id']}")
    # GIVEN a contact added after the preview
    config = ConfigTable(platform.table("CONFIG_TABLE"))
    extra = config.get_contact("demo-isp", "z-0")
    assert extra is not None
    phone = extra.phones[0].model_copy(update={"number": "+14165553999"})
    config.put_contact("demo-isp", extra.model_copy(update={"contact_id": "z-9", "phones": [phone]}))

    # WHEN the job is confirmed
    confirming = ok(platform, "POST", f"/v1/mass-messages/{job['id']}/confirm",
                    {"confirmation_token": job["confirmation_token"]}, status=202)  # fmt: skip
    assert confirming["status"] == "confirming"
    after = platform.settle(f"/v1/mass-messages/{job['id']}")

    # THEN it is refused as stale: back to previewed with the new counts, nothing sent
    assert after["status"] == "previewed"
    assert after["refusal"]["reason"] == "preview_stale"
    assert (after["refusal"]["recipients_previewed"], after["refusal"]["recipients_now"]) == (
        audience,
        audience + 1,
    )
    assert after["preview"]["recipients"] == audience + 1
    assert after["confirmation_token"] not in {None, job["confirmation_token"]}
    assert platform.queue_depth(FANOUT_QUEUE_ID) == 0
    assert platform.table("MESSAGES_TABLE").scan()["Count"] == 0

    # WHEN the new preview is confirmed, THEN it goes to the fan-out and every recipient gets one message
    ok(platform, "POST", f"/v1/mass-messages/{job['id']}/confirm",
       {"confirmation_token": after["confirmation_token"]}, status=202)  # fmt: skip
    assert platform.settle(f"/v1/mass-messages/{job['id']}")["status"] == "sending"
    platform.run_fanout()
    assert platform.ready_count() == audience + 1


def test_a_repeated_or_superseded_work_item_changes_nothing(
    platform: Platform, audience: int, queued_previews
):
    job = create(platform)
    done = platform.settle(f"/v1/mass-messages/{job['id']}")
    # WHEN a work item of the finished computation comes again (SQS delivers at least once)
    previews = preview_handler.services().previews
    for segment in range(done["preview_progress"]["segments"]):
        assert previews.step(PreviewWork(job_id=job["id"], generation=1, segment=segment), lambda: 900_000)
    # THEN the job and its token are as they were
    again = ok(platform, "GET", f"/v1/mass-messages/{job['id']}")
    assert (again["status"], again["confirmation_token"], again["preview"]) == (
        "previewed", done["confirmation_token"], done["preview"]
    )  # fmt: skip


def test_a_segment_out_of_time_hands_over_and_resumes_at_its_checkpoint(
    platform: Platform, audience: int, queued_previews: None
):
    job = create(platform)
    previews = preview_handler.services().previews
    # GIVEN a worker whose invocation is nearly out of time after one page
    budget = iter([10**6, 0])
    assert not previews.step(
        PreviewWork(job_id=job["id"], generation=1, segment=0), lambda: next(budget, 0), 0
    )
    # WHEN the handed-over item and the others run
    done = platform.settle(f"/v1/mass-messages/{job['id']}")
    # THEN no contact was counted twice or missed
    assert done["preview"]["recipients"] == audience, done["preview"]
    assert done["preview"]["duplicates_removed"] == 1


def test_cancelling_a_previewing_job_stops_its_computation(
    platform: Platform, audience: int, queued_previews
):
    job = create(platform)
    assert ok(platform, "POST", f"/v1/mass-messages/{job['id']}/cancel")["status"] == "cancelled"
    platform.run_previews()
    after = ok(platform, "GET", f"/v1/mass-messages/{job['id']}")
    assert (after["status"], after["preview"]) == ("cancelled", None)
    code, problem = platform.call(
        "POST", f"/v1/mass-messages/{job['id']}/confirm", {"confirmation_token": "x"}
    )
    assert (code, problem["reason"]) == (409, "not_previewed")


def test_a_split_that_races_the_inline_run_still_queues_every_segment(
    platform: Platform, audience: int, queued_previews: None, monkeypatch: pytest.MonkeyPatch
):
    # GIVEN a job whose first segment the API's inline run moves on (one page, not past the first
    # bound) just as the preview function splits it
    job = create(platform)
    previews = preview_handler.services().previews
    jobs = previews._jobs
    original = type(jobs).advance_segment
    raced = []

    def inline_run_first(self, seen, after):  # type: ignore[no-untyped-def]
        if after.split and not raced:
            raced.append(seen)
            moved = seen.model_copy(update={"read": seen.read + 1, "version": seen.version + 1})
            assert original(self, seen, moved)  # the inline run's page checkpoint lands first
        return original(self, seen, after)

    monkeypatch.setattr(type(jobs), "advance_segment", inline_run_first)
    # WHEN the preview function works through its queue
    done = platform.settle(f"/v1/mass-messages/{job['id']}")
    # THEN the race happened, and the split still queued its pieces: the preview ends, exact
    assert raced
    assert done["status"] == "previewed", done
    assert done["preview_progress"]["segments_done"] == done["preview_progress"]["segments"] == 8
    assert done["preview"]["recipients"] == audience, done["preview"]
