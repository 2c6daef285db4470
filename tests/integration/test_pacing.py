"""Pacing per transport code across concurrent senders, measured by the carrier simulator's records."""

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from functions.dal.config import ConfigTable
from functions.domain.ledger import EntryKind
from functions.domain.segments import count_segments
from functions.domain.tenants import Contact, ContactPhone, EntityType
from infra.constants import BULK_DLQ_ID, BULK_QUEUE_ID, SEND_DLQ_ID, SEND_QUEUE_ID
from local.carrier import busiest_windows
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


def all_sent(platform: Platform, ids: list[str]):
    return lambda: all(status == "Sent" for status in statuses(platform, ids))


def test_concurrent_senders_never_put_more_parts_in_a_second_than_the_code_allows(platform: Platform):
    # GIVEN a code of 6 parts per second and a mix of one-, two- and three-part messages
    register(platform, CODE, parts_per_second=6)
    platform.simulator.settings.parts_per_second[CODE] = 6
    texts = ["open", "x" * 120, "y" * 280] * 6
    ids = [platform.send(TICKET, ticket_update(text))["id"] for text in texts]
    parts = [platform.call("GET", f"/v1/messages/{i}")[1]["segments"] for i in ids]
    assert sorted(set(parts)) == [1, 2, 3]

    # WHEN four sender instances per lane drain them at once
    platform.run_senders_concurrently(all_sent(platform, ids), instances=4)

    # THEN the carrier saw every part, never more than 6 in any one-second window, and throttled nothing
    report = busiest_windows(platform.simulator.records, CODE, 6)
    assert report.parts == sum(parts) == 36
    assert report.busiest <= 6
    assert report.violations == 0
    assert platform.simulator.throttled == 0
    span = max(r.at for r in platform.simulator.records) - min(r.at for r in platform.simulator.records)
    assert span >= (36 - 6) / 6 * 0.95  # it really was paced, not merely lucky
    print(f"36 parts at 6/s: {span:.2f} s from the first send to the last (ideal {30 / 6 / 0.95:.2f})")
    assert platform.queue_depth(SEND_DLQ_ID) == platform.queue_depth(BULK_DLQ_ID) == 0


def test_a_message_longer_than_the_codes_limit_goes_alone_and_the_code_waits_after_it(platform: Platform):
    register(platform, CODE, parts_per_second=1)
    platform.simulator.settings.parts_per_second[CODE] = 1
    long = platform.send(TICKET, ticket_update("z" * 280))
    short = platform.send(TICKET, ticket_update("done"))

    platform.run_senders_concurrently(all_sent(platform, [long["id"], short["id"]]), instances=2)

    first, second = sorted(platform.simulator.records, key=lambda record: record.at)
    assert (first.parts, second.parts) == (3, 1)
    assert second.at - first.at >= 3.0  # three parts at one part per second
    assert busiest_windows(platform.simulator.records, CODE, 1).violations == 0


def test_a_throttling_carrier_delays_messages_but_loses_none_and_fills_no_dlq(platform: Platform):
    # GIVEN the registry believes 20 parts per second, but the carrier allows 3
    register(platform, CODE, parts_per_second=20)
    platform.simulator.settings.parts_per_second[CODE] = 3
    ids = [platform.send(TICKET, ticket_update(f"step {n}"))["id"] for n in range(8)]

    platform.run_senders_concurrently(all_sent(platform, ids), instances=2, timeout=40)

    assert platform.simulator.throttled > 0  # refused, backed off and retried
    assert len(platform.simulator.records) == 8  # each sent exactly once
    assert platform.queue_depth(SEND_DLQ_ID) == 0
    history = platform.call("GET", f"/v1/messages/{ids[-1]}")[1]["history"]
    assert history[-1]["status"] == "Sent"


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
    assert platform.queue_depth(BULK_QUEUE_ID) == recipients
    _, listed = platform.call("GET", f"/v1/messages?job_id={job['id']}&limit=100")
    return [message["id"] for message in listed["items"]]


def test_triggered_messages_are_served_while_a_mass_send_holds_a_backlog(platform: Platform):
    # GIVEN a mass message of two parts to 40 recipients: 20 s on a 4-part-per-second code
    register(platform, CODE, parts_per_second=4)
    platform.simulator.settings.parts_per_second[CODE] = 4
    mass_send(platform, 40)

    # WHEN a triggered message arrives four seconds into the mass send
    holder: dict[str, str] = {}

    def triggered_sent() -> bool:
        if "id" not in holder and len(platform.simulator.records) >= 8:
            holder["id"] = platform.send(TICKET, ticket_update("resolved"))["id"]
            holder["at"] = str(datetime.now(UTC).timestamp())
        return "id" in holder and statuses(platform, [holder["id"]]) == ["Sent"]

    platform.run_senders_concurrently(triggered_sent, instances=4, timeout=30)

    # THEN it goes out within a few seconds, long before the mass send's backlog is done
    (record,) = [r for r in platform.simulator.records if r.context["message_id"] == holder["id"]]
    assert record.at - float(holder["at"]) < 7.0
    mass_sent = [r for r in platform.simulator.records if r.context["message_id"] != holder["id"]]
    assert len(mass_sent) < 30
    assert busiest_windows(platform.simulator.records, CODE, 4).violations == 0


def test_a_mass_send_is_claimed_and_paid_only_as_far_ahead_as_the_lookahead(platform: Platform, monkeypatch):
    # GIVEN 30 two-part messages on a 2-part-per-second code (30 s of sending) and a 4 s lookahead
    monkeypatch.setenv("PACING_LOOKAHEAD_SECONDS", "4")
    register(platform, CODE, parts_per_second=2)
    platform.simulator.settings.parts_per_second[CODE] = 2
    ids = mass_send(platform, 30)
    assert len(ids) == 30

    # WHEN the bulk lane's senders take what is on it now
    platform.run_senders(lanes=(BULK_QUEUE_ID,))

    # THEN the first batch was claimed, paid and given slots; the rest wait on the queue unclaimed
    messages = [platform.call("GET", f"/v1/messages/{message_id}")[1] for message_id in ids]
    claimed = [m for m in messages if any(change["status"] == "In Progress" for change in m["history"])]
    unclaimed = [m for m in messages if [change["status"] for change in m["history"]] == ["Pending"]]
    assert len(claimed) == 10  # one batch: after it the code is booked about 10 s ahead
    assert len(unclaimed) == 20
    debits = of_kind(entries(platform), EntryKind.DEBIT)
    assert {entry.message_id for entry in debits} == {m["id"] for m in claimed}  # nobody else paid yet
    ticketed = [m for m in claimed if m["status"] == "Pending"]
    sent = [m for m in claimed if m["status"] == "Sent"]
    assert len(ticketed) + len(sent) == 10
    assert all("waiting for its slot" in m["history"][-1]["detail"] for m in ticketed)
    # A ticket waits on the triggered lane's queue, not behind the mass send's unclaimed backlog.
    assert platform.queue_depth(SEND_QUEUE_ID) == len(ticketed)
    assert platform.queue_depth(BULK_QUEUE_ID) == len(unclaimed)


def test_a_mass_send_longer_than_the_lookahead_goes_out_whole_once_within_the_limit(
    platform: Platform, monkeypatch
):
    monkeypatch.setenv("PACING_LOOKAHEAD_SECONDS", "2")
    register(platform, CODE, parts_per_second=4)
    platform.simulator.settings.parts_per_second[CODE] = 4
    ids = mass_send(platform, 16)  # 32 parts: 8 s at 4 parts per second

    platform.run_senders_concurrently(all_sent(platform, ids), instances=2, timeout=45)

    records = platform.simulator.records
    assert sorted(r.context["message_id"] for r in records) == sorted(ids)  # each exactly once
    assert busiest_windows(records, CODE, 4).violations == 0
    assert platform.simulator.throttled == 0
    debits = of_kind(entries(platform), EntryKind.DEBIT)
    assert sorted(entry.message_id for entry in debits) == sorted(ids)  # each paid once
    assert platform.queue_depth(SEND_DLQ_ID) == platform.queue_depth(BULK_DLQ_ID) == 0


def test_a_message_that_waited_past_its_validity_fails_as_expired(platform: Platform):
    created = platform.send(TICKET, ticket_update("stale"))
    messages = platform.table("MESSAGES_TABLE")
    long_ago = (datetime.now(UTC) - timedelta(hours=5)).isoformat()
    messages.update_item(
        Key={"message_id": created["id"]},
        UpdateExpression="SET created_at = :then",
        ExpressionAttributeValues={":then": long_ago},
    )

    platform.run_senders()

    _, message = platform.call("GET", f"/v1/messages/{created['id']}")
    assert (message["status"], message["reject_reason"]) == ("Failed", "expired")
    assert platform.simulator.records == []


def test_a_daily_cap_holds_what_exceeds_it_for_the_next_day(platform: Platform):
    register(platform, CODE, parts_per_second=20, daily_cap_parts=2)
    ids = [platform.send(TICKET, ticket_update(f"n{n}"))["id"] for n in range(3)]

    platform.run_senders()

    assert sorted(statuses(platform, ids)) == ["Pending", "Sent", "Sent"]
    assert platform.queue_depth(SEND_QUEUE_ID) == 1  # back on its queue, delayed; not failed, not lost


def test_segments_are_what_the_carrier_counts():
    assert count_segments("y" * 400).segments == 3


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
    assert code["parts_per_second"] == "0.2"  # a decimal string: never a float
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
    assert (code["kind"], code["parts_per_second"]) == ("long_code", "1")


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
