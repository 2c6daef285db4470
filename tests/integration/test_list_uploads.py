"""Calling lists as files: a pre-signed upload, its arrival (an S3 event on the uploads queue), the
one-pass validation, refused rows page by page and as a download, and the preview of the rest."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from functions.logic import calling_lists
from tests.integration.conftest import Platform
from tests.integration.test_calling_lists import LIST

CSV = (
    "first,cell,quote_cents\n"
    "Tom,(416) 555-0301,125000\n"
    "Becky,+44 20 7183 8750,9900\n"  # not NANP
    "Huck,416-555-0302,\n"  # no quote
    "Polly,416-555-0303,a lot\n"  # not an amount
    "Sid,4165550301,5000\n"  # Tom's number again
    "Joe,416-555-0304\n"  # a cell short
    '"Mary, Jane",416-555-0305,8800\n'
)


def request_upload(platform: Platform) -> dict[str, Any]:
    code, job = platform.call("POST", "/v1/calling-lists", {**LIST, "upload": True})
    assert code == 202, job
    return job


def put(job: dict[str, Any], body: bytes) -> None:
    upload = job["upload"]
    answer = requests.put(upload["url"], data=body, headers=upload["headers"], timeout=10)
    assert answer.status_code == 200, answer.text


def test_an_uploaded_list_with_bad_rows_is_validated_and_previewed(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
):
    # GIVEN a calling list waiting for its file
    job = request_upload(platform)
    assert job["status"] == "awaiting_upload"
    assert (job["upload"]["method"], job["upload"]["max_records"]) == ("PUT", 1_000_000)

    # WHEN the file is PUT to the pre-signed URL and its arrival is processed
    put(job, CSV.encode())
    done = platform.settle(f"/v1/calling-lists/{job['id']}")

    # THEN every row was checked once: the refused by reason, the rest previewed
    assert done["status"] == "previewed", done
    assert done["validation"]["records"] == 7
    assert done["validation"]["accepted"] == 3
    assert done["validation"]["refused"] == {"invalid_phone_number": 1, "missing_field": 1, "invalid_value": 1,
                                             "malformed_row": 1}  # fmt: skip
    assert done["preview"]["recipients"] == 2  # Tom and Mary; Sid repeats Tom's number
    assert done["preview"]["duplicates_removed"] == 1
    assert done["preview"]["invalid_records"] == 4

    # AND the refused rows are served page by page, in row order
    code, first = platform.call("GET", f"/v1/calling-lists/{job['id']}/errors?limit=3")
    assert code == 200, first
    assert [(e["row"], e["reason"]) for e in first["items"]] == [
        (2, "invalid_phone_number"), (3, "missing_field"), (4, "invalid_value")
    ]  # fmt: skip
    code, rest = platform.call(
        "GET", f"/v1/calling-lists/{job['id']}/errors?limit=3&cursor={first['next_cursor']}"
    )
    assert [(e["row"], e["reason"]) for e in rest["items"]] == [(6, "malformed_row")]
    assert rest["next_cursor"] is None

    # AND as a CSV download: in the answer while it is small, else from a pre-signed URL
    path = f"/v1/calling-lists/{job['id']}/errors.csv"
    status, headers, body = platform.gateway.handle("GET", path, {"authorization": f"Bearer {_key()}"}, b"")
    assert (status, headers["Content-Type"]) == (200, "text/csv; charset=utf-8")
    assert body.decode().splitlines()[0] == "row,field,reason,error"
    assert len(body.decode().splitlines()) == 5
    monkeypatch.setattr(calling_lists, "INLINE_DOWNLOAD_BYTES", 10)
    status, headers, _ = platform.gateway.handle("GET", path, {"authorization": f"Bearer {_key()}"}, b"")
    assert status == 303
    assert requests.get(headers["Location"], timeout=10).content == body
    # AND, for a page that cannot send its key with a plain link, the pre-signed URL itself
    code, link = platform.call("GET", f"{path}?link=true")
    assert code == 200, link
    assert datetime.fromisoformat(link["expires_at"]) > datetime.now(UTC)
    downloaded = requests.get(link["url"], timeout=10)
    assert downloaded.content == body
    assert "attachment" in downloaded.headers["Content-Disposition"]

    # AND the list sends each accepted record its own message once confirmed
    ok_confirm = platform.call(
        "POST", f"/v1/calling-lists/{job['id']}/confirm", {"confirmation_token": done["confirmation_token"]}
    )
    assert ok_confirm[0] == 202
    platform.run_fanout()
    platform.run_dispatchers()
    assert sorted(record.destination for record in platform.simulator.records) == [
        "+14165550301",
        "+14165550305",
    ]
    mary = next(r for r in platform.simulator.records if r.destination == "+14165550305")
    assert mary.body.startswith("Hi Mary, Jane,")


def _key() -> str:
    from local.demo import DEMO_API_KEY

    return DEMO_API_KEY


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"first,cell,quote_cents\n" + b"Ann,416-555-0311,1500\n" * 4, "too_many_records"),
        (b"first,cell,quote_cents\nAnn,416-555-0311,15\xff00\n", "not_utf8_csv"),
        (b"first,cell,quote_cents\nAnn,not a phone,1500\n", "no_valid_records"),
        (b"first,cell,cell\nAnn,416-555-0311,1500\n", "duplicate_columns"),  # a record keeps one "cell"
    ],
)
def test_an_upload_refused_as_a_whole_says_why_and_previews_nothing(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, body: bytes, reason: str
):
    monkeypatch.setattr(calling_lists, "MAX_UPLOAD_RECORDS", 3)
    job = request_upload(platform)
    put(job, body)
    done = platform.settle(f"/v1/calling-lists/{job['id']}")
    assert done["status"] == "rejected"
    assert done["validation"]["rejected_reason"] == reason
    assert done["preview"] is None
    code, problem = platform.call(
        "POST", f"/v1/calling-lists/{job['id']}/confirm", {"confirmation_token": "x"}
    )
    assert (code, problem["reason"]) == (409, "not_previewed")


def test_an_upload_needs_an_approved_template_and_a_full_mapping_before_any_url(platform: Platform):
    code, problem = platform.call(
        "POST", "/v1/calling-lists", {**LIST, "mapping": {"first_name": "first"}, "upload": True}
    )
    assert (code, problem["field"]) == (400, "mapping")
    code, problem = platform.call("POST", "/v1/calling-lists", {**LIST, "upload": True, "csv": "a\n1\n"})
    assert (code, problem["field"]) == (400, "records")
    assert platform.table("JOBS_TABLE").scan()["Count"] == 0


def test_another_tenants_list_errors_are_not_found(platform: Platform):
    from local.demo import OPERATOR_API_KEY

    job = request_upload(platform)
    code, _ = platform.call("GET", f"/v1/calling-lists/{job['id']}/errors", key=OPERATOR_API_KEY)
    assert code in {403, 404}
    code, problem = platform.call("GET", f"/v1/calling-lists/{job['id']}/errors?cursor=bogus")
    assert (code, problem["field"]) == (422, "query.cursor")
