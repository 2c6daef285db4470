"""A mass message and a calling list, over HTTP, against `python -m local`: preview, confirm, delivered."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.conftest import LocalService

pytestmark = pytest.mark.e2e


def wait_for_progress(
    service: LocalService, path: str, status: str, count: int, timeout: float = 30.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = service.call("GET", path).body
        if (job.get("progress") or {}).get(status) == count:
            return job
        time.sleep(0.1)
    pytest.fail(f"{path} never had {count} {status}: {job}")


def test_a_mass_outage_notice_is_previewed_confirmed_and_delivered(service: LocalService):
    assert (
        service.call(
            "PUT", "/v1/accounts/acct-1001", {"name": "Lovelace", "network_site_id": "site-e2e"}
        ).status
        == 200
    )
    created = service.call("POST", "/v1/mass-messages", {
        "saved_message": "unplanned_outage_no_eta", "outage_start": "2026-11-24T08:00:00-05:00",
        "variables": {"company": "Demo Fiber"}, "filters": {"network_site_ids": ["site-e2e"]},
    })  # fmt: skip
    assert created.status == 201, created.body
    job = created.body
    assert (
        job["preview"]["recipients"] == 2
    )  # Ada's and Charles's mobiles; Ada's Home number is not SMS-capable
    assert job["preview"]["excluded"] == {"not_sms_capable": 1}

    confirmed = service.call(
        "POST", f"/v1/mass-messages/{job['id']}/confirm", {"confirmation_token": job["confirmation_token"]}
    )
    assert confirmed.status == 202, confirmed.body
    done = wait_for_progress(service, f"/v1/mass-messages/{job['id']}", "Delivered", 2)
    assert done["status"] == "queued"
    assert done["created_messages"] == 2


def test_a_calling_list_reaches_every_valid_record(service: LocalService):
    csv_text = (
        "first,cell,quote\nTom,416-555-0401,120000\nBecky,+44 20 7183 8750,9900\nHuck,416-555-0402,5000\n"
    )
    uploaded = service.call("POST", "/v1/calling-lists", {
        "name": "E2E list", "template_id": "tpl-fence-painting", "phone_field": "cell", "name_field": "first",
        "mapping": {"first_name": "first", "quote": "quote"}, "csv": csv_text,
    })  # fmt: skip
    assert uploaded.status == 201, uploaded.body
    assert [(e["row"], e["field"]) for e in uploaded.body["errors"]] == [(2, "cell")]
    assert uploaded.body["preview"]["recipients"] == 2
    list_id = uploaded.body["id"]
    confirm = service.call(
        "POST",
        f"/v1/calling-lists/{list_id}/confirm",
        {"confirmation_token": uploaded.body["confirmation_token"]},
    )
    assert confirm.status == 202
    wait_for_progress(service, f"/v1/calling-lists/{list_id}", "Delivered", 2)
    carrier = service.call("GET", "/_local/carrier/messages", key=None).body["messages"]
    tom = [m for m in carrier if m["destination"] == "+14165550401"]
    assert len(tom) == 1
    assert tom[0]["body"].startswith("Hi Tom, sorry we missed you. Your fence quote of $1,200.00 is ready.")
