"""The sent-messages log through the API: filters, cursor pages, a job's messages, and the CSV export."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest

from functions.dal.messages import MessagesTable
from functions.domain.messages import Message, MessageStatus, Recipient, RejectReason, StatusChange
from local.demo import DEMO_API_KEY, OPERATOR_API_KEY
from tests.integration.conftest import Platform

DAY = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
AUTH = {"authorization": f"Bearer {DEMO_API_KEY}"}


def ok(platform: Platform, path: str) -> Any:
    status, body = platform.call("GET", path)
    assert status == 200, body
    return body


def ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["items"]]


def every_page(platform: Platform, path: str, limit: int) -> list[str]:
    """Follow next_cursor to the end; the ids in order."""
    found: list[str] = []
    cursor = None
    for _ in range(50):
        separator = "&" if "?" in path else "?"
        page = ok(platform, f"{path}{separator}limit={limit}" + (f"&cursor={cursor}" if cursor else ""))
        found += ids(page)
        cursor = page["next_cursor"]
        if cursor is None:
            return found
    pytest.fail("the cursor never ended")


@pytest.fixture
def history(platform: Platform) -> list[Message]:
    """Twelve messages over six days, from two real sends: varied status, number, entity and trigger."""
    table = MessagesTable(platform.table("MESSAGES_TABLE"))
    sent = platform.send(
        "/v1/triggers/payment_received",
        {"contact_id": "contact-ada", "variables": {"company": "Demo Fiber", "amount": 4999}},
    )
    live = table.get(sent["id"])
    assert live is not None
    made: list[Message] = []
    people = [
        ("contact-ada", "Ada Lovelace", "acct-1001", "+14165550123", "payment_received"),
        ("contact-grace", "Grace Hopper", "acct-1002", "+12125550187", "ticket_created"),
        ("contact-charles", "Charles Babbage", "acct-1001", "+14165550125", "invoice_due_soon"),
    ]
    statuses = [MessageStatus.DELIVERED, MessageStatus.FAILED, MessageStatus.SENT, MessageStatus.DELIVERED]
    for index in range(12):
        contact_id, name, account, number, trigger = people[index % 3]
        status = statuses[index % 4]
        created = DAY + timedelta(hours=12 * index)
        message = live.model_copy(
            update={
                "message_id": f"msg_hist_{index:02d}",
                "created_at": created,
                "status": status,
                "trigger": trigger,
                "reject_reason": RejectReason.BLOCKED if status is MessageStatus.FAILED else None,
                "recipient": _recipient(contact_id, name, account, number),
                "history": [StatusChange(status=status, at=created)],
            }
        )
        table.put_new(message)
        made.append(message)
    return made


def _recipient(contact_id: str, name: str, account: str, number: str) -> Recipient:
    return Recipient(
        contact_id=contact_id,
        name=name,
        contact_type="Billing",
        related_entity_type="account",
        related_entity_id=account,
        related_entity_name=f"{name.split()[1]} residence",
        phone_number=number,
    )


def expected(history: list[Message], **conditions: Any) -> list[str]:
    """Ids newest first, of the history messages matching every condition."""
    chosen = [
        m
        for m in history
        if all(
            (
                conditions.get("status") in (None, m.status),
                conditions.get("phone") in (None, m.recipient.phone_number),
                conditions.get("entity") in (None, m.recipient.related_entity_id),
                conditions.get("trigger") in (None, m.trigger),
                conditions.get("after") is None or m.created_at >= conditions["after"],
                conditions.get("before") is None or m.created_at < conditions["before"],
            )
        )
    ]
    return [m.message_id for m in sorted(chosen, key=lambda m: m.created_at, reverse=True)]


def test_filters_narrow_the_log_and_every_page_is_newest_first(platform: Platform, history: list[Message]):
    # GIVEN the live send (created now) and twelve older messages
    log = ok(platform, "/v1/messages?limit=200")
    assert len(log["items"]) == 13
    assert log["next_cursor"] is None

    # THEN each filter gives exactly the matching messages, newest first
    after, before = DAY + timedelta(days=1), DAY + timedelta(days=4)
    window = f"created_from={quote(after.isoformat())}&created_to={before.isoformat().replace('+00:00', 'Z')}"
    cases = [
        ("status=Failed", expected(history, status=MessageStatus.FAILED)),
        ("status=In%20Progress", []),
        ("phone_number=212-555-0187", expected(history, phone="+12125550187")),
        ("entity_id=acct-1001&trigger=invoice_due_soon", expected(history, entity="acct-1001", trigger="invoice_due_soon")),
        ("entity_type=network_site", []),
        (window, expected(history, after=after, before=before)),
        (f"{window}&status=Delivered", expected(history, after=after, before=before, status=MessageStatus.DELIVERED)),
    ]  # fmt: skip
    for query, wanted in cases:
        assert ids(ok(platform, f"/v1/messages?{query}&limit=200")) == wanted, query
        # AND one row per page yields the same, however sparse the filter
        assert every_page(platform, f"/v1/messages?{query}", limit=1) == wanted, query

    # AND a boundary is exact: from is inclusive, to exclusive, to the microsecond
    at = history[3].created_at.isoformat()
    exact = ok(platform, f"/v1/messages?created_from={quote(at)}&limit=200")
    assert ids(exact)[-1] == history[3].message_id
    assert history[3].message_id not in ids(ok(platform, f"/v1/messages?created_to={quote(at)}&limit=200"))


BAD_FILTERS = [
    ("status=Lost", 422, "query.status"),
    ("created_from=2026-03-10T12:00:00", 400, "created_from"),
    ("created_from=yesterday", 400, "created_from"),
    ("created_from=2026-03-12T00:00:00Z&created_to=2026-03-11T00:00:00Z", 400, "created_to"),
    ("phone_number=%2B442071838750", 400, "phone_number"),
    ("trigger=moon_landing", 400, "trigger"),
    ("entity_type=planet", 422, "query.entity_type"),
    ("job_id=job_unknown", 404, "job_id"),
    ("cursor=bm90IGEgY3Vyc29y", 400, "cursor"),
    ("limit=0", 422, "query.limit"),
]


def test_a_bad_filter_is_a_problem_naming_it(platform: Platform):
    for query, status, field in BAD_FILTERS:
        for path in ("/v1/messages", "/v1/messages.csv"):
            code, _, payload = platform.gateway.handle("GET", f"{path}?{query}", AUTH, b"")
            problem = json.loads(payload)
            assert (code, problem["field"]) == (status, field), (path, problem)


def test_a_cursor_belongs_to_its_tenant(platform: Platform, history: list[Message]):
    page = ok(platform, "/v1/messages?limit=2")
    assert page["next_cursor"]
    # GIVEN another tenant's key
    platform.call(
        "POST", "/v1/operator/tenants", {"tenant_id": "other", "name": "Other"}, key=OPERATOR_API_KEY
    )
    _, issued = platform.call(
        "POST",
        "/v1/operator/tenants/other/api-keys",
        {"name": "k", "permissions": ["sms:view"]},
        key=OPERATOR_API_KEY,
    )
    other = issued["api_key"]
    # THEN the first tenant's cursor is refused, and its log is not the other's
    code, problem = platform.call("GET", f"/v1/messages?cursor={page['next_cursor']}", key=other)
    assert (code, problem["field"]) == (400, "cursor")
    assert platform.call("GET", "/v1/messages", key=other) == (200, {"items": [], "next_cursor": None})
    code, problem = platform.call("GET", f"/v1/messages/{history[0].message_id}", key=other)
    assert code == 404


def test_a_mass_message_s_messages_come_from_its_job(platform: Platform):
    # GIVEN a confirmed mass message to three contacts, sent and delivered, and a triggered message
    for account, site in (("acct-1001", "site-north"), ("acct-1002", "site-north")):
        assert (
            platform.call("PUT", f"/v1/accounts/{account}", {"name": account, "network_site_id": site})[0]
            == 200
        )
    code, job = platform.call("POST", "/v1/mass-messages", {
        "saved_message": "unplanned_outage_no_eta", "outage_start": "2026-12-01T02:00:00-05:00",
        "variables": {"company": "Demo Fiber"}, "filters": {"network_site_ids": ["site-north"]},
    })  # fmt: skip
    assert code == 202, job
    assert (
        platform.call(
            "POST",
            f"/v1/mass-messages/{job['id']}/confirm",
            {"confirmation_token": job["confirmation_token"]},
        )[0]
        == 202
    )
    platform.send(
        "/v1/triggers/service_reactivated", {"contact_id": "contact-grace", "variables": {"company": "D"}}
    )
    platform.run_fanout()
    platform.run_dispatchers()
    platform.deliver_receipts()

    # THEN the job filter lists exactly its messages, paged one at a time too
    mine = ids(ok(platform, f"/v1/messages?job_id={job['id']}&limit=50"))
    assert len(mine) == job["preview"]["recipients"] == 3
    assert sorted(every_page(platform, f"/v1/messages?job_id={job['id']}", limit=1)) == sorted(mine)
    assert ids(ok(platform, f"/v1/messages?job_id={job['id']}&status=Delivered&limit=50")) != []
    assert ok(platform, f"/v1/messages?job_id={job['id']}&status=Pending")["items"] == []
    assert ids(ok(platform, f"/v1/messages?job_id={job['id']}&phone_number=%2B12125550187")) == [
        next(
            i for i in mine if platform.call("GET", f"/v1/messages/{i}")[1]["phone_number"] == "+12125550187"
        )
    ]
    assert all(
        item["job_id"] == job["id"] for item in ok(platform, f"/v1/messages?job_id={job['id']}")["items"]
    )


def test_the_csv_export_is_the_filtered_view_with_a_link_to_the_rest(
    platform: Platform, history: list[Message]
):
    status, headers, body = platform.gateway.handle("GET", "/v1/messages.csv?status=Delivered", AUTH, b"")
    assert status == 200
    assert headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert [row["id"] for row in rows] == [
        *[i for i in ids(ok(platform, "/v1/messages?status=Delivered&limit=200"))]
    ]
    first = rows[-1]
    assert first["phone_number"].startswith("+1")  # a phone number is not quoted as a formula
    assert first["body"].endswith("Reply STOP to unsubscribe.")
    assert "Link" not in headers

    # WHEN the export is cut at a few rows
    status, headers, body = platform.gateway.handle(
        "GET", "/v1/messages.csv?status=Delivered&limit=4", AUTH, b""
    )
    assert (status, headers["X-Row-Count"]) == (200, "4")
    link = headers["Link"]
    assert link.startswith("</v1/messages.csv?status=Delivered&limit=4&cursor=")
    assert link.endswith('>; rel="next"')
    # THEN following the links yields every row once
    seen = [row["id"] for row in csv.DictReader(io.StringIO(body.decode()))]
    while "Link" in headers:
        status, headers, body = platform.gateway.handle("GET", headers["Link"][1:].split(">")[0], AUTH, b"")
        seen += [row["id"] for row in csv.DictReader(io.StringIO(body.decode()))]
    assert seen == [row["id"] for row in rows]

    # AND a CSV needs the view permission like the log; a path that only looks like it is not found
    assert platform.gateway.handle("GET", "/v1/messages.csv", {}, b"")[0] == 401
    assert platform.gateway.handle("GET", "/v1/messages/csv", AUTH, b"")[0] == 404
