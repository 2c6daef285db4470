"""Inbound messages through the real handlers: STOP, START, HELP and replies, both scopes, both paths."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from functions.domain.signing import sign
from infra.constants import INBOUND_QUEUE_ID
from local.demo import OPERATOR_API_KEY
from local.lambda_runtime import sqs_record
from local.provision import LOCAL_SECRET, inbound_topic
from tests.integration.conftest import Platform

LONG_CODE = "+14165550111"  # a Canadian long code: the platform confirms STOP and START itself
DNC_CODE = "+14165550112"  # a long code whose registration names a DNC group
TOLL_FREE = "+18005550100"  # the demo tenant's default number: the carrier confirms
ADA, CHARLES = "+14165550123", "+14165550125"
TRIGGER = "/v1/triggers/payment_received"


def register(platform: Platform, number: str, scope: str = "global") -> None:
    body = {"parts_per_second": 50, "opt_out_scope": scope, "tenant_ids": ["demo-isp"]}
    status, code = platform.call("PUT", f"/v1/operator/transport-codes/{number}", body, key=OPERATOR_API_KEY)
    assert status == 200, code


def trigger(
    platform: Platform, sending_number: str | None = None, contact: str = "contact-ada"
) -> tuple[int, Any]:
    body: dict[str, Any] = {"contact_id": contact, "variables": {"company": "Demo Fiber", "amount": 4999}}
    if sending_number:
        body["sending_number"] = sending_number
    return platform.call("POST", TRIGGER, body)


def run_inbound(platform: Platform) -> None:
    poller = platform.poller(INBOUND_QUEUE_ID, "inbound")
    while poller.poll_once():
        pass


def text_in(platform: Platform, sender: str, to: str, body: str) -> dict[str, Any]:
    """The recipient texts our number; the inbound function handles it."""
    payload = platform.simulator.receive(sender, to, body)
    run_inbound(platform)
    return payload


def opt_out_of(
    platform: Platform, number: str, scope: str = "global", key: str | None = None
) -> dict[str, Any]:
    args = {"key": key} if key else {}
    status, found = platform.call("GET", f"/v1/opt-outs/{number}?scope={scope}", **args)
    assert status == 200, found
    return found


def carrier_bodies(platform: Platform, origination: str, destination: str) -> list[str]:
    return [
        r.body
        for r in platform.simulator.records
        if r.origination == origination and r.destination == destination
    ]


def status_of(platform: Platform, message_id: str) -> dict[str, Any]:
    return platform.call("GET", f"/v1/messages/{message_id}")[1]


def test_stop_opts_out_everywhere_confirms_once_and_fails_what_was_queued(platform: Platform):
    # GIVEN a message sent to Ada from a long code, and another queued but not sent yet
    register(platform, LONG_CODE)
    first = platform.send(
        TRIGGER,
        {
            "contact_id": "contact-ada",
            "variables": {"company": "D", "amount": 1},
            "sending_number": LONG_CODE,
        },
    )
    platform.run_dispatchers()
    queued = platform.send(
        TRIGGER,
        {
            "contact_id": "contact-ada",
            "variables": {"company": "D", "amount": 2},
            "sending_number": LONG_CODE,
        },
    )

    # WHEN Ada replies "Stop texting me"
    started = time.perf_counter()
    payload = text_in(platform, ADA, LONG_CODE, "Stop texting me")
    recorded_after = time.perf_counter() - started

    # THEN she is opted out in the global scope, with the keyword and the inbound message on the audit trail
    found = opt_out_of(platform, ADA)
    assert found["opted_out"] is True
    assert found["opt_out"]["source"] == "keyword"
    assert found["opt_out"]["actor"] == f"aws:{payload['inboundMessageId']}"
    assert found["opt_out"]["tenant_id"] == "demo-isp"
    assert [(c["action"], c["source"]) for c in found["history"]] == [("opted_out", "keyword")]
    assert recorded_after < 5

    # WHEN the senders run: the queued message fails, the confirmation goes (the one message allowed)
    platform.run_dispatchers()
    failed = status_of(platform, queued["id"])
    assert (failed["status"], failed["reject_reason"]) == ("Failed", "opted out")
    bodies = carrier_bodies(platform, LONG_CODE, ADA)
    assert len(bodies) == 2
    assert (
        bodies[-1]
        == "Demo Fiber ISP: You are unsubscribed and will receive no more messages from us. Reply START to resubscribe."
    )
    _, log = platform.call("GET", "/v1/messages")
    confirmation = next(m for m in log["items"] if m["trigger"] == "keyword_reply")
    assert (confirmation["status"], confirmation["price_micros"], confirmation["sending_number"]) == (
        "Sent",
        0,
        LONG_CODE,
    )
    assert first["id"] != confirmation["id"]

    # AND nothing more is sent to her, from any number (global scope), while Charles still gets his
    for number in (LONG_CODE, TOLL_FREE):
        status, problem = trigger(platform, number)
        assert (status, problem["reason"]) == (409, "opted_out"), problem
    assert trigger(platform, LONG_CODE, "contact-charles")[0] == 202

    # AND the same STOP delivered again (SNS delivers at least once) changes nothing and sends nothing
    platform.session.client("sns").publish(
        TopicArn=inbound_topic(platform.topology, platform.provisioned), Message=json.dumps(payload)
    )
    run_inbound(platform)
    platform.run_dispatchers()
    assert len(carrier_bodies(platform, LONG_CODE, ADA)) == 2
    assert len(opt_out_of(platform, ADA)["history"]) == 1


def test_start_opts_back_in_in_the_same_scope_and_help_names_the_department(platform: Platform):
    register(platform, LONG_CODE)
    trigger(platform, LONG_CODE)
    platform.run_dispatchers()
    text_in(platform, ADA, LONG_CODE, "STOP")
    assert opt_out_of(platform, ADA)["opted_out"] is True

    # WHEN she replies START, then HELP
    text_in(platform, ADA, LONG_CODE, " start ")
    text_in(platform, ADA, LONG_CODE, "Help?")
    platform.run_dispatchers()

    # THEN she is opted in again, each change audited, and each keyword answered
    found = opt_out_of(platform, ADA)
    assert found["opted_out"] is False
    assert [c["action"] for c in found["history"]] == ["opted_out", "opted_in"]
    replies = set(carrier_bodies(platform, LONG_CODE, ADA)[1:])  # sent side by side, in any order
    assert replies == {
        "Demo Fiber ISP: You are unsubscribed and will receive no more messages from us. Reply START to resubscribe.",
        "Demo Fiber ISP: You are subscribed again and will receive our messages. Reply HELP for help, STOP to unsubscribe.",
        "Demo Fiber ISP: For help: Call 416-555-0199. Email help@demo.example. "
        "Msg&data rates may apply. Reply STOP to unsubscribe.",
    }
    assert trigger(platform, LONG_CODE)[0] == 202
    # START when not opted out changes nothing
    text_in(platform, ADA, LONG_CODE, "Yes")
    assert len(opt_out_of(platform, ADA)["history"]) == 2

    # A STOP from a number no tenant ever messaged from this code: recorded, answered by the platform
    stranger = "+16135550177"
    text_in(platform, stranger, LONG_CODE, "stop")
    assert opt_out_of(platform, stranger)["opt_out"]["tenant_id"] is None
    platform.run_dispatchers()
    (confirmation,) = carrier_bodies(platform, LONG_CODE, stranger)
    assert confirmation.startswith("You are unsubscribed")
    _, log = platform.call("GET", "/v1/messages")
    assert all(m["phone_number"] != stranger for m in log["items"])  # in no tenant's log


def test_a_dnc_group_opt_out_holds_only_for_numbers_of_that_group(platform: Platform):
    register(platform, DNC_CODE, scope="dnc:fence-painting")
    trigger(platform, DNC_CODE)
    platform.run_dispatchers()

    text_in(platform, ADA, DNC_CODE, "unsubscribe")

    assert opt_out_of(platform, ADA, "dnc:fence-painting")["opted_out"] is True
    assert opt_out_of(platform, ADA, "global")["opted_out"] is False
    status, problem = trigger(platform, DNC_CODE)
    assert (status, problem["reason"]) == (409, "opted_out")
    assert trigger(platform, TOLL_FREE)[0] == 202  # the global scope knows nothing of it
    _, listed = platform.call("GET", "/v1/opt-outs?scope=dnc:fence-painting")
    assert [item["phone_number"] for item in listed["items"]] == [ADA]
    assert platform.call("GET", "/v1/opt-outs?scope=dnc:someone-else")[0] == 404

    # The previews count her out only for the group's number
    body = {
        "saved_message": "planned_outage",
        "outage_start": "2026-12-01T02:00:00-05:00",
        "outage_end": "2026-12-01T04:00:00-05:00",
        "variables": {"company": "Demo Fiber"},
        "filters": {},
    }
    _, through_group = platform.call("POST", "/v1/mass-messages", {**body, "sending_number": DNC_CODE})
    _, through_global = platform.call("POST", "/v1/mass-messages", {**body, "sending_number": TOLL_FREE})
    assert through_group["preview"]["excluded"].get("opted_out") == 1, through_group
    assert "opted_out" not in through_global["preview"]["excluded"]

    # START on the group's number reverses the group's opt-out
    text_in(platform, ADA, DNC_CODE, "START")
    assert opt_out_of(platform, ADA, "dnc:fence-painting")["opted_out"] is False


def test_on_a_toll_free_number_the_opt_out_is_recorded_and_the_carrier_confirms(platform: Platform):
    trigger(platform, contact="contact-charles")  # from the demo's toll-free number
    platform.run_dispatchers()
    sent_before = len(platform.simulator.records)

    text_in(platform, CHARLES, TOLL_FREE, "Quit")
    platform.run_dispatchers()
    assert opt_out_of(platform, CHARLES)["opted_out"] is True
    text_in(platform, CHARLES, TOLL_FREE, "unstop")
    platform.run_dispatchers()
    assert opt_out_of(platform, CHARLES)["opted_out"] is False
    text_in(platform, CHARLES, TOLL_FREE, "info")
    platform.run_dispatchers()

    # no STOP or START confirmation from the platform; HELP is still answered
    (help_reply,) = [r.body for r in platform.simulator.records[sent_before:]]
    assert "For help" in help_reply


class Hook(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []
    status = 204

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        Hook.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(Hook.status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook_server():
    Hook.received, Hook.status = [], 204
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/replies"
    server.shutdown()
    server.server_close()


def test_a_reply_is_stored_against_the_message_published_and_posted_signed_to_the_tenant(
    platform: Platform, hook_server
):
    # GIVEN a message to Ada, the tenant's reply webhook, and a rule routing reply events to a queue
    answered = platform.send(
        TRIGGER, {"contact_id": "contact-ada", "variables": {"company": "D", "amount": 1}}
    )
    platform.run_dispatchers()
    status, webhook = platform.call("PUT", "/v1/reply-webhook", {"url": hook_server})
    assert status == 200, webhook
    assert platform.call("PUT", "/v1/reply-webhook", {"url": "http://hooks.example.com/x"})[0] == 400
    events, sqs = platform.session.client("events"), platform.session.client("sqs")
    agents = sqs.create_queue(QueueName="agents")["QueueUrl"]
    agents_arn = sqs.get_queue_attributes(QueueUrl=agents, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    bus = next(value for name, value in platform.provisioned.refs.items() if "ReplyEventBus" in name)
    events.put_rule(
        Name="replies", EventBusName=bus, EventPattern=json.dumps({"detail-type": ["SMS reply received"]})
    )
    events.put_targets(Rule="replies", EventBusName=bus, Targets=[{"Id": "agents", "Arn": agents_arn}])

    # WHEN Ada replies with a question (it mentions stopping, but it is long and asks nothing of us)
    text_in(
        platform, ADA, TOLL_FREE, "Is the outage over yet? My modem stopped working at the end of the day"
    )

    # THEN the reply is in the tenant's log, against the message it answers, and nobody is opted out
    _, replies = platform.call("GET", "/v1/replies")
    (reply,) = replies["items"]
    assert (reply["from_number"], reply["message_id"], reply["keyword"]) == (ADA, answered["id"], "none")
    assert reply["webhook"] == "delivered"
    assert opt_out_of(platform, ADA)["opted_out"] is False
    # AND posted to the webhook, signed with the tenant's secret
    ((headers, body),) = Hook.received
    assert headers["x-signature"] == sign(webhook["secret"], int(headers["x-timestamp"]), body)
    assert json.loads(body)["body"].startswith("Is the outage over yet?")
    # AND published on the bus for routing to agents
    (event,) = sqs.receive_message(QueueUrl=agents, MaxNumberOfMessages=10)["Messages"]
    detail = json.loads(event["Body"])
    assert (detail["detail-type"], detail["detail"]["message_id"]) == ("SMS reply received", answered["id"])

    # WHEN the webhook fails, the reply is kept all the same
    Hook.status = 500
    text_in(platform, ADA, TOLL_FREE, "Hello? Anyone there? I have been waiting all day long")
    _, replies = platform.call("GET", "/v1/replies")
    assert [r["webhook"] for r in replies["items"]] == ["failed: HTTP 500", "delivered"]


def signed(body: bytes, at: float, secret: str = LOCAL_SECRET) -> dict[str, str]:
    return {"x-timestamp": str(int(at)), "x-signature": sign(secret, int(at), body)}


def test_a_carriers_webhook_is_refused_unless_signed_and_fresh_and_then_works_like_sns(platform: Platform):
    register(platform, LONG_CODE)
    body = json.dumps({"from": ADA, "to": LONG_CODE, "body": "STOP", "message_id": "acme-1"}).encode()
    now = time.time()
    refused = [
        {},  # unsigned
        signed(body, now, secret="not the secret"),
        {**signed(body, now), "x-signature": "0" * 64},
        signed(body, now - 301),  # stale
        signed(body + b" ", now),  # signed another body
    ]
    for headers in refused:
        status, problem = platform.call("POST", "/v1/inbound/acme", body, key=None, headers=headers)
        assert status == 401, problem
        assert problem["title"] == "Unauthorized"
    assert platform.queue_depth(INBOUND_QUEUE_ID) == 0  # nothing changed

    status, accepted = platform.call("POST", "/v1/inbound/acme", body, key=None, headers=signed(body, now))
    assert (status, accepted["id"]) == (202, "webhook:acme:acme-1")
    run_inbound(platform)
    found = opt_out_of(platform, ADA, key=OPERATOR_API_KEY)  # it answered no tenant's message: the operator's
    assert found["opt_out"]["actor"] == "webhook:acme:acme-1"
    assert opt_out_of(platform, ADA)["opt_out"]["actor"] is None
    assert platform.ready_count() == 1  # the confirmation, from the long code

    bad = json.dumps(
        {"from": "+442071838750", "to": LONG_CODE, "body": "hi", "message_id": "acme-2"}
    ).encode()
    status, problem = platform.call("POST", "/v1/inbound/acme", bad, key=None, headers=signed(bad, now))
    assert (status, problem["field"]) == (400, "from")


def test_the_opt_out_list_api_adds_removes_and_audits_with_the_keys_name(platform: Platform):
    status, added = platform.call("PUT", f"/v1/opt-outs/{CHARLES}", {"note": "asked on the phone"})
    assert status == 201, added
    assert (added["scope"], added["opt_out"]["source"], added["opt_out"]["actor"]) == (
        "global",
        "api",
        "local demo",
    )
    assert platform.call("PUT", f"/v1/opt-outs/{CHARLES}", {})[0] == 200  # already
    _, listed = platform.call("GET", "/v1/opt-outs")
    assert [item["phone_number"] for item in listed["items"]] == [CHARLES]
    assert trigger(platform, contact="contact-charles")[0] == 409

    # The operator's own opt-out is not the tenant's to remove
    assert platform.call("PUT", f"/v1/opt-outs/{ADA}", {"scope": "global"}, key=OPERATOR_API_KEY)[0] == 201
    status, problem = platform.call("DELETE", f"/v1/opt-outs/{ADA}")
    assert (status, problem["reason"]) == (409, "opt_out_not_yours")
    assert platform.call("DELETE", f"/v1/opt-outs/{ADA}?scope=global", key=OPERATOR_API_KEY)[0] == 200

    status, removed = platform.call("DELETE", f"/v1/opt-outs/{CHARLES}?note=consent%20on%20file")
    assert status == 200, removed
    assert removed["opted_out"] is False
    assert [(c["action"], c["actor"], c["note"]) for c in removed["history"]] == [
        ("opted_out", "local demo", "asked on the phone"),
        ("opted_in", "local demo", "consent on file"),
    ]
    assert platform.call("DELETE", f"/v1/opt-outs/{CHARLES}")[0] == 404
    assert platform.call("GET", "/v1/opt-outs/12345")[0] == 400
    assert platform.call("GET", "/v1/opt-outs", key=None)[0] == 401


def replies(platform: Platform) -> list[dict[str, Any]]:
    status, page = platform.call("GET", "/v1/replies")
    assert status == 200, page
    return page["items"]


def test_yes_or_start_from_a_number_never_opted_out_is_a_reply_not_a_resubscription(platform: Platform):
    # GIVEN Ada and Charles got a message from a long code; neither ever opted out
    register(platform, LONG_CODE)
    trigger(platform, LONG_CODE)
    trigger(platform, LONG_CODE, contact="contact-charles")
    platform.run_dispatchers()

    # WHEN Ada answers "yes" and Charles "START"
    text_in(platform, ADA, LONG_CODE, "yes")
    text_in(platform, CHARLES, LONG_CODE, "START")
    platform.run_dispatchers()

    # THEN nobody is told "You are subscribed again": both are replies for the tenant's agents
    for number in (ADA, CHARLES):
        assert len(carrier_bodies(platform, LONG_CODE, number)) == 1  # only the tenant's own message
        assert opt_out_of(platform, number)["history"] == []
    by_number = {reply["from_number"]: reply for reply in replies(platform)}
    assert (by_number[ADA]["body"], by_number[ADA]["keyword"]) == ("yes", "none")
    assert (by_number[CHARLES]["body"], by_number[CHARLES]["keyword"]) == ("START", "none")


def handle_in_reverse(platform: Platform, *bodies: str) -> None:
    """Ada texts ``bodies`` in this order; the inbound function handles them in the opposite order."""
    for body in bodies:
        platform.simulator.receive(ADA, LONG_CODE, body)
        time.sleep(0.01)  # the queue's SentTimestamp has millisecond precision
    sqs = platform.session.client("sqs")
    url = platform.queue_url(INBOUND_QUEUE_ID)
    arn = platform.provisioned.arns[platform.queue_id(INBOUND_QUEUE_ID)]
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    assert len(received) == len(bodies)
    received.sort(key=lambda m: int(m["Attributes"]["SentTimestamp"]), reverse=True)
    for message in received:
        response = platform.function("inbound").invoke({"Records": [sqs_record(message, arn)]})
        assert response == {"batchItemFailures": []}
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_a_stop_handled_after_a_later_start_does_not_undo_it(platform: Platform):
    # GIVEN Ada got a message from a long code and opted out
    register(platform, LONG_CODE)
    trigger(platform, LONG_CODE)
    platform.run_dispatchers()
    text_in(platform, ADA, LONG_CODE, "STOP")
    # WHEN she sends START, then STOP again, then START; the function handles them last first
    handle_in_reverse(platform, "START", "STOP", "START")

    # THEN she is opted in, as the last thing she sent says: the earlier two changed nothing
    found = opt_out_of(platform, ADA)
    assert found["opted_out"] is False
    assert [c["action"] for c in found["history"]] == ["opted_out", "opted_in"]
    assert trigger(platform, LONG_CODE)[0] == 202


def test_a_start_handled_after_a_later_stop_does_not_undo_it(platform: Platform):
    # GIVEN Ada got a message from a long code and opted out
    register(platform, LONG_CODE)
    trigger(platform, LONG_CODE)
    platform.run_dispatchers()
    text_in(platform, ADA, LONG_CODE, "STOP")
    sent_before = len(carrier_bodies(platform, LONG_CODE, ADA))

    # WHEN she sends START then STOP; the STOP is handled first
    handle_in_reverse(platform, "START", "STOP")
    platform.run_dispatchers()

    # THEN she stays opted out, and is not told she is subscribed again
    assert opt_out_of(platform, ADA)["opted_out"] is True
    assert trigger(platform, LONG_CODE)[0] != 202
    assert not any(
        "subscribed again" in body for body in carrier_bodies(platform, LONG_CODE, ADA)[sent_before:]
    )


@pytest.mark.parametrize(
    "url",
    [
        # (loopback is allowed here, as in the local runtime; the unit tests refuse 127.1 and the like)
        "https://[broken/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://0xa9fea9fe/",  # 169.254.169.254 in the forms a browser reads
        "https://2852039166/",
        "https://169.254.43518/",
        "https://10.1/",
        "https://[::ffff:169.254.169.254]/latest",
        "https://100.64.0.1/hook",
        "https://hooks.example.com:99999/",
    ],
)
def test_a_reply_webhook_to_a_non_public_or_broken_url_is_a_400_naming_url_and_changes_nothing(
    platform: Platform, url: str
):
    status, problem = platform.call("PUT", "/v1/reply-webhook", {"url": url})
    assert (status, problem["field"]) == (400, "url"), problem
    assert platform.call("GET", "/v1/reply-webhook")[0] == 404


def test_a_number_in_a_path_is_read_the_same_encoded_or_not_on_every_route_with_one(platform: Platform):
    # GIVEN one number written five ways in a URL path, percent-encoded as a client sends it or not
    forms = ["%2B14165559145", "%28416%29%20555-9145", "+14165559145", "416.555.9145", "1-416-555-9145"]
    # WHEN the opt-out routes are called with each THEN each names the same number
    status, added = platform.call("PUT", f"/v1/opt-outs/{forms[0]}", {"note": "by phone"})
    assert (status, added["phone_number"]) == (201, "+14165559145"), added
    for form in forms:
        status, found = platform.call("GET", f"/v1/opt-outs/{form}")
        assert (status, found["phone_number"], found["opted_out"]) == (200, "+14165559145", True), form
    assert platform.call("PUT", f"/v1/opt-outs/{forms[1]}", {})[0] == 200  # the same one, already out
    status, removed = platform.call("DELETE", f"/v1/opt-outs/{forms[1]}")
    assert (status, removed["opted_out"]) == (200, False), removed
    # AND the transport-code routes follow the same rule
    for form in ("%2B14165550111", "%28416%29%20555-0111"):
        status, code = platform.call(
            "PUT", f"/v1/operator/transport-codes/{form}", {"parts_per_second": 2}, key=OPERATOR_API_KEY
        )
        assert (status, code["number"]) == (200, LONG_CODE), code
        status, code = platform.call("GET", f"/v1/operator/transport-codes/{form}", key=OPERATOR_API_KEY)
        assert (status, code["number"]) == (200, LONG_CODE), code
    # AND a bad number is still a 400 naming it, an extension too
    for bad in ("12345", "%2B1%20416%20555%209145%20ext%205"):
        status, problem = platform.call("GET", f"/v1/opt-outs/{bad}")
        assert (status, problem["field"]) == (400, "number"), problem
