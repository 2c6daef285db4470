"""Calling lists: records merged into an approved template, refused per row, previewed, sent to each."""

from __future__ import annotations

from typing import Any

from functions.dal.opt_outs import GLOBAL_SCOPE, OptOut, OptOutsTable
from functions.domain.messages import utc_now
from local.demo import DEMO_TEMPLATE_ID
from tests.integration.conftest import Platform

LIST = {
    "name": "Fence painting, November",
    "template_id": DEMO_TEMPLATE_ID,
    "phone_field": "cell",
    "name_field": "first",
    "mapping": {"first_name": "first", "quote": "quote_cents"},
}
RECORDS = [
    {"first": "Tom", "cell": "(416) 555-0301", "quote_cents": 125000},
    {"first": "Becky", "cell": "+44 20 7183 8750", "quote_cents": 9900},  # not NANP
    {"first": "Huck", "cell": "416-555-0302"},  # no quote
    {"first": "Polly", "cell": "416-555-0303", "quote_cents": "a lot"},  # not an amount
    {"first": "Sid", "cell": "4165550301", "quote_cents": 5000},  # Tom's number again
    {"first": "Joe", "cell": "416-555-0304", "quote_cents": 7700},  # opted out
    {"first": "Mary", "cell": "416-555-0305", "quote_cents": 8800},
]


def upload(platform: Platform, body: dict[str, Any]) -> dict[str, Any]:
    code, result = platform.call("POST", "/v1/calling-lists", body)
    assert code == 202, result
    return result


def opt_out(platform: Platform, number: str) -> None:
    OptOutsTable(platform.table("OPT_OUTS_TABLE")).add(
        OptOut(
            scope=GLOBAL_SCOPE, phone_number=number, opted_out_at=utc_now(), source="keyword", actor="STOP"
        )
    )


def test_an_upload_reports_each_refused_record_and_previews_the_rest(platform: Platform):
    opt_out(platform, "+14165550304")
    result = upload(platform, {**LIST, "records": RECORDS})

    assert [(e["row"], e["field"]) for e in result["errors"]] == [
        (2, "cell"),
        (3, "quote_cents"),
        (4, "quote_cents"),
    ]
    preview = result["preview"]
    assert preview["invalid_records"] == 3
    assert preview["recipients"] == 2  # Tom and Mary
    assert preview["duplicates_removed"] == 1
    assert preview["excluded"] == {"opted_out": 1}
    assert preview["total_micros"] == preview["segments_total"] * 8_500
    assert result["status"] == "previewed"
    assert platform.ready_count() == 0


def test_a_confirmed_list_sends_each_record_its_personalized_message(platform: Platform):
    result = upload(platform, {**LIST, "records": RECORDS})
    code, _ = platform.call(
        "POST",
        f"/v1/calling-lists/{result['id']}/confirm",
        {"confirmation_token": result["confirmation_token"]},
    )
    assert code == 202
    platform.simulator.settings.fixed_outcomes["+14165550305"] = "TEXT_BLOCKED"
    platform.run_fanout()
    platform.run_dispatchers()
    platform.deliver_receipts()

    bodies = {record.destination: record.body for record in platform.simulator.records}
    assert set(bodies) == {"+14165550301", "+14165550305", "+14165550304"}
    assert bodies["+14165550301"].startswith(
        "Hi Tom, sorry we missed you. Your fence quote of $1,250.00 is ready."
    )
    assert bodies["+14165550305"].startswith("Hi Mary,")

    code, job = platform.call("GET", f"/v1/calling-lists/{result['id']}")
    assert job["status"] == "queued"
    assert job["progress"]["Delivered"] == 2
    assert job["progress"]["Failed"] == 1  # every record ends with a final status and its reason
    logged = platform.call("GET", "/v1/messages")[1]["items"]
    mary = next(item for item in logged if item["phone_number"] == "+14165550305")
    assert (mary["status"], mary["reject_reason"]) == ("Failed", "blocked")
    assert (mary["recipient_name"], mary["contact_type"], mary["related_entity"]) == (
        "Mary", "Calling list", "Fence painting, November"
    )  # fmt: skip


def test_a_list_can_come_as_csv(platform: Platform):
    csv_text = "first,cell,quote_cents\nAnn,416-555-0311,1500\nBo,not a phone,1600\n"
    result = upload(platform, {**LIST, "csv": csv_text})
    assert result["preview"]["recipients"] == 1
    assert result["errors"] == [
        {
            "row": 2,
            "field": "cell",
            "reason": "invalid_phone_number",
            "error": "'not a phone' is not a phone number",
        }
    ]


def test_an_unapproved_template_or_a_bad_mapping_is_refused(platform: Platform):
    _, template = platform.call(
        "POST",
        "/v1/templates",
        {"name": "New", "text": "Hi {{first_name}}", "variables": {"first_name": "text"}},
    )
    code, problem = platform.call(
        "POST",
        "/v1/calling-lists",
        {**LIST, "template_id": template["id"], "mapping": {"first_name": "first"}, "records": RECORDS},
    )
    assert (code, problem["reason"]) == (409, "template_not_approved")
    code, problem = platform.call(
        "POST", "/v1/calling-lists", {**LIST, "mapping": {"first_name": "first"}, "records": RECORDS}
    )
    assert (code, problem["field"]) == (400, "mapping")
    code, problem = platform.call(
        "POST", "/v1/calling-lists", {**LIST, "records": RECORDS, "csv": "a,b\n1,2\n"}
    )
    assert (code, problem["field"]) == (400, "records")
    code, problem = platform.call("POST", "/v1/calling-lists", {**LIST, "records": [RECORDS[1]]})
    assert (code, problem["reason"]) == (409, "no_valid_records")
    assert problem["errors"] == [
        {
            "row": 1,
            "field": "cell",
            "reason": "invalid_phone_number",
            "error": "'+44 20 7183 8750' is not a US or Canadian number",
        }
    ]
    assert platform.table("JOBS_TABLE").scan()["Count"] == 0


def test_an_opt_out_after_the_preview_makes_it_stale(platform: Platform):
    result = upload(platform, {**LIST, "records": RECORDS})
    opt_out(platform, "+14165550305")
    code, problem = platform.call(
        "POST",
        f"/v1/calling-lists/{result['id']}/confirm",
        {"confirmation_token": result["confirmation_token"]},
    )
    assert (code, problem["reason"]) == (409, "preview_stale")
    assert platform.ready_count() == 0
