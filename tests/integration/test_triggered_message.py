"""One triggered message through the real handlers: API -> ready index -> dispatcher -> carrier -> receipt."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from botocore.exceptions import ClientError

from functions.dal.config import ConfigTable
from functions.dal.messages import StatusMove
from functions.domain.dispatch import DispatchOutcome
from functions.domain.messages import MessageStatus
from functions.domain.signatures import SignatureText
from infra.constants import RECEIPTS_QUEUE_ID
from tests.integration.conftest import Platform

TRIGGER = "/v1/triggers/payment_received"
GOOD = {"contact_id": "contact-ada", "variables": {"company": "Demo Fiber", "amount": 4999}}


def test_a_triggered_message_goes_from_pending_to_delivered(platform: Platform):
    # GIVEN the demo tenant and an opted-in contact
    # WHEN a trigger is posted
    status, result = platform.call("POST", TRIGGER, GOOD)

    # THEN it is accepted as Pending with its body, segments and price
    assert status == 202, result
    (created,) = result["messages"]
    assert created["status"] == "Pending"
    assert created["body"] == (
        "Demo Fiber: thank you, we received your payment of $49.99.\n"
        "Have a question? Call 416-555-0199. Email help@demo.example. Reply STOP to unsubscribe."
    )
    assert (created["encoding"], created["segments"], created["price_micros"]) == ("GSM", 1, 8_500)
    assert platform.ready_count() == 1

    # WHEN its code's dispatcher runs
    platform.run_dispatchers()
    _, sent = platform.call("GET", f"/v1/messages/{created['id']}")
    assert sent["status"] == "Sent"
    assert [change["status"] for change in sent["history"]] == ["Pending", "In Progress", "Sent"]
    (record,) = platform.simulator.records
    assert record.destination == "+14165550123"
    assert record.origination == platform.demo.sending_number
    assert record.body == created["body"]
    assert record.context == {"message_id": created["id"], "tenant_id": "demo-isp"}
    assert platform.ready_count() == 0

    # WHEN the carrier's delivery event arrives through SNS and the receipts queue
    platform.deliver_receipts()
    _, delivered = platform.call("GET", f"/v1/messages/{created['id']}")
    assert delivered["status"] == "Delivered"
    assert delivered["history"][-1]["status"] == "Delivered"


def test_a_message_is_sent_once_however_many_dispatchers_run(platform: Platform):
    created = platform.send(TRIGGER, GOOD)
    # GIVEN its code's dispatcher ran, and WHEN it runs again (a second kick)
    platform.run_dispatchers()
    platform.dispatcher().run()

    # THEN the carrier had it once
    assert [record.context["message_id"] for record in platform.simulator.records] == [created["id"]]
    assert platform.ready_count() == 0


def test_a_lone_messages_sent_record_is_written_once_nothing_else_is_being_sent(platform: Platform):
    # GIVEN a dispatcher whose Sent records would wait a minute to share a write, and that stays
    # up for two seconds with nothing to do
    created = platform.send(TRIGGER, GOOD)
    dispatcher = platform.dispatcher(sent_flush_seconds=60.0, idle_seconds=2.0)
    running = threading.Thread(target=dispatcher.run)

    # WHEN it sends the message, and nothing more is ready
    running.start()
    seen = []
    waited_until = time.monotonic() + 30  # half the records' minute
    while running.is_alive() and time.monotonic() < waited_until:
        seen.append(platform.call("GET", f"/v1/messages/{created['id']}")[1]["status"])
        if seen[-1] == "Sent":
            break
        time.sleep(0.05)
    still_running, in_time = running.is_alive(), time.monotonic() < waited_until
    running.join()

    # THEN its Sent record was written at once, while the dispatcher still ran
    assert (seen[-1], still_running, in_time) == ("Sent", True, True), seen
    assert dispatcher.report.outcomes[DispatchOutcome.SENT.value] == 1


def test_a_sent_record_whose_write_fails_is_written_again(platform: Platform):
    # GIVEN a message, and a store that refuses the first write of its Sent record
    created = platform.send(TRIGGER, GOOD)
    dispatcher = platform.dispatcher()
    record = dispatcher._claims.record
    refused: list[str] = []

    def fails_once(moves: list[StatusMove]) -> set[str]:
        if not refused and moves and moves[0].to is MessageStatus.SENT:
            refused.append(moves[0].message_id)
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "injected"}}, "Write")
        return record(moves)

    dispatcher._claims.record = fails_once  # type: ignore[method-assign]

    # WHEN its dispatcher sends it (and no delivery event comes)
    dispatcher.run()

    # THEN the record was written on the next try: the message is Sent, its claim not left in doubt
    assert refused == [created["id"]]
    _, sent = platform.call("GET", f"/v1/messages/{created['id']}")
    assert sent["status"] == "Sent"
    assert dispatcher.report.outcomes[DispatchOutcome.SENT.value] == 1


def test_a_failed_delivery_records_the_reject_reason(platform: Platform):
    platform.simulator.settings.fixed_outcomes["+14165550123"] = "TEXT_SPAM"
    created = platform.send(TRIGGER, GOOD)
    platform.run_dispatchers()
    platform.deliver_receipts()

    _, failed = platform.call("GET", f"/v1/messages/{created['id']}")
    assert (failed["status"], failed["reject_reason"]) == ("Failed", "spam")


def test_a_throttled_send_backs_the_code_off_and_is_sent_later(platform: Platform):
    # GIVEN a carrier that holds the sending number to one part per second, below what it is registered for
    platform.simulator.settings.parts_per_second[platform.demo.sending_number] = 1
    first = platform.send(TRIGGER, GOOD)
    second = platform.send(TRIGGER, GOOD)

    # WHEN its dispatcher runs
    platform.run_dispatchers()

    # THEN the throttled message waited (the code backed off) and went: both sent, none lost
    statuses = [platform.call("GET", f"/v1/messages/{m['id']}")[1]["status"] for m in (first, second)]
    assert statuses == ["Sent", "Sent"]
    assert platform.simulator.throttled >= 1
    assert len(platform.simulator.records) == 2
    first_at, second_at = sorted(record.at for record in platform.simulator.records)
    assert second_at - first_at >= 1.0


def test_a_carrier_rejection_fails_the_message_without_retry(platform: Platform):
    platform.simulator.settings.opted_out.add("+14165550123")
    created = platform.send(TRIGGER, GOOD)
    platform.run_dispatchers()

    _, failed = platform.call("GET", f"/v1/messages/{created['id']}")
    assert (failed["status"], failed["reject_reason"]) == ("Failed", "opted out")
    assert platform.ready_count() == 0
    assert len(platform.simulator.records) == 0


def test_receipts_that_come_twice_or_late_change_nothing(platform: Platform):
    created = platform.send(TRIGGER, GOOD)
    platform.run_dispatchers()
    platform.deliver_receipts()
    sqs = platform.session.client("sqs")
    context = {"message_id": created["id"], "tenant_id": "demo-isp"}
    late = json.dumps({"eventType": "TEXT_CARRIER_UNREACHABLE", "context": context})
    duplicate = json.dumps({"eventType": "TEXT_DELIVERED", "context": context})
    for body in (late, duplicate):
        sqs.send_message(QueueUrl=platform.queue_url(RECEIPTS_QUEUE_ID), MessageBody=body)
    platform.deliver_receipts()

    _, message = platform.call("GET", f"/v1/messages/{created['id']}")
    assert message["status"] == "Delivered"
    assert [change["status"] for change in message["history"]].count("Delivered") == 1
    assert platform.queue_depth(RECEIPTS_QUEUE_ID) == 0


def test_a_trigger_reads_its_signature_contact_and_code_together_as_they_are_now(platform: Platform):
    # GIVEN the demo tenant's signature, changed just now, and every DynamoDB call of a fresh client
    _, signatures = platform.call("GET", "/v1/signatures")
    (signature,) = [found for found in signatures if found["id"] == "sig-support"]
    changed = {
        k: signature[k] for k in ("name", "department_id", "default_for_mass", "default_for_triggered")
    }
    changed["text"] = SignatureText.STOP_ONLY.value
    assert platform.call("PUT", "/v1/signatures/sig-support", changed)[0] == 200
    calls: list[tuple[str, list[str]]] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        body = json.loads(params.get("body") or b"{}")
        keys = [body.get("Key", {})] + [
            k for r in body.get("RequestItems", {}).values() for k in r.get("Keys", [])
        ]
        calls.append((model.name, [key["sk"]["S"] for key in keys if "sk" in key]))

    session = platform.session
    session.events.register("before-call.dynamodb.*", record)
    try:
        config = ConfigTable(session.resource("dynamodb").Table(platform.table("CONFIG_TABLE").name))
        number = platform.demo.sending_number

        # WHEN composing reads them within one block, and once more after it
        with config.read_together("demo-isp", "sig-support", "contact-ada", number):
            inside = (
                config.get_signature("demo-isp", "sig-support"),
                config.get_contact("demo-isp", "contact-ada"),
                config.get_transport_code(number),
                config.get_department("demo-isp", signature["department_id"]),
            )
        after = config.get_signature("demo-isp", "sig-support")
    finally:
        session.events.unregister("before-call.dynamodb.*", record)

    # THEN one batch read answered the three named, as they are now; the others were read alone
    assert calls == [
        ("BatchGetItem", ["SIGNATURE#sig-support", "CONTACT#contact-ada", f"CODE#{number}"]),
        ("GetItem", [f"DEPARTMENT#{signature['department_id']}"]),
        ("GetItem", ["SIGNATURE#sig-support"]),
    ]
    found_signature, contact, code, department = inside
    assert (found_signature.text if found_signature else None) == changed["text"]
    assert (contact.contact_id if contact else None) == "contact-ada"
    assert (code.number if code else None) == number
    assert department is not None
    assert after == found_signature

    # AND a trigger sends with the signature as it is now
    message = platform.send(TRIGGER, GOOD)
    assert message["body"].endswith(".\nReply STOP to unsubscribe."), message["body"]
    assert "Have a question?" not in message["body"]


def test_a_trigger_naming_a_contact_or_signature_that_does_not_exist_is_refused_by_name(platform: Platform):
    for body, field in (
        ({**GOOD, "contact_id": "nobody"}, "contact_id"),
        ({**GOOD, "signature_id": "sig-nobody"}, "signature_id"),
    ):
        status, problem = platform.call("POST", TRIGGER, body)
        assert (status, problem["field"]) == (404, field), problem
    assert platform.ready_count() == 0
