"""Sending through one dispatcher per transport code: pace, lanes, the lease, crashes, rules.

The carrier simulator's records are the measure (it times a message when its call arrives).
"""

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import boto3
import pytest

from functions.dal.config import ConfigTable
from functions.dal.leases import LeasesTable
from functions.dal.opt_outs import GLOBAL_SCOPE, OptOut, OptOutsTable
from functions.domain.ledger import EntryKind
from functions.domain.segments import count_segments
from functions.domain.tenants import Contact, ContactPhone, EntityType
from functions.handlers import dispatcher as dispatcher_handler
from functions.logic.dispatch import Dispatcher
from local.carrier import SentRecord, busiest_windows
from local.demo import OPERATOR_API_KEY
from tests.integration.balances import entries, of_kind
from tests.integration.conftest import Platform

TICKET = "/v1/triggers/ticket_updated"
CODE = "+18005550100"  # the demo tenant's default sending number


def ticket_update(status_text: str) -> dict:
    return {
        "contact_id": "contact-ada",
        "variables": {"company": "Demo Fiber", "ticket_number": "42", "ticket_status": status_text},
    }


def subscriber(n: int) -> Contact:
    return Contact(
        contact_id=f"sub-{n}",
        name=f"Subscriber {n}",
        contact_type="Primary",
        related_entity_type=EntityType.NETWORK_SITE,
        related_entity_id="site-east",
        related_entity_name="East",
        phones=[ContactPhone(number=f"+1416555{1000 + n}", number_type="Mobile", sms_opt_in=True)],
    )


def register(platform: Platform, number: str, **body) -> dict:
    status, code = platform.call("PUT", f"/v1/operator/transport-codes/{number}", body, key=OPERATOR_API_KEY)
    assert status == 200, code
    return code


def statuses(platform: Platform, ids: list[str]) -> list[str]:
    return [platform.call("GET", f"/v1/messages/{message_id}")[1]["status"] for message_id in ids]


def mass_send(platform: Platform, recipients: int) -> list[str]:
    """A confirmed two-part outage notice to ``recipients`` subscribers, fanned out; its message ids."""
    config = ConfigTable(platform.table("CONFIG_TABLE"))
    config.put_contacts("demo-isp", [subscriber(n) for n in range(recipients)])
    status, job = platform.call(
        "POST",
        "/v1/mass-messages",
        {
            "saved_message": "unplanned_outage_no_eta",
            "outage_start": "2026-12-01T02:00:00-05:00",
            "variables": {"company": "Demo Fiber"},
            "filters": {"network_site_ids": ["site-east"]},
        },
    )
    assert status == 202, job
    assert job["preview"]["recipients"] == recipients
    assert job["preview"]["segments_per_message"] == 2
    status, _ = platform.call(
        "POST", f"/v1/mass-messages/{job['id']}/confirm", {"confirmation_token": job["confirmation_token"]}
    )
    assert status == 202
    platform.run_fanout()
    assert platform.ready_count(CODE) == recipients
    _, listed = platform.call("GET", f"/v1/messages?job_id={job['id']}&limit=100")
    return [message["id"] for message in listed["items"]]


# ---- the pace ----


def test_a_dispatcher_never_puts_more_parts_in_a_second_than_the_code_allows(platform: Platform, monkeypatch):
    # With no margin (the default): each call counts until one second after its answer, however long
    # its request took to arrive in this busy interpreter.
    monkeypatch.delenv("DISPATCH_WINDOW_MARGIN_MS", raising=False)
    dispatcher_handler.reset()
    # GIVEN a code of 6 parts per second and a mix of one-, two- and three-part messages
    register(platform, CODE, parts_per_second=6)
    platform.simulator.settings.parts_per_second[CODE] = 6
    # AND a wire that delays each request 0-60 ms before the carrier times it
    platform.simulator.settings.latency_ms = (0.0, 60.0)
    texts = ["open", "x" * 120, "y" * 280] * 6
    ids = [platform.send(TICKET, ticket_update(text))["id"] for text in texts]
    parts = [platform.call("GET", f"/v1/messages/{i}")[1]["segments"] for i in ids]
    assert sorted(set(parts)) == [1, 2, 3]

    # WHEN its dispatcher sends them, every carrier call timed as it leaves
    calls: list[SentRecord] = []

    def leaving(params: dict[str, Any], **_: Any) -> None:
        body = json.loads(params["body"])
        parts = count_segments(body["MessageBody"]).segments
        calls.append(SentRecord(time.time(), body["OriginationIdentity"], "", "", parts, "", None, {}))

    session = boto3._get_default_session()
    session.events.register("before-call.pinpoint-sms-voice-v2.SendTextMessage", leaving)
    dispatcher_handler.reset()  # its carrier client is made afresh, with the hook
    try:
        platform.run_dispatchers()
    finally:
        session.events.unregister("before-call.pinpoint-sms-voice-v2.SendTextMessage", leaving)

    # THEN the dispatcher never called with more than 6 parts in a second; the carrier saw every part,
    # never more than 6 in any one-second window of arrivals, and never had to refuse a call
    assert busiest_windows(calls, CODE, 6).busiest <= 6
    report = busiest_windows(platform.simulator.records, CODE, 6)
    assert report.parts == sum(parts) == 36
    assert report.busiest <= 6
    assert report.violations == 0
    assert platform.simulator.throttled == 0
    assert len(calls) == len(ids)
    span = max(r.at for r in platform.simulator.records) - min(r.at for r in platform.simulator.records)
    assert (36 - 6) / 6 <= span <= (36 - 6) / 6 * 1.1 + 1.5  # paced, and at about the limit's pace
    assert sorted(r.context["message_id"] for r in platform.simulator.records) == sorted(ids)


def test_a_carrier_call_is_tried_once_and_holds_its_code_no_longer_than_its_read_timeout(platform: Platform):
    # A call counts against its code until a second after its answer: a hung one must end soon
    dispatcher_handler.reset()
    config = dispatcher_handler._parts()["carrier"]._client.meta.config
    assert config.retries["total_max_attempts"] == 1
    assert (config.connect_timeout, config.read_timeout) == (
        dispatcher_handler.CARRIER_CONNECT_TIMEOUT_SECONDS,
        dispatcher_handler.CARRIER_READ_TIMEOUT_SECONDS,
    )
    assert dispatcher_handler.CARRIER_READ_TIMEOUT_SECONDS <= 10


def test_a_message_longer_than_the_codes_limit_goes_alone_and_the_code_waits_after_it(platform: Platform):
    register(platform, CODE, parts_per_second=1)
    platform.simulator.settings.parts_per_second[CODE] = 1
    long = platform.send(TICKET, ticket_update("z" * 280))
    short = platform.send(TICKET, ticket_update("done"))

    platform.run_dispatchers()

    first, second = sorted(platform.simulator.records, key=lambda record: record.at)
    assert (first.context["message_id"], second.context["message_id"]) == (long["id"], short["id"])
    assert (first.parts, second.parts) == (3, 1)
    assert second.at - first.at >= 3.0  # three parts at one part per second
    assert busiest_windows(platform.simulator.records, CODE, 1).violations == 0


def test_a_throttling_carrier_backs_the_code_off_and_loses_nothing(platform: Platform):
    # GIVEN the registry believes 20 parts per second, but the carrier allows 3
    register(platform, CODE, parts_per_second=20)
    platform.simulator.settings.parts_per_second[CODE] = 3
    ids = [platform.send(TICKET, ticket_update(f"step {n}"))["id"] for n in range(8)]

    platform.run_dispatchers()

    assert platform.simulator.throttled > 0  # refused, backed off and sent again
    assert sorted(r.context["message_id"] for r in platform.simulator.records) == sorted(ids)  # once each
    assert statuses(platform, ids) == ["Sent"] * 8
    assert len(of_kind(entries(platform), EntryKind.DEBIT)) == 8  # paid once each, throttled or not


def test_a_code_whose_carrier_is_slower_than_its_registry_slows_to_the_carriers_pace(platform: Platform):
    # GIVEN the registry believes 20 parts per second, but the carrier allows 3, and 30 single-part
    # messages: 10 s at the carrier's pace
    register(platform, CODE, parts_per_second=20)
    platform.simulator.settings.parts_per_second[CODE] = 3
    ids = [platform.send(TICKET, ticket_update(f"step {n}"))["id"] for n in range(30)]

    # WHEN its dispatcher sends them
    started = time.time()
    platform.run_dispatchers()

    # THEN each went once, and at about the carrier's pace: the code slowed down to what the
    # carrier takes instead of pausing ever longer between bursts it refuses
    records = sorted(platform.simulator.records, key=lambda record: record.at)
    assert sorted(r.context["message_id"] for r in records) == sorted(ids)
    assert records[-1].at - started < 25.0  # 10 s at the carrier's pace; minutes before the change
    assert platform.simulator.throttled > 0


def test_a_lone_triggered_message_goes_at_once(platform: Platform):
    # GIVEN an idle code and a triggered message; WHEN its dispatcher starts
    created = platform.send(TICKET, ticket_update("open"))
    dispatcher = platform.dispatcher()
    started = time.time()
    dispatcher.run()

    # THEN the carrier had it well within half a second (lease, index read, claim, send: no slot to wait for)
    (record,) = platform.simulator.records
    assert record.context["message_id"] == created["id"]
    assert record.at - started < 0.5
    history = platform.call("GET", f"/v1/messages/{created['id']}")[1]["history"]
    assert [change["status"] for change in history] == ["Pending", "In Progress", "Sent"]


def test_triggered_messages_go_first_under_a_bulk_backlog(platform: Platform):
    # GIVEN a mass message of two parts to 30 recipients: 15 s on a 4-part-per-second code
    register(platform, CODE, parts_per_second=4)
    platform.simulator.settings.parts_per_second[CODE] = 4
    mass = mass_send(platform, 30)

    # WHEN a triggered message arrives three seconds into the mass send
    dispatcher = platform.dispatcher()
    runner = threading.Thread(target=dispatcher.run)
    runner.start()
    while len(platform.simulator.records) < 6:
        time.sleep(0.05)
    triggered = platform.send(TICKET, ticket_update("resolved"))
    ready_at = time.time()
    runner.join(timeout=60)

    # THEN it goes out ahead of the queued bulk messages (the next claim takes it first), long before
    # the backlog ends (its latency is the pacing benchmark's measure; here only a loose bound)
    records = sorted(platform.simulator.records, key=lambda record: record.at)
    (record,) = [r for r in records if r.context["message_id"] == triggered["id"]]
    assert record.at - ready_at < 5.0
    assert records.index(record) < 15
    assert sorted(r.context["message_id"] for r in records) == sorted([*mass, triggered["id"]])
    assert busiest_windows(records, CODE, 4).violations == 0


def test_the_triggered_lane_is_read_as_the_codes_next_slot_opens(platform: Platform, monkeypatch):
    # GIVEN two-part bulk messages on a one-part-per-second code: each goes alone, then the code
    # waits two seconds
    register(platform, CODE, parts_per_second=1)
    platform.simulator.settings.parts_per_second[CODE] = 1
    mass = mass_send(platform, 4)
    dispatcher = platform.dispatcher(idle_seconds=0.5)
    reads: list[float] = []
    read = dispatcher._messages.triggered_page

    def counted(code: str, limit: int) -> Any:
        reads.append(time.time())
        return read(code, limit)

    monkeypatch.setattr(dispatcher._messages, "triggered_page", counted)

    # WHEN a triggered message arrives while the code waits after the first
    runner = threading.Thread(target=dispatcher.run)
    runner.start()
    while not platform.simulator.records:
        time.sleep(0.02)
    time.sleep(0.3)
    triggered = platform.send(TICKET, ticket_update("done"))
    ready_at = time.time()
    runner.join(timeout=60)

    # THEN the lane was read only as a slot came near, never in the middle of a wait (each read is
    # followed within a second by a send: a read mid-wait is more), and the message took the next slot
    records = sorted(platform.simulator.records, key=lambda record: record.at)
    assert sorted(r.context["message_id"] for r in records) == sorted([*mass, triggered["id"]])
    assert reads
    for at in reads:
        assert any(at <= record.at <= at + 1.0 for record in records), (at, [r.at for r in records])
    (record,) = [r for r in records if r.context["message_id"] == triggered["id"]]
    assert records.index(record) == 1
    assert record.at - ready_at < 2.5
    assert busiest_windows(records, CODE, 1).violations == 0


# ---- the rules at sending time ----


def test_an_opt_out_after_a_message_was_created_still_wins(platform: Platform):
    created = platform.send(TICKET, ticket_update("open"))
    OptOutsTable(platform.table("OPT_OUTS_TABLE")).add(
        OptOut(
            scope=GLOBAL_SCOPE,
            phone_number="+14165550123",
            opted_out_at=datetime.now(UTC),
            source="keyword",
            actor="test",
        )
    )

    platform.run_dispatchers()

    _, message = platform.call("GET", f"/v1/messages/{created['id']}")
    assert (message["status"], message["reject_reason"]) == ("Failed", "opted out")
    assert platform.simulator.records == []
    assert of_kind(entries(platform), EntryKind.DEBIT) == []  # refused before it was paid for


def test_a_carrier_opt_out_is_copied_into_the_opt_out_list(platform: Platform):
    # GIVEN a number the carrier holds as opted out (ConflictException DESTINATION_PHONE_NUMBER_OPTED_OUT)
    platform.simulator.settings.opted_out.add("+14165550123")
    first = platform.send(TICKET, ticket_update("open"))

    # WHEN its message is refused
    platform.run_dispatchers()

    # THEN the number is in the opt-out list, in the code's scope, from the carrier
    found = OptOutsTable(platform.table("OPT_OUTS_TABLE")).get(GLOBAL_SCOPE, "+14165550123")
    assert found is not None
    assert (found.source, found.tenant_id) == ("carrier", "demo-isp")
    assert platform.call("GET", f"/v1/messages/{first['id']}")[1]["reject_reason"] == "opted out"
    # AND the next message to it is refused at creation, not tried at the carrier again
    status, refused = platform.call("POST", TICKET, ticket_update("again"))
    assert (status, refused["reason"]) == (409, "opted_out")
    assert len(platform.simulator.records) == 0


def test_a_message_that_waited_past_its_validity_fails_as_expired(platform: Platform):
    created = platform.send(TICKET, ticket_update("stale"))
    messages = platform.table("MESSAGES_TABLE")
    long_ago = (datetime.now(UTC) - timedelta(hours=5)).isoformat()
    messages.update_item(
        Key={"message_id": created["id"]},
        UpdateExpression="SET created_at = :then",
        ExpressionAttributeValues={":then": long_ago},
    )

    platform.run_dispatchers()

    _, message = platform.call("GET", f"/v1/messages/{created['id']}")
    assert (message["status"], message["reject_reason"]) == ("Failed", "expired")
    assert platform.simulator.records == []
    assert platform.ready_count() == 0


def test_a_daily_cap_holds_what_exceeds_it_for_the_next_day(platform: Platform):
    register(platform, CODE, parts_per_second=20, daily_cap_parts=2)
    ids = [platform.send(TICKET, ticket_update(f"n{n}"))["id"] for n in range(3)]

    platform.run_dispatchers()
    platform.dispatcher().run()  # a second dispatcher knows the day's count from the lease

    assert sorted(statuses(platform, ids)) == ["Pending", "Sent", "Sent"]
    assert platform.ready_count() == 1  # still ready for tomorrow: not failed, not lost, not paid
    assert len(of_kind(entries(platform), EntryKind.DEBIT)) == 2
    lease = LeasesTable(platform.table("LEASES_TABLE")).get(CODE)
    assert lease is not None
    assert lease.day_parts == 2


def test_segments_are_what_the_carrier_counts():
    assert count_segments("y" * 400).segments == 3


# ---- the lease: one dispatcher per code ----


def test_two_dispatchers_started_for_one_code_never_both_send(platform: Platform):
    # GIVEN ready messages and two dispatchers started for their code at the same moment
    ids = [platform.send(TICKET, ticket_update(f"n{n}"))["id"] for n in range(6)]
    first, second = platform.dispatcher(), platform.dispatcher()
    reports = []
    barrier = threading.Barrier(2)

    def run(dispatcher: Dispatcher) -> None:
        barrier.wait()
        reports.append(dispatcher.run())

    threads = [threading.Thread(target=run, args=(d,)) for d in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # THEN exactly one held the lease and sent, each message once
    assert sorted(report.started for report in reports) == [False, True]
    assert sorted(r.context["message_id"] for r in platform.simulator.records) == sorted(ids)


def test_a_dispatcher_that_lost_its_lease_claims_nothing(platform: Platform):
    # GIVEN a dispatcher whose lease another took over (it paused past its expiry)
    platform.send(TICKET, ticket_update("open"))
    leases = LeasesTable(platform.table("LEASES_TABLE"))
    stale = leases.acquire(CODE, "paused", 0, 1)  # expired at once
    assert stale is not None
    current = leases.acquire(CODE, "current", int(time.time() * 1000), 60_000)
    assert current is not None
    assert current.token == stale.token + 1

    # WHEN a dispatcher still holding the old token claims: the claim's lease check refuses it
    dispatcher = platform.dispatcher()
    commit = dispatcher._claims.claim(stale, int(time.time() * 1000), [], None)
    assert commit.result.value == "lease_lost"
    # AND a new dispatcher cannot start while the lease is live
    assert dispatcher.run().started is False
    assert platform.simulator.records == []


# ---- the transport code registry ----


def test_the_operator_registers_a_transport_code_and_the_tenants_it_serves(platform: Platform):
    status, code = platform.call(
        "PUT",
        "/v1/operator/transport-codes/%2B18335550199",
        {
            "parts_per_second": 0.2,
            "daily_cap_parts": 2000,
            "opt_out_scope": "dnc:acme",
            "tenant_ids": ["demo-isp"],
        },
        key=OPERATOR_API_KEY,
    )
    assert status == 200, code
    assert code["kind"] == "toll_free"  # read from the number
    assert code["parts_per_second"] == 0.2  # a JSON number, as it was given (it can be put back as it is)
    assert code["tenant_ids"] == ["demo-isp"]
    assert code["default_for"] == []
    _, settings = platform.call("GET", "/v1/settings")
    assert "+18335550199" in settings["sending_numbers"]

    _, listed = platform.call("GET", "/v1/operator/transport-codes", key=OPERATOR_API_KEY)
    assert {c["number"] for c in listed} >= {"+18005550100", "+18335550199", "55501"}
    assert (
        platform.call("DELETE", "/v1/operator/transport-codes/+18335550199", key=OPERATOR_API_KEY)[0] == 409
    )

    register(platform, "+18335550199", tenant_ids=[])
    _, settings = platform.call("GET", "/v1/settings")
    assert "+18335550199" not in settings["sending_numbers"]
    assert (
        platform.call("DELETE", "/v1/operator/transport-codes/+18335550199", key=OPERATOR_API_KEY)[0] == 204
    )
    assert platform.call("GET", "/v1/operator/transport-codes/+18335550199", key=OPERATOR_API_KEY)[0] == 404


def test_a_number_given_to_a_tenant_is_registered_with_its_kinds_carrier_default(platform: Platform):
    status, _ = platform.call(
        "PATCH",
        "/v1/operator/tenants/demo-isp",
        {"sending_numbers": ["+18005550100", "+1 416 555 0142"]},
        key=OPERATOR_API_KEY,
    )
    assert status == 200
    _, code = platform.call("GET", "/v1/operator/transport-codes/+14165550142", key=OPERATOR_API_KEY)
    assert (code["kind"], code["parts_per_second"]) == ("long_code", 1)


@pytest.mark.parametrize(
    ("number", "kind"),
    [
        ("55503", "toll_free"),  # a short code paced as toll-free: 3 parts/s instead of 100
        ("55503", "long_code"),
        ("+14165550998", "short_code"),  # a Toronto long code at a short code's 100 parts/s
        ("+14165550998", "toll_free"),
        ("+18335550111", "long_code"),  # a toll-free number
    ],
)
def test_a_kind_that_contradicts_the_number_is_refused(platform: Platform, number: str, kind: str):
    # WHEN the operator registers a number as a kind its form is not
    status, problem = platform.call(
        "PUT", f"/v1/operator/transport-codes/{quote(number)}", {"kind": kind}, key=OPERATOR_API_KEY
    )
    # THEN it is refused naming the kind, and nothing is registered
    assert (status, problem["field"]) == (400, "kind"), problem
    assert (
        platform.call("GET", f"/v1/operator/transport-codes/{quote(number)}", key=OPERATOR_API_KEY)[0] == 404
    )
    # AND the kind the number has is accepted, given or not
    status, code = platform.call(
        "PUT", f"/v1/operator/transport-codes/{quote(number)}", {}, key=OPERATOR_API_KEY
    )
    assert status == 200, code
    again = platform.call(
        "PUT", f"/v1/operator/transport-codes/{quote(number)}", {"kind": code["kind"]}, key=OPERATOR_API_KEY
    )
    assert again[0] == 200, again


def test_bad_transport_codes_are_refused_naming_the_field_and_change_nothing(platform: Platform):
    cases = [
        ({"parts_per_second": 0}, 422, "body.parts_per_second"),
        ({"parts_per_second": "fast"}, 422, "body.parts_per_second"),
        ({"daily_cap_parts": -5}, 422, "body.daily_cap_parts"),
        ({"kind": "pigeon"}, 422, "body.kind"),
        ({"opt_out_scope": "DNC group"}, 400, "opt_out_scope"),
        ({"tenant_ids": ["nobody"]}, 400, "tenant_ids.0"),
    ]
    for body, expected, field in cases:
        status, problem = platform.call(
            "PUT", "/v1/operator/transport-codes/+18335550111", body, key=OPERATOR_API_KEY
        )
        assert (status, problem["field"]) == (expected, field), (body, problem)
    status, problem = platform.call("PUT", "/v1/operator/transport-codes/12", {}, key=OPERATOR_API_KEY)
    assert (status, problem["field"]) == (400, "number")
    assert platform.call("GET", "/v1/operator/transport-codes/+18335550111", key=OPERATOR_API_KEY)[0] == 404
    assert platform.call("GET", "/v1/operator/transport-codes")[0] == 403  # a tenant key


def test_an_opt_out_while_a_slow_codes_claimed_batch_waits_for_its_slots_still_wins(platform: Platform):
    # GIVEN four messages to one number on a code of one part every 4 s, claimed in one batch
    register(platform, CODE, parts_per_second=0.25)
    platform.simulator.settings.parts_per_second[CODE] = 0.25
    ids = [platform.send(TICKET, ticket_update(f"step {n}"))["id"] for n in range(4)]
    dispatcher = platform.dispatcher()
    runner = threading.Thread(target=dispatcher.run)
    runner.start()

    # WHEN the number opts out once the first has gone
    deadline = time.time() + 10
    while not platform.simulator.records and time.time() < deadline:
        time.sleep(0.02)
    OptOutsTable(platform.table("OPT_OUTS_TABLE")).add(
        OptOut(scope=GLOBAL_SCOPE, phone_number="+14165550123", opted_out_at=datetime.now(UTC),
               source="keyword", actor="test")
    )  # fmt: skip
    runner.join(timeout=30)

    # THEN what was still waiting in the queue was not sent: Failed (opted out) and refunded
    sent = [record.context["message_id"] for record in platform.simulator.records]
    assert sent[0] == ids[0]
    assert len(sent) <= 2  # the next slot may come before the queue's numbers are read again
    unsent = [message_id for message_id in ids if message_id not in sent]
    for message_id in unsent:
        _, message = platform.call("GET", f"/v1/messages/{message_id}")
        assert (message["status"], message["reject_reason"]) == ("Failed", "opted out")
    refunded = {entry.message_id for entry in of_kind(entries(platform), EntryKind.REFUND)}
    assert refunded == set(unsent)
