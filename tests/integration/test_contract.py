"""The served OpenAPI document tells the truth: success codes, refusals as problem documents, the key
scheme; methods a path does not serve; and the local front's socket under a burst of clients."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from typing import Any

import jsonschema
import pytest

from functions.handlers.routes.common import services
from functions.logic.compose import Recipients
from functions.logic.triggers import TriggerRequest
from local.http_front import HttpFront
from tests.integration.conftest import Platform, serialized_moto

PROBLEM = "application/problem+json"
TRIGGER = "/v1/triggers/payment_received"
GOOD = {"contact_id": "contact-ada", "variables": {"company": "Demo Fiber", "amount": 4999}}
PUBLIC = {("get", "/v1/openapi.json"), ("post", "/v1/inbound/{carrier}"), ("get", "/console"),
          ("get", "/console/{asset}")}  # fmt: skip


def document(platform: Platform) -> dict[str, Any]:
    status, found = platform.call("GET", "/v1/openapi.json", key=None)
    assert status == 200
    return found


def operations(found: dict[str, Any]):
    for path, item in found["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def schema_of(found: dict[str, Any], operation: dict[str, Any], status: int, media: str) -> dict[str, Any]:
    """The documented schema of one answer, resolvable on its own (components inlined as $defs)."""
    schema = operation["responses"][str(status)]["content"][media]["schema"]
    text = json.dumps(schema).replace("#/components/schemas/", "#/$defs/")
    defs = json.loads(json.dumps(found["components"]["schemas"]).replace("#/components/schemas/", "#/$defs/"))
    return {**json.loads(text), "$defs": defs}


def test_the_document_declares_a_bearer_key_required_everywhere_but_on_the_public_routes(platform: Platform):
    # GIVEN the served document
    found = document(platform)
    # THEN a bearer scheme is declared and required by default
    assert found["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    assert found["security"] == [{"apiKey": []}]
    # AND the public routes (and only they) lift it, and answer no 401/403 of a key
    public = {(method, path) for method, path, op in operations(found) if op.get("security") == [{}]}
    assert public == PUBLIC
    for method, path, operation in operations(found):
        if (method, path) not in PUBLIC:
            assert {"401", "403"} <= set(operation["responses"]), (method, path)


def test_every_refusal_is_documented_as_a_problem_document(platform: Platform):
    found = document(platform)
    assert found["components"]["schemas"]["Problem"]["required"] == ["title", "status", "detail"]
    for method, path, operation in operations(found):
        responses = operation["responses"]
        # THEN bad input, a non-JSON body and a schema failure are problem documents on every route
        for code in ("400", "404", "415", "422", "500"):
            assert PROBLEM in responses[code]["content"], (method, path, code)
        assert "application/json" not in responses["422"]["content"], (method, path)
        # AND each route names a success
        assert any(code.startswith("2") for code in responses), (method, path)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("post", "/v1/triggers/{trigger}", "202"),
        ("post", "/v1/mass-messages/{job_id}/confirm", "202"),
        ("post", "/v1/companies", "201"),
        ("post", "/v1/operator/tenants", "201"),
        ("put", "/v1/opt-outs/{number}", "201"),
        ("delete", "/v1/signatures/{signature_id}", "204"),
        ("delete", "/v1/reply-webhook", "204"),
        ("get", "/v1/messages/{message_id}", "404"),
        ("delete", "/v1/operator/transport-codes/{number}", "409"),
        ("post", "/v1/balance/purchases", "409"),
    ],
)
def test_the_real_success_and_refusal_codes_are_documented(platform: Platform, method, path, status):
    assert status in document(platform)["paths"][path][method]["responses"]


def test_real_answers_match_their_documented_schemas(platform: Platform):
    # GIVEN the document and a few real answers: a send, a schema failure, a refusal, a missing key
    found = document(platform)
    send = found["paths"]["/v1/triggers/{trigger}"]["post"]
    status, body = platform.call("POST", TRIGGER, GOOD)
    assert status == 202
    jsonschema.validate(body, schema_of(found, send, 202, "application/json"))
    status, body = platform.call("POST", TRIGGER, {"contact_id": 7})
    assert status == 422
    jsonschema.validate(body, schema_of(found, send, 422, PROBLEM))
    status, body = platform.call("POST", "/v1/triggers/no_such_trigger", GOOD)
    assert status == 400
    jsonschema.validate(body, schema_of(found, send, 400, PROBLEM))
    status, body = platform.call("POST", TRIGGER, GOOD, key=None)
    assert status == 401
    jsonschema.validate(body, schema_of(found, send, 401, "application/json"))


@pytest.mark.parametrize("method", ["TRACE", "QUERY", "PATCH"])
def test_a_method_a_served_path_does_not_answer_is_a_405_naming_the_ones_it_does(platform: Platform, method):
    # GIVEN a socket in front of the gateway, as the local runtime serves it
    front = HttpFront(platform.gateway)
    front.start()
    try:
        host, port = front.url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        # WHEN a method no route has is sent to a served path, and to a path no route has
        connection.request(
            method, "/v1/balance", headers={"authorization": f"Bearer {platform.demo.api_key}"}
        )
        served = connection.getresponse()
        served_body = json.loads(served.read())
        connection.request(
            method, "/v1/nowhere", headers={"authorization": f"Bearer {platform.demo.api_key}"}
        )
        unknown = connection.getresponse()
        unknown_body = json.loads(unknown.read())
        assert unknown_body["status"] == 404
        connection.close()
    finally:
        front.stop()
    # THEN the first is a 405 problem naming GET, the second a 404 problem, neither an HTML page
    assert served.status == 405, served_body
    assert served.getheader("allow") == "GET"
    assert served.getheader("content-type") == PROBLEM
    assert served_body["field"] == "method"
    assert unknown.status == 404
    assert unknown.getheader("content-type") == PROBLEM


@pytest.mark.parametrize("path", ["/v1/opt-outs/%14x", "/v1/messages/a%0Ab", "/v1/messagesXcsv"])
def test_a_path_no_route_can_match_is_a_404_whatever_the_method(platform: Platform, path):
    # WHEN a path no route's pattern takes (a control character in a segment, a dot that is not one)
    status, problem = platform.call("TRACE", path)
    # THEN it is an unknown route, not a method the path lacks
    assert status == 404, problem
    assert problem["field"] == "path"


def test_a_head_request_gets_headers_and_no_body(platform: Platform):
    front = HttpFront(platform.gateway)
    front.start()
    try:
        host, port = front.url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        connection.request(
            "HEAD", "/v1/balance", headers={"authorization": f"Bearer {platform.demo.api_key}"}
        )
        head = connection.getresponse()
        assert head.read() == b""
        # AND the connection is still in step for the next request
        connection.request("GET", "/v1/balance", headers={"authorization": f"Bearer {platform.demo.api_key}"})
        assert connection.getresponse().status == 200
        connection.close()
    finally:
        front.stop()


class SlowGateway:
    def handle(self, method, raw_path, headers, body):
        time.sleep(0.05)
        return 200, {"content-type": "application/json"}, b"{}"


def test_a_burst_of_clients_connecting_at_once_is_held_in_the_listen_backlog():
    # GIVEN a front that is listening but has not yet accepted anyone (a busy process)
    front = HttpFront(SlowGateway())  # type: ignore[arg-type]
    host, port = front.url.removeprefix("http://").split(":")
    clients = []
    try:
        # WHEN 100 clients connect and send their request before it accepts
        for _ in range(100):
            client = socket.create_connection((host, int(port)), timeout=5)
            client.sendall(b"GET /v1/x HTTP/1.1\r\nhost: local\r\nconnection: close\r\n\r\n")
            clients.append(client)
        front.start()
        # THEN every one of them is answered, none reset
        answers = [client.recv(64) for client in clients]
    finally:
        for client in clients:
            client.close()
        front.stop()
    assert all(answer.startswith(b"HTTP/1.1 200") for answer in answers)


def test_a_concurrent_retry_with_the_same_idempotency_key_is_told_when_to_come_back(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
):
    # GIVEN a triggered send with an Idempotency-Key still running (in another instance) when its
    # retry arrives: the first holds the key's in-progress record while its send waits
    triggers = services().triggers
    original, started, release = triggers.send, threading.Event(), threading.Event()

    def slow_send(*args, **kwargs):
        started.set()
        release.wait(10)
        return original(*args, **kwargs)

    monkeypatch.setattr(triggers, "send", slow_send)
    request = TriggerRequest(
        trigger="payment_received", recipients=Recipients(contact_id="contact-ada"),
        variables=GOOD["variables"], sender={"sending_number": None, "signature_id": None},
    )  # fmt: skip
    data = {"tenant_id": platform.demo.tenant_id, "idempotency_key": "retry-1",
            "request": request.model_dump(mode="json")}  # fmt: skip
    first: list[Any] = []
    headers = {"idempotency-key": "retry-1"}
    with serialized_moto():
        worker = threading.Thread(target=lambda: first.append(services().idempotent_trigger(data=data)))
        worker.start()
        assert started.wait(10)
        # WHEN the retry comes in meanwhile
        status, problem = platform.call("POST", TRIGGER, GOOD, headers=headers)
        retry_after = platform.gateway.handle(
            "POST", TRIGGER, {"content-type": "application/json", "authorization": f"Bearer {platform.demo.api_key}",
                              **headers}, json.dumps(GOOD).encode(),
        )[1].get("Retry-After")  # fmt: skip
        release.set()
        worker.join(20)
    # THEN it is a 409 problem with Retry-After, and a retry after the first ends gets the first's answer
    assert status == 409, problem
    assert problem["reason"] == "in_progress"
    assert retry_after == "1"
    again_status, again = platform.call("POST", TRIGGER, GOOD, headers=headers)
    assert again_status == 202
    assert [message["id"] for message in again["messages"]] == [m["message_id"] for m in first[0]["messages"]]


OPERATOR_KEY = "sms_local_operator_key_for_the_local_runtime_only"


@pytest.mark.parametrize(
    ("method", "path", "body", "key"),
    [
        ("PATCH", "/v1/settings", {"recipient_local_window": 0}, None),
        ("PATCH", "/v1/settings", {"sms_enabled": "false"}, None),
        ("PATCH", "/v1/settings", {"three_a_day_rule": 0}, None),
        ("PATCH", "/v1/settings", {"smart_encoding": "true"}, None),
        ("PUT", "/v1/phone-number-types/Pager", {"sms_capable": 1}, None),
        (
            "POST",
            "/v1/signatures",
            {
                "name": "X",
                "department_id": "dep-billing",
                "text": "Reply STOP to unsubscribe.",
                "default_for_triggered": 0,
            },
            None,
        ),
        (
            "PUT",
            "/v1/contacts/contact-ada/sms-opt-in",
            {"phone_number": "+14165550123", "opted_in": "yes"},
            None,
        ),
        ("PATCH", "/v1/operator/tenants/demo-isp", {"price_per_segment_micros": "100"}, OPERATOR_KEY),
        ("PATCH", "/v1/operator/tenants/demo-isp", {"price_per_segment_micros": 2.0}, OPERATOR_KEY),
        ("PATCH", "/v1/operator/tenants/demo-isp", {"price_per_segment_micros": True}, OPERATOR_KEY),
        ("PUT", "/v1/operator/transport-codes/+18005550100", {"daily_cap_parts": "5"}, OPERATOR_KEY),
    ],
)
def test_a_boolean_or_an_integer_is_taken_only_as_itself(platform: Platform, method, path, body, key):
    # GIVEN the demo settings as they are
    before = platform.call("GET", "/v1/settings")[1]
    # WHEN a boolean or a count is given as a number, a string or a float
    status, problem = platform.call(method, path, body, **({"key": key} if key else {}))
    # THEN it is refused as the document says (the schema's types are the validator's) and nothing changed
    assert status == 422, problem
    assert problem["field"].startswith("body.")
    assert platform.call("GET", "/v1/settings")[1] == before
