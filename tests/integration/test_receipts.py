"""Delivery receipts through SNS and the receipts queue: reasons mapped, late, repeated, out of order."""

from __future__ import annotations

import json
import time

from infra.constants import RECEIPTS_DLQ_ID, RECEIPTS_QUEUE_ID
from local.carrier import SentRecord
from local.provision import event_destinations
from tests.integration.conftest import Platform

TRIGGER = "/v1/triggers/payment_received"


def sent_messages(platform: Platform, count: int) -> list[tuple[str, SentRecord]]:
    """``count`` messages to Ada, sent, with no delivery event of their own yet."""
    platform.simulator.settings.receipt_delay_seconds = 3600.0  # their own receipts never come
    ids = [
        platform.send(TRIGGER, {"contact_id": "contact-ada", "variables": {"company": "D", "amount": n}})[
            "id"
        ]
        for n in range(count)
    ]
    platform.run_dispatchers()
    by_id = {record.context["message_id"]: record for record in platform.simulator.records}
    return [(message_id, by_id[message_id]) for message_id in ids]


def deliver(platform: Platform, *events: tuple[SentRecord, str]) -> None:
    """The carrier's events, published and applied in this order."""
    for record, event_type in events:
        platform.simulator.schedule_event(record, event_type)
    platform.simulator.pump(now=time.time())
    poller = platform.poller(RECEIPTS_QUEUE_ID, "receipts", batch_size=1)  # one at a time: in order
    while poller.poll_once():
        pass


def message(platform: Platform, message_id: str) -> dict:
    return platform.call("GET", f"/v1/messages/{message_id}")[1]


def test_each_failure_event_maps_to_its_reject_reason(platform: Platform):
    outcomes = {
        "TEXT_TTL_EXPIRED": "expired",
        "TEXT_SPAM": "spam",
        "TEXT_BLOCKED": "blocked",
        "TEXT_CARRIER_UNREACHABLE": "unreachable",
        "TEXT_UNKNOWN": "unknown",
    }
    sent = sent_messages(platform, len(outcomes) + 1)
    deliver(platform, *[(record, event) for (_, record), event in zip(sent, outcomes, strict=False)])
    deliver(platform, (sent[-1][1], "TEXT_DELIVERED"))
    for (message_id, _), reason in zip(sent, outcomes.values(), strict=False):
        found = message(platform, message_id)
        assert (found["status"], found["reject_reason"]) == ("Failed", reason), found
        assert found["history"][-1]["detail"]  # the carrier's description is kept
    assert message(platform, sent[-1][0])["status"] == "Delivered"
    assert platform.queue_depth(RECEIPTS_DLQ_ID) == 0


def test_late_repeated_and_out_of_order_events_never_move_a_final_status(platform: Platform):
    (delivered_id, delivered), (failed_id, failed) = sent_messages(platform, 2)

    # Delivered, then the same event again, then a late failure
    deliver(
        platform, (delivered, "TEXT_DELIVERED"), (delivered, "TEXT_DELIVERED"), (delivered, "TEXT_BLOCKED")
    )
    # Failed as spam, then a delivery event that arrives after it
    deliver(platform, (failed, "TEXT_SPAM"), (failed, "TEXT_DELIVERED"), (failed, "TEXT_SPAM"))
    # A progress event (not final) arriving after the end: the carrier's destination does not even carry
    # it, so it is published to the topic directly, as a misconfigured destination would
    ((topic, _),) = next(iter(event_destinations(platform.topology, platform.provisioned).values()))
    late = {
        "eventType": "TEXT_QUEUED",
        "context": {"message_id": delivered_id},
        "messageStatusDescription": "queued",
    }
    platform.session.client("sns").publish(TopicArn=topic, Message=json.dumps(late))
    deliver(platform)

    first = message(platform, delivered_id)
    assert first["status"] == "Delivered"
    assert [change["status"] for change in first["history"]] == [
        "Pending",
        "In Progress",
        "Sent",
        "Delivered",
    ]
    second = message(platform, failed_id)
    assert (second["status"], second["reject_reason"]) == ("Failed", "spam")
    assert [change["status"] for change in second["history"]] == ["Pending", "In Progress", "Sent", "Failed"]
    assert platform.queue_depth(RECEIPTS_DLQ_ID) == 0
