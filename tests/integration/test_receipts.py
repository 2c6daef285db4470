"""Delivery receipts through SNS and the receipts queue: reasons mapped, late, repeated, out of order."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import ClientError

from functions.dal.claims import ClaimsWriter
from functions.dal.leases import LeasesTable
from functions.dal.ledger import LedgerTable
from functions.dal.messages import MessagesTable, StatusMove
from functions.domain.messages import MessageStatus
from functions.handlers import receipts as receipts_handler
from functions.logic.receipts import SENT_BY_EVENT, Receipts
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


def deliver(platform: Platform, *events: tuple[SentRecord, str] | tuple[SentRecord, str, bool]) -> None:
    """The carrier's events (with ``isFinal`` when given), published and applied in this order."""
    for record, event_type, *is_final in events:
        platform.simulator.schedule_event(record, event_type, is_final=is_final[0] if is_final else None)
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


def history(platform: Platform, message_id: str) -> list[tuple[str, str | None]]:
    return [(change["status"], change.get("detail")) for change in message(platform, message_id)["history"]]


def test_a_final_successful_event_delivers_where_no_delivered_event_comes(platform: Platform):
    # GIVEN two sent messages: one to a destination whose carrier reports TEXT_SUCCESSFUL as its last
    # event (as in AWS's own example), one to a destination that will send TEXT_DELIVERED after it
    (alone_id, alone), (then_id, then) = sent_messages(platform, 2)

    # WHEN the events come as AWS sends them
    deliver(platform, (alone, "TEXT_SUCCESSFUL", True), (then, "TEXT_SUCCESSFUL", False))

    # THEN the final success delivered its message; the other is still Sent, the event in its history
    assert message(platform, alone_id)["status"] == "Delivered"
    assert message(platform, then_id)["status"] == "Sent"
    assert history(platform, then_id)[-1] == (
        "Sent",
        "TEXT_SUCCESSFUL: Message has been accepted by phone carrier",
    )

    # WHEN its final TEXT_DELIVERED comes
    deliver(platform, (then, "TEXT_DELIVERED", True))
    assert message(platform, then_id)["status"] == "Delivered"
    assert platform.queue_depth(RECEIPTS_DLQ_ID) == 0


def test_a_temporary_failure_records_history_and_the_message_waits_for_its_outcome(platform: Platform):
    # GIVEN two sent messages
    (later_ok_id, later_ok), (later_failed_id, later_failed) = sent_messages(platform, 2)

    # WHEN the carrier is unreachable for both, for now (isFinal false, as AWS documents it)
    deliver(
        platform,
        (later_ok, "TEXT_CARRIER_UNREACHABLE", False),
        (later_failed, "TEXT_CARRIER_UNREACHABLE", False),
    )

    # THEN neither ended
    for message_id in (later_ok_id, later_failed_id):
        found = message(platform, message_id)
        assert (found["status"], found["reject_reason"]) == ("Sent", None)
        assert history(platform, message_id)[-1][1].startswith("TEXT_CARRIER_UNREACHABLE")

    # WHEN one is delivered after all and the other's unreachable event comes final
    deliver(platform, (later_ok, "TEXT_DELIVERED", True), (later_failed, "TEXT_CARRIER_UNREACHABLE", True))
    assert message(platform, later_ok_id)["status"] == "Delivered"
    failed = message(platform, later_failed_id)
    assert (failed["status"], failed["reject_reason"]) == ("Failed", "unreachable")


def test_the_stack_subscribes_to_every_event_that_can_end_a_message(platform: Platform):
    ((_, event_types),) = next(iter(event_destinations(platform.topology, platform.provisioned).values()))
    assert {"TEXT_SUCCESSFUL", "TEXT_DELIVERED", "TEXT_CARRIER_UNREACHABLE", "TEXT_UNKNOWN"} <= set(
        event_types
    )


def test_the_simulator_reports_success_then_delivery_or_a_final_success_alone(platform: Platform):
    # GIVEN Ada's mobile reports no delivery receipts; Charles's does
    platform.simulator.settings.successful_is_final.add("+14165550123")
    ids = {
        contact: platform.send(TRIGGER, {"contact_id": contact, "variables": {"company": "D", "amount": 1}})[
            "id"
        ]
        for contact in ("contact-ada", "contact-charles")
    }

    # WHEN both are sent and their events come
    platform.run_dispatchers()
    platform.deliver_receipts()

    # THEN both are delivered: Ada's by a final TEXT_SUCCESSFUL alone, Charles's by the two events
    assert {message(platform, message_id)["status"] for message_id in ids.values()} == {"Delivered"}
    ada = [detail or "" for _, detail in history(platform, ids["contact-ada"])]
    charles = [detail or "" for _, detail in history(platform, ids["contact-charles"])]
    assert ada[-1].startswith("TEXT_SUCCESSFUL")
    assert not any(d.startswith("TEXT_DELIVERED") for d in ada)
    assert charles[-2].startswith("TEXT_SUCCESSFUL")
    assert charles[-1].startswith("TEXT_DELIVERED")


def test_a_message_still_sent_when_the_event_window_has_passed_fails_unknown(platform: Platform):
    # GIVEN three sent messages: one delivered, one whose events never come, one failed as spam
    (delivered_id, delivered), (silent_id, _), (spam_id, spam) = sent_messages(platform, 3)
    deliver(platform, (delivered, "TEXT_DELIVERED", True), (spam, "TEXT_SPAM", True))
    messages = MessagesTable(platform.table("MESSAGES_TABLE"))
    now = datetime.now(UTC)

    # THEN only the silent one waits for a receipt
    assert list(messages.awaiting_receipt_since_before(now + timedelta(seconds=1))) == [silent_id]

    # WHEN the hourly run comes before the 72 hours are over, and after
    assert Receipts(messages, clock=lambda: now + timedelta(hours=71)).expire_unanswered() == 0
    assert message(platform, silent_id)["status"] == "Sent"
    assert Receipts(messages, clock=lambda: now + timedelta(hours=72, minutes=1)).expire_unanswered() == 1

    # THEN it failed "unknown", off the index; the others kept their outcome
    silent = message(platform, silent_id)
    assert (silent["status"], silent["reject_reason"]) == ("Failed", "unknown")
    assert list(messages.awaiting_receipt_since_before(now + timedelta(days=4))) == []
    assert message(platform, delivered_id)["status"] == "Delivered"
    assert message(platform, spam_id)["reject_reason"] == "spam"
    # a late event after it changes nothing
    deliver(platform, (sent_messages_record(platform, silent_id), "TEXT_DELIVERED", True))
    assert message(platform, silent_id)["status"] == "Failed"


def test_the_deadline_function_runs_hourly(platform: Platform):
    (schedule,) = [s for s in platform.topology.schedules if "Deadline" in s.function_id]
    assert schedule.every_seconds == 3600
    assert platform.functions[schedule.function_id].spec.handler.startswith(
        "functions.handlers.receipt_deadline"
    )


def sent_messages_record(platform: Platform, message_id: str) -> SentRecord:
    (record,) = [r for r in platform.simulator.records if r.context["message_id"] == message_id]
    return record


class MessageWrites:
    """The Messages table's writes per message id, and the DynamoDB operations, counted at the wire."""

    def __init__(self, table_name: str, fail_transactions: bool = False) -> None:
        self.table_name = table_name
        self.fail_transactions = fail_transactions
        self.per_message: Counter[str] = Counter()
        self.operations: Counter[str] = Counter()

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        body = json.loads(params.get("body") or b"{}")
        if model.name == "TransactWriteItems" and self.fail_transactions:
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "injected"}}, model.name)
        self.operations[model.name] += 1
        if model.name == "UpdateItem" and body.get("TableName") == self.table_name:
            self.per_message[body["Key"]["message_id"]["S"]] += 1
        for item in body.get("TransactItems", []):
            update = item.get("Update", {})
            if update.get("TableName") == self.table_name:
                self.per_message[update["Key"]["message_id"]["S"]] += 1


@contextmanager
def counted_writes(platform: Platform, fail_transactions: bool = False) -> Iterator[MessageWrites]:
    """Counts the receipts function's writes (built afresh, so that its client carries the hook)."""
    writes = MessageWrites(platform.table("MESSAGES_TABLE").name, fail_transactions)
    session = boto3._get_default_session()
    session.events.register("before-call.dynamodb.*", writes)
    receipts_handler.receipts.cache_clear()
    try:
        yield writes
    finally:
        session.events.unregister("before-call.dynamodb.*", writes)
        receipts_handler.receipts.cache_clear()


def test_a_messages_events_in_one_batch_share_one_write_and_the_batch_one_request(platform: Platform):
    # GIVEN four sent messages
    (both_id, both), (twice_id, twice), (notes_id, notes), (late_id, late) = sent_messages(platform, 4)

    # WHEN one batch brings: accepted then delivered; delivered twice; two progress events; and
    # a late progress event after the delivery
    with counted_writes(platform) as writes:
        for record, event_type, is_final in [
            (both, "TEXT_SUCCESSFUL", False),
            (twice, "TEXT_DELIVERED", True),
            (notes, "TEXT_SUCCESSFUL", False),
            (both, "TEXT_DELIVERED", True),
            (twice, "TEXT_DELIVERED", True),
            (notes, "TEXT_CARRIER_UNREACHABLE", False),
            (late, "TEXT_DELIVERED", True),
            (late, "TEXT_SUCCESSFUL", False),
        ]:
            platform.simulator.schedule_event(record, event_type, is_final=is_final)
        platform.simulator.pump(now=time.time())
        poller = platform.poller(RECEIPTS_QUEUE_ID, "receipts", batch_size=10)
        assert poller.poll_once()
        assert not poller.poll_once()  # the whole batch was handled, nothing left to retry

    # THEN each message was written once, all four in one transaction, each history in the events' order
    assert writes.per_message == {both_id: 1, twice_id: 1, notes_id: 1, late_id: 1}
    assert writes.operations == {"TransactWriteItems": 1}
    assert [detail.split(":")[0] for _, detail in history(platform, both_id)[-2:]] == [
        "TEXT_SUCCESSFUL",
        "TEXT_DELIVERED",
    ]
    assert [s for s, _ in history(platform, twice_id)].count("Delivered") == 1
    assert message(platform, notes_id)["status"] == "Sent"
    assert [detail.split(":")[0] for _, detail in history(platform, notes_id)[-2:]] == [
        "TEXT_SUCCESSFUL",
        "TEXT_CARRIER_UNREACHABLE",
    ]
    assert message(platform, late_id)["status"] == "Delivered"
    assert not any((d or "").startswith("TEXT_SUCCESSFUL") for _, d in history(platform, late_id))
    assert platform.queue_depth(RECEIPTS_DLQ_ID) == 0


def test_a_batch_written_together_still_settles_its_odd_ones_alone(platform: Platform):
    # GIVEN a delivered message, a sent one and one whose Sent record is not written yet
    (done_id, done), (sent_id, sent) = sent_messages(platform, 2)
    deliver(platform, (done, "TEXT_DELIVERED", True))
    unrecorded_id, unrecorded_record = unrecorded(platform)

    # WHEN one batch brings a late failure for the first, and the delivery of the other two
    with counted_writes(platform) as writes:
        for record, event_type in [
            (done, "TEXT_SPAM"),
            (sent, "TEXT_DELIVERED"),
            (unrecorded_record, "TEXT_DELIVERED"),
        ]:
            platform.simulator.schedule_event(record, event_type, is_final=True)
        platform.simulator.pump(now=time.time())
        assert platform.poller(RECEIPTS_QUEUE_ID, "receipts", batch_size=10).poll_once()

    # THEN the transaction wrote the sent one; the two it could not were tried alone: the delivered
    # one stays delivered, the unrecorded one gets its Sent on the carrier's word, then Delivered
    assert message(platform, done_id)["status"] == "Delivered"
    assert message(platform, sent_id)["status"] == "Delivered"
    assert message(platform, unrecorded_id)["status"] == "Delivered"
    assert [status for status, _ in history(platform, unrecorded_id)][-3:] == [
        "In Progress",
        "Sent",
        "Delivered",
    ]
    assert writes.operations["TransactWriteItems"] == 2  # cancelled for the two, then the third alone
    assert writes.per_message[sent_id] == 2  # in both transactions, written by the second
    assert platform.queue_depth(RECEIPTS_DLQ_ID) == 0


def test_a_batch_that_cannot_be_written_together_is_written_message_by_message(platform: Platform):
    # GIVEN three sent messages, and a store that refuses every transaction
    sent = sent_messages(platform, 3)

    # WHEN their deliveries come in one batch
    with counted_writes(platform, fail_transactions=True) as writes:
        for _, record in sent:
            platform.simulator.schedule_event(record, "TEXT_DELIVERED", is_final=True)
        platform.simulator.pump(now=time.time())
        poller = platform.poller(RECEIPTS_QUEUE_ID, "receipts", batch_size=10)
        assert poller.poll_once()
        assert not poller.poll_once()

    # THEN each was written on its own, and every one is Delivered
    assert writes.operations["UpdateItem"] == 3
    assert all(message(platform, message_id)["status"] == "Delivered" for message_id, _ in sent)
    assert platform.queue_depth(RECEIPTS_DLQ_ID) == 0


def unrecorded(platform: Platform) -> tuple[str, SentRecord]:
    """A message the carrier has, whose Sent record its dispatcher has not written yet."""
    message_id, record, _ = unrecorded_with_its_sent(platform)
    return message_id, record


def unrecorded_with_its_sent(platform: Platform) -> tuple[str, SentRecord, dict[str, Any]]:
    """As ``unrecorded``, with the item its dispatcher's Sent record makes of it."""
    ((message_id, record),) = sent_messages(platform, 1)
    table = platform.table("MESSAGES_TABLE")
    item = table.get_item(Key={"message_id": message_id})["Item"]
    in_progress = [change for change in item["history"] if change["status"] != "Sent"]
    table.update_item(
        Key={"message_id": message_id},
        UpdateExpression="SET #s = :s, history = :h REMOVE receipt_shard, sent_at",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": "In Progress", ":h": in_progress},
    )
    return message_id, record, item


def test_a_progress_event_that_comes_before_the_sent_record_moves_the_message_to_sent(platform: Platform):
    message_id, record = unrecorded(platform)

    deliver(platform, (record, "TEXT_SUCCESSFUL", False))

    assert message(platform, message_id)["status"] == "Sent"
    assert history(platform, message_id)[-3:] == [
        ("In Progress", None),
        ("Sent", SENT_BY_EVENT),
        ("Sent", "TEXT_SUCCESSFUL: Message has been accepted by phone carrier"),
    ]


def test_a_delivery_event_that_comes_before_the_sent_record_records_the_sent_too(platform: Platform):
    # GIVEN a message the carrier has, whose Sent record its dispatcher has not written yet
    message_id, record = unrecorded(platform)
    table = platform.table("MESSAGES_TABLE")

    # WHEN its events come in one batch
    for event_type, is_final in (("TEXT_SUCCESSFUL", False), ("TEXT_DELIVERED", True)):
        platform.simulator.schedule_event(record, event_type, is_final=is_final)
    platform.simulator.pump(now=time.time())
    assert platform.poller(RECEIPTS_QUEUE_ID, "receipts", batch_size=10).poll_once()

    # THEN it is Delivered, its history shows the Sent first, and the late Sent record changes nothing
    assert message(platform, message_id)["status"] == "Delivered"
    assert [status for status, _ in history(platform, message_id)][-4:] == [
        "In Progress",
        "Sent",
        "Sent",
        "Delivered",
    ]
    late = StatusMove(message_id, MessageStatus.SENT, (MessageStatus.IN_PROGRESS,), datetime.now(UTC))
    writer = ClaimsWriter(
        MessagesTable(table),
        LedgerTable(platform.table("LEDGER_TABLE")),
        LeasesTable(platform.table("LEASES_TABLE")),
    )
    assert writer.record([late]) == {message_id}
    assert message(platform, message_id)["status"] == "Delivered"


def test_a_sent_record_written_between_the_receipts_two_tries_still_lets_the_event_settle(
    platform: Platform,
):
    # GIVEN a message whose Sent record is not written yet, and a dispatcher that writes it just
    # after the receipt's first write found the message In Progress
    message_id, record, sent_item = unrecorded_with_its_sent(platform)
    table = platform.table("MESSAGES_TABLE")
    written: list[str] = []

    def dispatcher_writes_sent(**_: Any) -> None:
        if not written:
            written.append(message_id)
            table.put_item(Item=sent_item)

    session = boto3._get_default_session()
    session.events.register("after-call.dynamodb.TransactWriteItems", dispatcher_writes_sent)
    receipts_handler.receipts.cache_clear()
    try:
        # WHEN its delivery comes
        platform.simulator.schedule_event(record, "TEXT_DELIVERED", is_final=True)
        platform.simulator.pump(now=time.time())
        assert platform.poller(RECEIPTS_QUEUE_ID, "receipts", batch_size=10).poll_once()
    finally:
        session.events.unregister("after-call.dynamodb.TransactWriteItems", dispatcher_writes_sent)
        receipts_handler.receipts.cache_clear()

    # THEN the Sent record came in between, and the delivery still ends the message
    assert written == [message_id]
    assert message(platform, message_id)["status"] == "Delivered"
    assert [status for status, _ in history(platform, message_id)][-2:] == ["Sent", "Delivered"]
