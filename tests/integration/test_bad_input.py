"""Bad input through the real api handler: each case a 4xx problem naming the field, nothing changed.

Also: messages too long to send are refused where they are created, a request that cannot be read
is answered only after its key's permission is checked, and an unexpected error is a problem
document carrying the request id.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from functions.domain.inbound import short_keyword_reply
from functions.domain.keywords import KeywordFamily
from functions.domain.tenants import ApiKey
from functions.handlers import inbound as inbound_handler
from functions.handlers.routes import common
from functions.logic.auth import hash_key
from infra.constants import INBOUND_QUEUE_ID
from local.demo import DEMO_TEMPLATE_ID, OPERATOR_API_KEY
from tests.integration.conftest import Platform

TRIGGER = "/v1/triggers/payment_received"
GOOD = {"contact_id": "contact-ada", "variables": {"company": "Demo Fiber", "amount": 4999}}
OUTAGE = {
    "saved_message": "planned_outage",
    "outage_start": "2026-12-01T02:00:00-05:00",
    "outage_end": "2026-12-01T04:00:00-05:00",
    "variables": {"company": "Demo Fiber"},
}
LIST = {
    "name": "Fence painting",
    "template_id": DEMO_TEMPLATE_ID,
    "phone_field": "cell",
    "name_field": "first",
    "mapping": {"first_name": "first", "quote": "quote_cents"},
}
LONG_CODE = "+14165550111"  # a Canadian long code: the platform answers keywords itself
ADA = "+14165550123"
NON_UTF8 = bytes.fromhex("c4 40 73 41 93")


def problem_of(
    platform: Platform, method: str, path: str, body: Any, key: str | None = None
) -> tuple[int, Any]:
    code, problem = platform.call(method, path, body, **({"key": key} if key else {}))
    assert 400 <= code < 500, problem
    assert problem["status"] == code
    assert {"type", "title", "detail"} <= set(problem)
    return code, problem


def nothing_queued(platform: Platform) -> None:
    assert platform.ready_count() == 0
    assert platform.table("MESSAGES_TABLE").scan()["Count"] == 0


def raw(platform: Platform, method: str, path: str, body: bytes, key: str) -> tuple[int, dict[str, str], Any]:
    headers = {"content-type": "application/json", "authorization": f"Bearer {key}"}
    status, response_headers, payload = platform.gateway.handle(method, path, headers, body)
    return (
        status,
        {k.lower(): v for k, v in response_headers.items()},
        json.loads(payload) if payload else None,
    )


# ---- messages too long to send ----


@pytest.mark.parametrize(
    "company",
    [
        "x" * 100_000,  # the case: 655 segments
        "x" * 1_500,  # 11 GSM segments, under the carrier's 1,600 characters
        "é" * 300 + "ж" * 400,  # UCS-2: 11 segments in 700 characters
    ],
)
def test_a_trigger_too_long_to_send_is_refused_naming_the_variable(platform: Platform, company: str):
    # GIVEN a variable that makes the message longer than 10 segments (or than the carrier takes)
    body = {**GOOD, "variables": {**GOOD["variables"], "company": company}}
    # WHEN the trigger is sent
    code, problem = problem_of(platform, "POST", TRIGGER, body)
    # THEN it is refused before anything is recorded, charged or queued
    assert (code, problem["field"]) == (400, "variables.company")
    assert "segments" in problem["detail"]
    nothing_queued(platform)


def test_ten_segments_still_go(platform: Platform):
    # GIVEN a message of exactly the 10-segment bound
    status, result = platform.call(
        "POST", TRIGGER, {**GOOD, "variables": {**GOOD["variables"], "company": "x" * 1_300}}
    )
    # THEN it is accepted
    assert status == 202, result
    assert result["messages"][0]["segments"] == 10


def test_tenant_templates_mass_messages_and_calling_lists_are_bounded_too(platform: Platform):
    # A tenant template's send names its variable
    long_name = {"first_name": "y" * 2_000, "quote": 100}
    code, problem = problem_of(
        platform, "POST", f"/v1/templates/{DEMO_TEMPLATE_ID}/messages", {**GOOD, "variables": long_name}
    )
    assert (code, problem["field"]) == (400, "variables.first_name")
    # A template that cannot fit even with empty variables is refused at submission
    code, problem = problem_of(
        platform, "POST", "/v1/templates", {"name": "Too long", "text": "ж" * 1_000, "variables": {}}
    )
    assert (code, problem["field"]) == (400, "text")
    # A mass message names its variable at creation
    code, problem = problem_of(
        platform, "POST", "/v1/mass-messages", {**OUTAGE, "variables": {"company": "z" * 5_000}}
    )
    assert (code, problem["field"]) == (400, "variables.company")
    assert platform.table("JOBS_TABLE").scan()["Count"] == 0
    # A calling list refuses the row, naming the record field, and keeps the others
    status, result = platform.call(
        "POST",
        "/v1/calling-lists",
        {
            **LIST,
            "records": [
                {"first": "Tom", "cell": "416-555-0301", "quote_cents": 100},
                {"first": "w" * 3_000, "cell": "416-555-0302", "quote_cents": 100},
            ],
        },
    )
    assert status == 202, result
    assert [(e["row"], e["field"]) for e in result["errors"]] == [(2, "first")]
    assert result["preview"]["recipients"] == 1
    nothing_queued(platform)


# ---- accounts, strict numbers, time zones, typed variables ----


@pytest.mark.parametrize("site", [{}, {"network_site_id": None}])
def test_an_account_without_a_network_site_keeps_its_contacts_readable(
    platform: Platform, site: dict[str, Any]
):
    # GIVEN an account saved without a network site, and a contact of it
    status, _ = platform.call("PUT", "/v1/accounts/acct-77", {"name": "No site", **site})
    assert status == 200
    status, contact = platform.call("POST", "/v1/contacts", {
        "name": "Lin", "contact_type": "Billing", "related_entity_id": "acct-77", "related_entity_name": "Lin home",
        "phones": [{"number": "(416) 555-0177", "number_type": "Mobile", "sms_opt_in": True}],
    })  # fmt: skip
    assert status == 201, contact
    # THEN the contact, the account's contacts and triggers by contact and by account all work
    assert platform.call("GET", f"/v1/contacts/{contact['id']}")[0] == 200
    status, listed = platform.call("GET", "/v1/contacts?entity_id=acct-77")
    assert (status, [c["id"] for c in listed]) == (200, [contact["id"]])
    variables = GOOD["variables"]
    assert platform.call("POST", TRIGGER, {"contact_id": contact["id"], "variables": variables})[0] == 202
    assert platform.call("POST", TRIGGER, {"account_id": "acct-77", "variables": variables})[0] == 202


@pytest.mark.parametrize("value", ["100", 2.0, True])
def test_money_counts_and_flags_are_strict(platform: Platform, value: Any):
    operator = OPERATOR_API_KEY
    tenant = "/v1/operator/tenants/demo-isp"
    before = platform.call("GET", "/v1/settings")[1]
    cases = [
        ("PATCH", tenant, {"price_per_segment_micros": value}, "body.price_per_segment_micros", operator),
        ("POST", "/v1/operator/tenants", {"tenant_id": "strict-co", "name": "S", "price_per_segment_micros": value},
         "body.price_per_segment_micros", operator),
        ("PUT", "/v1/operator/transport-codes/+18335550190", {"daily_cap_parts": value}, "body.daily_cap_parts",
         operator),
        ("PUT", "/v1/balance/auto-buy", {"enabled": True, "threshold_micros": value, "amount_micros": 1},
         "body.threshold_micros", None),
    ]  # fmt: skip
    if not isinstance(value, bool):  # a flag must be a JSON boolean: "true" and 1.0 are not
        flag = "true" if isinstance(value, str) else 1.0
        cases.append(("PATCH", "/v1/settings", {"sms_enabled": flag}, "body.sms_enabled", None))
    if not isinstance(value, float):  # a rate is any JSON number, never text or a boolean
        path = "/v1/operator/transport-codes/+18335550190"
        cases.append(("PUT", path, {"parts_per_second": value}, "body.parts_per_second", operator))
    for method, path, body, field, key in cases:
        _, problem = problem_of(platform, method, path, body, key)
        assert problem["field"] == field, (path, problem)
    # THEN nothing changed
    assert platform.call("GET", "/v1/settings")[1] == before
    assert platform.call("GET", "/v1/operator/transport-codes/+18335550190", key=operator)[0] == 404
    assert "strict-co" not in [
        t["tenant_id"] for t in platform.call("GET", "/v1/operator/tenants", key=operator)[1]
    ]


# "localtime" is a file in the host's zoneinfo folder (its own setting), not an IANA zone
@pytest.mark.parametrize(
    "zone", ["Mars/Olympus_Mons", "x" * 256, "y" * 100_000, "../../etc/passwd", "", "localtime"]
)
def test_a_time_zone_must_be_an_iana_zone(platform: Platform, zone: str):
    operator = OPERATOR_API_KEY
    body = {"tenant_id": "zoned", "name": "Zoned", "time_zone": zone}
    _, problem = problem_of(platform, "POST", "/v1/operator/tenants", body, operator)
    assert problem["field"] in ("time_zone", "body.time_zone")  # blank text is refused as a body's
    assert platform.call("POST", "/v1/operator/tenants/zoned/api-keys", {"name": "k", "permissions": ["sms:view"]},
                         key=operator)[0] == 404  # fmt: skip
    _, problem = problem_of(platform, "PATCH", "/v1/settings", {"time_zone": zone})
    assert problem["field"] in ("time_zone", "body.time_zone")
    assert platform.call("GET", "/v1/settings")[1]["time_zone"] == "America/Toronto"  # the demo's, unchanged


def test_typed_variables_are_strict(platform: Platform):
    cases = [
        ("/v1/mass-messages", {**OUTAGE, "outage_start": 12345}, 422, "body.outage_start"),
        ("/v1/mass-messages", {**OUTAGE, "outage_end": 1.5e9}, 422, "body.outage_end"),
        ("/v1/mass-messages", {**OUTAGE, "outage_start": "12345"}, 422, "body.outage_start"),  # digits as text
        ("/v1/mass-messages", {**OUTAGE, "outage_end": "1700000000.5"}, 422, "body.outage_end"),
        ("/v1/mass-messages", {**OUTAGE, "variables": {"company": 5}}, 400, "variables.company"),
        ("/v1/mass-messages", {**OUTAGE, "outage_end": OUTAGE["outage_start"]}, 400, "outage_end"),  # ends as it starts
        ("/v1/mass-messages", {**OUTAGE, "outage_end": "2026-12-01T01:00:00-05:00"}, 400, "outage_end"),  # before
        ("/v1/mass-messages", {**OUTAGE, "variables": {"company": "X", "outage_start": "2020-01-01T00:00:00Z"}},
         400, "variables.outage_start"),  # silently overridden by the body's field before
        (TRIGGER, {**GOOD, "variables": {"company": 5, "amount": 4999}}, 400, "variables.company"),
        (TRIGGER, {**GOOD, "variables": {"company": "X", "amount": "4999"}}, 400, "variables.amount"),
        (TRIGGER, {**GOOD, "variables": {"company": "X", "amount": 49.0}}, 400, "variables.amount"),
        (TRIGGER, {**GOOD, "variables": {"company": "X", "amount": True}}, 400, "variables.amount"),
        ("/v1/triggers/invoice_created", {**GOOD, "variables": {
            "company": "X", "invoice_number": "7", "amount": 1, "due_date": 20260101}}, 400, "variables.due_date"),
    ]  # fmt: skip
    for path, body, status, field in cases:
        code, problem = problem_of(platform, "POST", path, body)
        assert (code, problem["field"]) == (status, field), (body, problem)
    nothing_queued(platform)
    assert platform.table("JOBS_TABLE").scan()["Count"] == 0


# ---- calling lists ----


def test_calling_list_fields_name_record_fields(platform: Platform):
    records = [{"first": "Tom", "cell": "416-555-0301", "quote_cents": 100}]
    cases = [
        ({**LIST, "name_field": "firstname"}, "name_field"),
        ({**LIST, "phone_field": "mobile"}, "phone_field"),
        ({**LIST, "mapping": {"first_name": "first", "quote": "quote"}}, "mapping.quote"),
    ]
    for body, field in cases:
        code, problem = problem_of(platform, "POST", "/v1/calling-lists", {**body, "records": records})
        assert (code, problem["field"]) == (400, field), problem
    assert platform.table("JOBS_TABLE").scan()["Count"] == 0


def test_refused_rows_are_bounded_and_paged(platform: Platform):
    # GIVEN a list of 250 bad records and one good one
    bad = [{"first": f"P{n}", "cell": "not a number", "quote_cents": 1} for n in range(250)]
    good = {"first": "Tom", "cell": "416-555-0301", "quote_cents": 100}
    status, result = platform.call("POST", "/v1/calling-lists", {**LIST, "records": [*bad, good]})
    # THEN the answer lists the first 100, the total and a cursor for the rest
    assert status == 202, result
    assert [e["row"] for e in result["errors"]] == list(range(1, 101))
    assert result["errors_total"] == 250
    rows = [e["row"] for e in result["errors"]]
    cursor = result["errors_next_cursor"]
    while cursor is not None:
        status, page = platform.call(
            "GET", f"/v1/calling-lists/{result['id']}/errors?limit=60&cursor={cursor}"
        )
        assert status == 200, page
        rows += [e["row"] for e in page["items"]]
        cursor = page["next_cursor"]
    assert rows == list(range(1, 251))
    # AND an offset it did not hand out (past the end, or within a row) is a 400 naming the cursor
    real = int(result["errors_next_cursor"])
    for forged in (real + 1, real - 1, 10**9):
        status, problem = platform.call("GET", f"/v1/calling-lists/{result['id']}/errors?cursor={forged}")
        assert (status, problem["field"]) == (400, "cursor"), (forged, problem)
    # AND a list with nothing to send answers a bounded 409
    code, problem = problem_of(platform, "POST", "/v1/calling-lists", {**LIST, "records": bad})
    assert (code, problem["reason"], len(problem["errors"]), problem["errors_total"]) == (
        409,
        "no_valid_records",
        100,
        250,
    )


def test_a_csv_list_honours_the_record_cap_and_the_field_limit(platform: Platform):
    header = "first,cell,quote_cents\n"
    too_many = header + "Tom,416-555-0301,1\n" * 100_001
    huge_field = header + "Tom,416-555-0301," + "9" * 131_073 + "\n"
    for text in (too_many, huge_field):
        code, problem = problem_of(platform, "POST", "/v1/calling-lists", {**LIST, "csv": text})
        assert (code, problem["field"]) == (400, "csv"), problem
    assert platform.table("JOBS_TABLE").scan()["Count"] == 0


def test_a_csv_header_naming_a_field_twice_is_refused(platform: Platform):
    # GIVEN a header that names "cell" twice: each record would keep only the last cell under it
    text = "first,cell,cell\nTom,416-555-0301,1\n"
    code, problem = problem_of(platform, "POST", "/v1/calling-lists", {**LIST, "csv": text})
    # THEN the list is refused naming the CSV, and no job exists
    assert (code, problem["field"]) == (400, "csv"), problem
    assert "cell" in problem["detail"]
    assert platform.table("JOBS_TABLE").scan()["Count"] == 0


def test_a_csv_saved_by_a_spreadsheet_with_a_byte_order_mark_is_read(platform: Platform):
    # GIVEN a CSV as a spreadsheet saves it as "UTF-8 CSV": a byte order mark before the header
    text = "\ufeffcell,first,quote_cents\n416-555-0301,Tom,100\n,Ann,1\n"
    # WHEN it is uploaded
    status, result = platform.call("POST", "/v1/calling-lists", {**LIST, "csv": text})
    # THEN its first field is "cell", as written, and the row without one is named by it
    assert status == 202, result
    assert result["preview"]["recipients"] == 1
    assert [(e["row"], e["field"]) for e in result["errors"]] == [(2, "cell")]


# ---- bodies that cannot be read ----


def test_a_body_that_is_not_utf8_is_answered_after_authorization(platform: Platform):
    # A tenant key on an operator route: 403, whatever the body
    status, _, problem = raw(platform, "POST", "/v1/operator/tenants", NON_UTF8, platform.demo.api_key)
    assert (status, problem["status"]) == (403, 403)
    # The operator on its route, and a tenant on its own: 400 naming the body
    for path, key in (("/v1/operator/tenants", OPERATOR_API_KEY), (TRIGGER, platform.demo.api_key)):
        status, headers, problem = raw(platform, "POST", path, NON_UTF8, key)
        assert (status, problem["field"], headers["content-type"]) == (
            400,
            "body",
            "application/problem+json",
        )
    nothing_queued(platform)


def test_every_authorized_route_checks_the_permission_before_reading_the_request(platform: Platform):
    # GIVEN a key of the tenant with no permission at all
    key = "sms_key_with_no_permissions_for_this_test_only"
    platform_config = platform.table("CONFIG_TABLE")
    platform_config.put_item(Item={"pk": f"APIKEY#{hash_key(key)}", "sk": "APIKEY",
                                   **ApiKey(key_hash=hash_key(key), tenant_id="demo-isp", name="none",
                                            permissions=[]).model_dump()})  # fmt: skip
    document = platform.call("GET", "/v1/openapi.json", key=None)[1]
    routes = [
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if operation.get("security") != [{}]  # public routes (console, carriers' webhook) take no key
    ]
    assert len(routes) > 40
    for method, path in routes:
        concrete = path.replace("{", "").replace("}", "")
        # WHEN a request it cannot read arrives (a body that is not UTF-8, a bad query parameter)
        status, _, problem = raw(platform, method, f"{concrete}?limit=-1", NON_UTF8, key)
        # THEN the answer is the permission's
        assert (status, problem["status"]) == (403, 403), (method, path, problem)


def test_json_nested_too_deep_is_a_400(platform: Platform):
    deep = {**GOOD, "variables": {**GOOD["variables"], "extra": json.loads("[" * 40 + "]" * 40)}}
    for body in (b"[" * 1_000 + b"]" * 1_000, json.dumps(deep).encode()):
        status, _, problem = raw(platform, "POST", TRIGGER, body, platform.demo.api_key)
        assert (status, problem["title"]) == (400, "Malformed request body"), problem
    nothing_queued(platform)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        # past 4,300 digits Python refuses to read the integer (a 500 before); past 38 DynamoDB cannot hold it
        (TRIGGER, b'{"contact_id": "contact-ada", "variables": {"company": "X", "amount": 1%s}}' % (b"0" * 5_000),
         "variables.amount"),
        (TRIGGER, b'{"contact_id": "contact-ada", "variables": {"company": "X", "amount": -1%s}}' % (b"0" * 38),
         "variables.amount"),
        ("/v1/operator/transport-codes/+18335550190", b'{"parts_per_second": 1%s}' % (b"0" * 5_000),
         "parts_per_second"),
        ("/v1/operator/tenants/demo-isp", b'{"price_per_segment_micros": 1%s}' % (b"0" * 5_000),
         "price_per_segment_micros"),
        # NaN and Infinity are not JSON, though Python's reader takes them
        (TRIGGER, b'{"contact_id": "contact-ada", "variables": {"company": "X", "amount": NaN}}', "variables.amount"),
        ("/v1/operator/transport-codes/+18335550190", b'{"parts_per_second": Infinity}', "parts_per_second"),
    ],
)  # fmt: skip
def test_a_number_json_or_dynamodb_cannot_hold_is_a_400_naming_the_field(
    platform: Platform, path: str, body: bytes, field: str
):
    method = "POST" if path == TRIGGER else "PATCH" if "tenants" in path else "PUT"
    key = platform.demo.api_key if path == TRIGGER else OPERATOR_API_KEY
    before = platform.call("GET", "/v1/settings")[1]
    status, headers, problem = raw(platform, method, path, body, key)
    assert (status, problem["field"], headers["content-type"]) == (400, field, "application/problem+json")
    nothing_queued(platform)
    assert platform.call("GET", "/v1/operator/transport-codes/+18335550190", key=OPERATOR_API_KEY)[0] == 404
    assert platform.call("GET", "/v1/settings")[1] == before


def test_a_lone_surrogate_is_refused_at_once_naming_the_field(platform: Platform):
    surrogate = "\ud800"
    cases = [
        ("POST", TRIGGER, {**GOOD, "variables": {"company": surrogate, "amount": 1}}, "variables.company"),
        ("POST", "/v1/mass-messages", {**OUTAGE, "variables": {"company": "x" + surrogate}}, "variables.company"),
        ("POST", "/v1/calling-lists", {**LIST, "records": [{"first": surrogate, "cell": "416-555-0301"}]},
         "records.0.first"),
        ("PUT", "/v1/accounts/acct-9", {"name": "A", "groups": ["ok", surrogate]}, "groups.1"),
        ("POST", "/v1/companies", {"name": surrogate}, "name"),
    ]  # fmt: skip
    started = time.monotonic()
    for method, path, body, field in cases:
        status, _, problem = raw(platform, method, path, json.dumps(body).encode(), platform.demo.api_key)
        assert (status, problem["field"]) == (400, field), problem
    assert time.monotonic() - started < 5
    nothing_queued(platform)
    assert platform.call("GET", "/v1/accounts/acct-9")[0] == 404


# ---- unexpected errors ----


def test_an_unexpected_error_is_a_problem_document_with_the_request_id(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
):
    # GIVEN a use case that fails unexpectedly
    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(common.services().triggers, "send", broken)
    # WHEN it is called
    status, headers, problem = raw(
        platform, "POST", TRIGGER, json.dumps(GOOD).encode(), platform.demo.api_key
    )
    # THEN the answer is a 500 problem document naming the request, not a bare message
    assert (status, headers["content-type"], problem["status"]) == (500, "application/problem+json", 500)
    assert problem["correlation_id"]
    assert "disk on fire" not in json.dumps(problem)


@pytest.mark.parametrize("authorization", ["Bearer sms_" + "\udcff" * 3, "Bearer sms_" + "k" * 10_000])
def test_a_malformed_key_is_refused_by_the_authorizer_not_a_crash(platform: Platform, authorization: str):
    headers = {"content-type": "application/json", "authorization": authorization}
    status, _, _ = platform.gateway.handle("POST", TRIGGER, headers, json.dumps(GOOD).encode())
    assert status == 403


def test_a_keyword_reply_too_long_for_the_bound_goes_in_its_short_form(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
):
    # GIVEN a message sent from a long code
    code = {"parts_per_second": 50, "tenant_ids": ["demo-isp"]}
    status, _ = platform.call("PUT", f"/v1/operator/transport-codes/{LONG_CODE}", code, key=OPERATOR_API_KEY)
    assert status == 200
    assert platform.call("POST", TRIGGER, {**GOOD, "sending_number": LONG_CODE})[0] == 202
    # AND an inbound function whose messages may be at most 80 characters
    monkeypatch.setenv("MESSAGE_MAX_CHARACTERS", "80")
    inbound_handler.inbound.cache_clear()
    platform.run_dispatchers()
    sent_before = len(platform.simulator.records)
    # WHEN the recipient asks for HELP (the full answer names the tenant, its phone and email)
    platform.simulator.receive(ADA, LONG_CODE, "HELP")
    poller = platform.poller(INBOUND_QUEUE_ID, "inbound")
    while poller.poll_once():
        pass
    platform.run_dispatchers()
    # THEN the answer sent is the short one, within the bound
    replies = [r.body for r in platform.simulator.records[sent_before:] if r.origination == LONG_CODE]
    inbound_handler.inbound.cache_clear()
    assert replies == [short_keyword_reply(KeywordFamily.HELP)]
    assert len(replies[0]) <= 80


def _cursor(value: Any) -> str:
    import base64

    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


CURSOR_ROUTES = [
    "/v1/messages",
    "/v1/balance/ledger",
    "/v1/opt-outs",
    "/v1/replies",
    "/v1/status-callback/deliveries",
]
FORGED_CURSORS = [
    {"tenant_id": "demo-isp", "entry_id": 5, "at_key": 5},  # numbers where key text belongs
    {"tenant_id": "demo-isp", "entry_id": None, "at_key": []},
    {"tenant_id": "demo-isp", "entry_id": "", "at_key": ""},  # empty key values
    {"tenant_id": "demo-isp", "message_id": "", "created_key": ""},
    {"tenant_id": "demo-isp", "message_id": "m", "created_key": "x" * 2000},  # beyond a key's size
    {"pk": "TENANT#demo-isp", "sk": 7},
    "",
    7,
    "x" * 3000,
    "not-a-key",
]


@pytest.mark.parametrize("path", CURSOR_ROUTES)
@pytest.mark.parametrize("forged", FORGED_CURSORS, ids=lambda value: json.dumps(value)[:40])
def test_a_forged_cursor_is_a_400_naming_the_cursor_on_every_paged_route(
    platform: Platform, path: str, forged: Any
):
    status, problem = platform.call("GET", f"{path}?cursor={_cursor(forged)}")
    assert status in (400, 422), problem
    assert problem["field"].endswith("cursor"), problem


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/v1/accounts/" + "y" * 1100, {"name": "long"}),
        ("PUT", "/v1/accounts/%20", {"name": "blank"}),
        ("PUT", "/v1/phone-number-types/%20", {"sms_capable": True}),
        ("PUT", "/v1/accounts/%20acct", {"name": "leading space"}),
        ("GET", "/v1/messages/" + "m" * 101, None),
        ("GET", "/v1/contacts/%20%20", None),
    ],
)
def test_a_path_id_that_is_blank_too_long_or_unprintable_is_refused_naming_it(
    platform: Platform, method: str, path: str, body: Any
):
    before = platform.call("GET", "/v1/settings")[1]
    status, problem = platform.call(method, path, body)
    assert status == 422, problem
    assert problem["field"].startswith("path."), problem
    assert platform.call("GET", "/v1/settings")[1] == before


def test_a_path_id_is_checked_only_after_the_keys_permission(platform: Platform):
    status, _ = platform.call("PATCH", "/v1/operator/tenants/" + "t" * 200, {"name": "x"})
    assert status == 403


CONTACT = {
    "name": "Lin", "contact_type": "Billing", "related_entity_id": "acct-1", "related_entity_name": "Lin home",
    "phones": [{"number": "(416) 555-0177", "number_type": "Mobile", "sms_opt_in": True}],
}  # fmt: skip


@pytest.mark.parametrize("text", ["   ", "\t", "a\u0000b", "line\u0007bell"])
def test_text_a_person_would_type_is_never_blank_nor_holds_control_characters(platform: Platform, text: str):
    # GIVEN bodies whose text fields (and lists of texts) are blank or hold control characters
    cases = [
        ("PUT", "/v1/contacts/contact-ada", {**CONTACT, "name": text}, "body.name"),
        ("POST", "/v1/contacts", {**CONTACT, "related_entity_name": text}, "body.related_entity_name"),
        ("POST", "/v1/companies", {"name": text}, "body.name"),
        ("PUT", "/v1/accounts/acct-probe", {"name": "A", "groups": ["ok", text]}, "body.groups"),
        ("POST", "/v1/templates", {"name": "t", "text": text}, "body.text"),
        ("POST", TRIGGER, {**GOOD, "signature_id": text}, "body.signature_id"),
        ("POST", TRIGGER, {**GOOD, "variables": {"company": text, "amount": 1}}, "variables.company"),
    ]
    before = platform.call("GET", "/v1/settings")[1]
    for method, path, body, field in cases:
        status, problem = platform.call(method, path, body)
        assert 400 <= status < 500, (path, problem)
        assert problem["field"].startswith(field), (path, problem)
    # THEN nothing changed and nothing was sent
    assert platform.call("GET", "/v1/settings")[1] == before
    assert platform.call("GET", "/v1/contacts/contact-ada")[1]["name"] != text
    assert platform.call("GET", "/v1/accounts/acct-probe")[0] == 404
    nothing_queued(platform)


def test_text_keeps_its_line_breaks_and_tabs(platform: Platform):
    status, template = platform.call(
        "POST",
        "/v1/templates",
        {"name": "lines", "text": "Hi {{name}},\n\tsee you", "variables": {"name": "text"}},
    )
    assert status == 201, template


@pytest.mark.parametrize("amount", [10**30, -(10**30), 100_000_000_001])
def test_a_template_amount_beyond_a_billion_dollars_is_refused(platform: Platform, amount: int):
    status, problem = platform.call(
        "POST", TRIGGER, {**GOOD, "variables": {"company": "X", "amount": amount}}
    )
    assert (status, problem["field"]) == (400, "variables.amount"), problem
    nothing_queued(platform)


@pytest.mark.parametrize("flag", ["yes", 1, "true"])
def test_the_calling_list_upload_flag_is_a_json_boolean(platform: Platform, flag: Any):
    status, problem = platform.call("POST", "/v1/calling-lists", {**LIST, "upload": flag})
    assert (status, problem["field"]) == (422, "body.upload"), problem


@pytest.mark.parametrize("key", ["", " ", "two words"])
def test_an_empty_or_spaced_idempotency_key_is_refused_not_taken_as_a_key(platform: Platform, key: str):
    for path, body in [(TRIGGER, GOOD), ("/v1/balance/purchases", {"amount_micros": 5_000_000})]:
        status, problem = platform.call("POST", path, body, headers={"idempotency-key": key})
        assert status == 422, (path, problem)
        assert problem["field"] == "header.idempotency-key", problem
    nothing_queued(platform)


def test_a_transport_code_read_can_be_put_back_as_it_is(platform: Platform):
    # GIVEN a code with a fractional rate; WHEN its answer is put back unchanged
    path = "/v1/operator/transport-codes/+18335550191"
    status, code = platform.call("PUT", path, {"parts_per_second": 0.5}, key=OPERATOR_API_KEY)
    assert (status, code["parts_per_second"]) == (200, 0.5)  # a JSON number, as it was given
    body = {
        name: code[name]
        for name in ("kind", "parts_per_second", "daily_cap_parts", "opt_out_scope", "tenant_ids")
    }
    status, again = platform.call("PUT", path, body, key=OPERATOR_API_KEY)
    # THEN it is taken, and nothing changed
    assert (status, again) == (200, code)


@pytest.mark.parametrize("content_type", ["APPLICATION/JSON", "Application/Json; charset=UTF-8"])
def test_a_media_type_is_read_whatever_its_case(platform: Platform, content_type: str):
    status, settings = platform.call(
        "PATCH", "/v1/settings", {"sms_enabled": True}, headers={"content-type": content_type}
    )
    assert status == 200, settings


@pytest.mark.parametrize("filters", [{"network_site_ids": ["x" * 101]}, {"account_groups": [""]}])
def test_a_mass_messages_filter_values_are_bounded_like_ids(platform: Platform, filters: dict[str, Any]):
    status, problem = platform.call("POST", "/v1/mass-messages", {**OUTAGE, "filters": filters})
    assert status == 422, problem
    assert problem["field"].startswith(f"body.filters.{next(iter(filters))}"), problem


@pytest.mark.parametrize("text", ["a%00b", "%20%20", "a%01b"])
def test_free_text_in_a_query_is_visible_text_too(platform: Platform, text: str):
    number = "%2B14165559602"
    assert platform.call("PUT", f"/v1/opt-outs/{number}", {})[0] in (200, 201)
    status, problem = platform.call("DELETE", f"/v1/opt-outs/{number}?note={text}")
    assert (status, problem["field"]) == (422, "query.note"), problem
    status, problem = platform.call("GET", f"/v1/contacts?name={text}")
    assert (status, problem["field"]) == (422, "query.name"), problem
    assert platform.call("GET", f"/v1/opt-outs/{number}")[1]["opted_out"] is True  # unchanged
