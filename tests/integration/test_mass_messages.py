"""Mass messages: preview, confirmation, fan-out, progress and cancel, through the API and the handlers."""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from functions.dal.config import ConfigTable
from functions.dal.fanout_queue import FanOutQueue, FanOutWork
from functions.dal.jobs import JobsTable
from functions.dal.list_records import ListRecords
from functions.dal.messages import MessagesTable
from functions.dal.objects import ObjectStore
from functions.dal.opt_outs import GLOBAL_SCOPE, OptOut, OptOutsTable
from functions.domain.messages import utc_now
from functions.logic.compose import Composer
from functions.logic.fanout import FanOut
from infra.constants import FANOUT_QUEUE_ID
from tests.integration.conftest import Platform

OUTAGE = {
    "saved_message": "planned_outage",
    "outage_start": "2026-12-01T02:00:00-05:00",
    "outage_end": "2026-12-01T04:00:00-05:00",
    "variables": {"company": "Demo Fiber"},
    "filters": {"network_site_ids": ["site-north"]},
}


def ok(platform: Platform, method: str, path: str, body: Any = None, status: int = 200) -> Any:
    code, result = platform.call(method, path, body)
    assert code == status, result
    return result


@pytest.fixture
def sites(platform: Platform) -> None:
    ok(
        platform,
        "PUT",
        "/v1/accounts/acct-1001",
        {"name": "Lovelace", "network_site_id": "site-north", "groups": ["fiber"]},
    )
    ok(
        platform,
        "PUT",
        "/v1/accounts/acct-1002",
        {"name": "Hopper", "network_site_id": "site-north", "status": "Delinquent"},
    )
    ok(platform, "PUT", "/v1/accounts/acct-1003", {"name": "Turing", "network_site_id": "site-south"})


def create(platform: Platform, body: dict[str, Any] = OUTAGE) -> dict[str, Any]:
    return ok(platform, "POST", "/v1/mass-messages", body, status=202)


def nothing_sent(platform: Platform) -> None:
    assert platform.ready_count() == 0
    assert platform.queue_depth(FANOUT_QUEUE_ID) == 0
    assert platform.table("MESSAGES_TABLE").scan()["Count"] == 0


def test_the_preview_counts_exact_recipients_and_cost_and_sends_nothing(platform: Platform, sites):
    job = create(platform)
    preview = job["preview"]
    # Ada's mobile, Charles's mobile, Grace's mobile; Ada's Home number is not SMS-capable.
    assert preview["recipients"] == 3
    assert preview["excluded"] == {"not_sms_capable": 1}
    assert preview["duplicates_removed"] == 0
    assert preview["segments_per_message"] == 2  # the outage text and the signature pass 160 characters
    assert preview["price_per_message_micros"] == 2 * 8_500
    assert preview["total_micros"] == 3 * 2 * 8_500
    assert job["status"] == "previewed"
    assert job["confirmation_token"]
    assert (
        "planned maintenance will interrupt service from Dec 1, 2026 2:00 AM EST to Dec 1, 2026 4:00 AM EST"
        in job["body"]
    )
    nothing_sent(platform)


def test_duplicates_and_opted_out_numbers_are_excluded_and_counted(platform: Platform, sites):
    config = ConfigTable(platform.table("CONFIG_TABLE"))
    grace = config.get_contact("demo-isp", "contact-grace")
    assert grace is not None
    config.put_contact(
        "demo-isp",
        grace.model_copy(update={"phones": [grace.phones[0].model_copy(update={"number": "+14165550123"})]}),
    )
    OptOutsTable(platform.table("OPT_OUTS_TABLE")).add(
        OptOut(
            scope=GLOBAL_SCOPE,
            phone_number="+14165550125",
            opted_out_at=utc_now(),
            source="keyword",
            actor="STOP",
        )
    )
    preview = create(platform)["preview"]
    assert preview["recipients"] == 1
    assert preview["duplicates_removed"] == 1
    assert preview["excluded"] == {"not_sms_capable": 1, "opted_out": 1}


@pytest.mark.parametrize(
    ("filters", "recipients"),
    [
        ({"network_site_ids": ["site-south"]}, 0),
        ({"account_statuses": ["Delinquent"]}, 1),
        ({"account_groups": ["fiber"]}, 2),
        ({"contact_types": ["Technical"]}, 1),
        ({"network_site_ids": ["site-north"], "contact_types": ["Billing"]}, 2),
        ({}, 3),  # Alan (site-south) has not opted in
    ],
)
def test_filters_select_by_account_attributes_and_contact_type(
    platform: Platform, sites, filters, recipients
):
    assert create(platform, {**OUTAGE, "filters": filters})["preview"]["recipients"] == recipients


def test_confirmation_needs_the_previews_token(platform: Platform, sites):
    job = create(platform)
    code, problem = platform.call(
        "POST", f"/v1/mass-messages/{job['id']}/confirm", {"confirmation_token": "guess"}
    )
    assert (code, problem["field"]) == (400, "confirmation_token")
    code, problem = platform.call("POST", f"/v1/mass-messages/{job['id']}/confirm", {})
    assert code == 422
    nothing_sent(platform)


def test_a_stale_preview_cannot_be_confirmed(platform: Platform, sites):
    job = create(platform)
    ok(platform, "POST", "/v1/contacts", {
        "name": "New Neighbour", "contact_type": "Billing", "related_entity_id": "acct-1002",
        "related_entity_name": "Hopper", "phones": [{"number": "416-555-0177", "number_type": "Mobile", "sms_opt_in": True}],
    }, status=201)  # fmt: skip
    code, problem = platform.call(
        "POST", f"/v1/mass-messages/{job['id']}/confirm", {"confirmation_token": job["confirmation_token"]}
    )
    assert (code, problem["reason"]) == (409, "preview_stale")
    assert (problem["recipients_previewed"], problem["recipients_now"]) == (3, 4)
    nothing_sent(platform)

    fresh = ok(platform, "POST", f"/v1/mass-messages/{job['id']}/preview", status=202)
    assert fresh["preview"]["recipients"] == 4
    assert fresh["confirmation_token"] != job["confirmation_token"]
    ok(
        platform,
        "POST",
        f"/v1/mass-messages/{job['id']}/confirm",
        {"confirmation_token": fresh["confirmation_token"]},
        status=202,
    )


def test_an_expired_token_cannot_be_confirmed(platform: Platform, sites):
    job = create(platform)
    jobs = JobsTable(platform.table("JOBS_TABLE"))
    stored = jobs.get(job["id"])
    assert stored is not None
    expired = stored.model_copy(update={"token_expires_at": utc_now() - timedelta(seconds=1)})
    assert jobs.replace_preview(expired)
    code, problem = platform.call(
        "POST", f"/v1/mass-messages/{job['id']}/confirm", {"confirmation_token": job["confirmation_token"]}
    )
    assert (code, problem["reason"]) == (409, "token_expired")
    nothing_sent(platform)


def test_a_confirmed_mass_message_reaches_each_recipient_once_and_reports_progress(platform: Platform, sites):
    job = create(platform)
    confirmed = ok(platform, "POST", f"/v1/mass-messages/{job['id']}/confirm",
                   {"confirmation_token": job["confirmation_token"]}, status=202)  # fmt: skip
    assert confirmed["status"] == "sending"
    assert confirmed["confirmation_token"] is None

    platform.run_fanout()
    progress = ok(platform, "GET", f"/v1/mass-messages/{job['id']}")
    assert progress["status"] == "queued"
    assert progress["created_messages"] == 3
    assert progress["progress"]["Pending"] == 3

    platform.run_dispatchers()
    platform.deliver_receipts()
    progress = ok(platform, "GET", f"/v1/mass-messages/{job['id']}")
    assert progress["progress"]["Delivered"] == 3
    assert sorted(record.destination for record in platform.simulator.records) == [
        "+12125550187",
        "+14165550123",
        "+14165550125",
    ]
    logged = ok(platform, "GET", "/v1/messages")["items"]
    assert {item["saved_message"] for item in logged} == {"planned_outage@v1"}

    code, problem = platform.call(
        "POST", f"/v1/mass-messages/{job['id']}/confirm", {"confirmation_token": job["confirmation_token"]}
    )
    assert (code, problem["reason"]) == (409, "not_previewed")


def test_cancel_fails_what_was_not_yet_handed_to_the_carrier(platform: Platform, sites):
    job = create(platform)
    ok(
        platform,
        "POST",
        f"/v1/mass-messages/{job['id']}/confirm",
        {"confirmation_token": job["confirmation_token"]},
        status=202,
    )
    platform.run_fanout()  # messages exist and are queued, none sent

    cancelled = ok(platform, "POST", f"/v1/mass-messages/{job['id']}/cancel")
    assert cancelled["status"] == "cancelled"
    platform.run_fanout()  # the sweep
    platform.run_dispatchers()

    assert platform.simulator.records == []
    progress = ok(platform, "GET", f"/v1/mass-messages/{job['id']}")["progress"]
    assert progress["Failed"] == 3
    assert {item["reject_reason"] for item in ok(platform, "GET", "/v1/messages")["items"]} == {"cancelled"}
    assert platform.call("POST", f"/v1/mass-messages/{job['id']}/cancel")[0] == 409


def test_the_sender_refuses_a_cancelled_jobs_message_still_queued(platform: Platform, sites):
    job = create(platform)
    ok(
        platform,
        "POST",
        f"/v1/mass-messages/{job['id']}/confirm",
        {"confirmation_token": job["confirmation_token"]},
        status=202,
    )
    platform.run_fanout()
    JobsTable(platform.table("JOBS_TABLE")).cancel(job["id"], utc_now())  # no sweep has run yet
    platform.run_dispatchers()
    assert platform.simulator.records == []
    assert ok(platform, "GET", f"/v1/mass-messages/{job['id']}")["progress"]["Failed"] == 3


def test_only_the_outage_messages_are_mass_messages(platform: Platform, sites):
    code, problem = platform.call(
        "POST", "/v1/mass-messages", {**OUTAGE, "saved_message": "payment_received"}
    )
    assert (code, problem["field"]) == (400, "saved_message")
    code, problem = platform.call(
        "POST", "/v1/mass-messages", {**OUTAGE, "outage_start": "2026-12-01T02:00:00"}
    )
    assert (code, problem["field"]) == (422, "body.outage_start")
    nothing_sent(platform)


def many_contacts(platform: Platform, count: int, first_id: int = 0) -> None:
    config = ConfigTable(platform.table("CONFIG_TABLE"))
    ada = config.get_contact("demo-isp", "contact-ada")
    assert ada is not None
    for index in range(count):
        phone = ada.phones[0].model_copy(update={"number": f"+1416555{1000 + index:04d}"})
        contact_id = f"bulk-{first_id + index:03d}"
        config.put_contact("demo-isp", ada.model_copy(update={"contact_id": contact_id, "phones": [phone]}))


def fanout_with(platform: Platform, messages: MessagesTable, page_size: int) -> FanOut:
    config = ConfigTable(platform.table("CONFIG_TABLE"))
    sqs = platform.session.client("sqs")
    opt_outs = OptOutsTable(platform.table("OPT_OUTS_TABLE"))
    composer = Composer(config, messages, opt_outs)
    fanout_queue = FanOutQueue(sqs, platform.queue_url(FANOUT_QUEUE_ID))
    records = ListRecords(ObjectStore(platform.session.client("s3"), os.environ["LISTS_BUCKET"]))
    jobs = JobsTable(platform.table("JOBS_TABLE"))
    return FanOut(config, jobs, messages, composer, fanout_queue, records, opt_outs, page_size)


class CrashOnce(MessagesTable):
    """A Messages table whose n-th batch write dies after two items, like a Lambda timing out mid-page."""

    def __init__(self, table, crash_on: int) -> None:
        super().__init__(table)
        self._calls = 0
        self._crash_on = crash_on

    def put_many(self, messages) -> None:
        self._calls += 1
        if self._calls == self._crash_on:
            super().put_many(list(messages)[:2])
            raise TimeoutError("the invocation ran out of time")
        super().put_many(messages)


def test_a_fanout_interrupted_midway_resumes_and_creates_each_message_once(platform: Platform, sites):
    many_contacts(platform, 23)
    # Two more contacts share numbers already listed: one message per number all the same.
    many_contacts(platform, 2, first_id=100)
    job = create(platform, {**OUTAGE, "filters": {}})
    assert job["preview"]["recipients"] == 26
    assert job["preview"]["duplicates_removed"] == 2
    platform.call(
        "POST", f"/v1/mass-messages/{job['id']}/confirm", {"confirmation_token": job["confirmation_token"]}
    )

    # GIVEN a fan-out that dies in the middle of page 3 (two of its messages written)
    crashing = fanout_with(platform, CrashOnce(platform.table("MESSAGES_TABLE"), crash_on=3), page_size=5)
    with pytest.raises(TimeoutError):
        crashing.run(FanOutWork(job_id=job["id"]), remaining_ms=lambda: 900_000)

    # WHEN the retried work item runs (here: the fan-out queue's copy, through the handler), once the
    # dead writer's hold on the page has run out
    jobs = platform.table("JOBS_TABLE")
    jobs.update_item(Key={"job_id": job["id"]}, UpdateExpression="SET page_writer_until = :past",
                     ExpressionAttributeValues={":past": 0})  # fmt: skip
    platform.run_fanout()

    # THEN every number has exactly one message and exactly one SMS
    progress = ok(platform, "GET", f"/v1/mass-messages/{job['id']}")
    assert progress["status"] == "queued"
    assert progress["created_messages"] == 26
    assert platform.table("MESSAGES_TABLE").scan()["Count"] == 26
    assert platform.ready_count() == 26
    platform.run_dispatchers()
    destinations = [record.destination for record in platform.simulator.records]
    assert len(destinations) == len(set(destinations)) == 26


def test_a_fanout_pauses_while_its_code_has_minutes_of_sending_ready(platform: Platform, sites):
    # GIVEN a mass message whose sending number is slow (one part in 20 s: 0.05 parts/s), 12 recipients
    many_contacts(platform, 12)
    code = platform.demo.sending_number
    config = ConfigTable(platform.table("CONFIG_TABLE"))
    slow = config.get_transport_code(code)
    assert slow is not None
    config.put_transport_code(slow.model_copy(update={"parts_per_second": Decimal("0.05")}))
    job = create(platform, {**OUTAGE, "filters": {}})
    platform.call(
        "POST", f"/v1/mass-messages/{job['id']}/confirm", {"confirmation_token": job["confirmation_token"]}
    )

    # WHEN the fan-out writes pages of 4 with a backlog bound of 60 s (3 messages at that rate)
    fanout = fanout_with(platform, MessagesTable(platform.table("MESSAGES_TABLE")), page_size=4)
    fanout._backlog_seconds = 60
    result = fanout.run(FanOutWork(job_id=job["id"]), remaining_ms=lambda: 900_000)

    # THEN it stopped after the first page and waits in its checkpoint (queued again, delayed)
    assert (result.pages, result.paused, result.finished) == (1, True, False)
    assert platform.ready_count(code) == 4


def test_a_long_fanout_hands_over_to_its_next_invocation(platform: Platform, sites):
    many_contacts(platform, 12)
    job = create(platform, {**OUTAGE, "filters": {}})
    platform.call(
        "POST", f"/v1/mass-messages/{job['id']}/confirm", {"confirmation_token": job["confirmation_token"]}
    )
    fanout = fanout_with(platform, MessagesTable(platform.table("MESSAGES_TABLE")), page_size=4)
    first = fanout.run(FanOutWork(job_id=job["id"]), remaining_ms=lambda: 1_000)  # nearly out of time
    assert (first.pages, first.handed_over, first.finished) == (1, True, False)
    assert platform.run_fanout() >= 1  # the confirmation's item and the handover's continue it
    assert ok(platform, "GET", f"/v1/mass-messages/{job['id']}")["created_messages"] == 15


def test_a_fanout_starts_its_codes_dispatcher_as_soon_as_its_first_messages_are_ready(
    platform: Platform, sites
):
    # GIVEN a confirmed mass message, and no dispatcher running
    job = create(platform)
    ok(platform, "POST", f"/v1/mass-messages/{job['id']}/confirm",
       {"confirmation_token": job["confirmation_token"]}, status=202)  # fmt: skip
    assert platform.started.codes == []
    # WHEN its fan-out writes its page (the stream's kicks are not run)
    platform.run_fanout()
    # THEN its sending number's dispatcher was started once, by the fan-out itself
    sending_number = ok(platform, "GET", f"/v1/mass-messages/{job['id']}")["sending_number"]
    assert platform.started.codes == [sending_number]
