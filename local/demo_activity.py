"""Some activity for the demo tenant, made through the API at start: the console and the CLI then show
sent messages (delivered, and one the carrier blocks), a confirmed mass message and the ledger's debits.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from local.demo import DEMO_ACCOUNT_ID, DEMO_API_KEY, DEMO_CONTACT_ID

log = logging.getLogger("local.demo")

# The carrier simulator blocks this number (TEXT_BLOCKED), so the log shows a Failed message.
DEMO_BLOCKED_NUMBER = "+16135550166"
DEMO_BLOCKED_CONTACT = {
    "name": "Edsger Dijkstra",
    "contact_type": "Primary",
    "related_entity_id": "acct-1004",
    "related_entity_name": "Dijkstra residence (acct-1004)",
    "phones": [{"number": DEMO_BLOCKED_NUMBER, "number_type": "Mobile", "sms_opt_in": True}],
}
# account id -> (name, status, network site, groups): what the mass composer's filters select on
DEMO_ACCOUNTS = {
    DEMO_ACCOUNT_ID: ("Lovelace", "Active", "site-north", ["residential"]),
    "acct-1002": ("Hopper", "Active", "site-north", ["business"]),
    "acct-1003": ("Turing", "Delinquent", "site-east", ["residential"]),
    "acct-1004": ("Dijkstra", "Active", "site-east", ["residential"]),
}
COMPANY = {"company": "Demo Fiber"}

# The local gateway's handle: (method, path, headers, body) -> (status, headers, body)
Call = Callable[[str, str, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]


class DemoActivity:
    def __init__(self, call: Call, time_zone: str = "America/Toronto") -> None:
        self._call = call
        self._zone = ZoneInfo(time_zone)

    def request(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"authorization": f"Bearer {DEMO_API_KEY}", "content-type": "application/json"}
        raw = json.dumps(body).encode() if body is not None else b""
        status, _, payload = self._call(method, path, headers, raw)
        answer = json.loads(payload) if payload else None
        if status >= 300:
            raise RuntimeError(f"{method} {path} answered {status}: {answer}")
        return answer

    def run(self) -> None:
        for account_id, (name, status, site, groups) in DEMO_ACCOUNTS.items():
            account = {"name": name, "status": status, "network_site_id": site, "groups": groups}
            self.request("PUT", f"/v1/accounts/{account_id}", account)
        self.request("POST", "/v1/contacts", DEMO_BLOCKED_CONTACT)
        tomorrow = datetime.now(self._zone).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
        due = tomorrow.date().isoformat()
        sends: list[tuple[str, dict[str, Any]]] = [
            ("payment_received", {"contact_id": DEMO_CONTACT_ID, "variables": {**COMPANY, "amount": 4999}}),
            ("ticket_created", {"contact_id": "contact-grace", "variables": {
                **COMPANY, "ticket_number": "1042"}}),
            ("service_reactivated", {"account_id": DEMO_ACCOUNT_ID, "variables": COMPANY}),
            ("invoice_due_soon", {"account_id": "acct-1004", "variables": {
                **COMPANY, "invoice_number": "INV-2210", "amount": 7450, "due_date": due}}),
            ("appointment_reminder", {"contact_id": "contact-charles", "variables": {
                **COMPANY, "appointment_at": tomorrow.replace(hour=10).isoformat()}}),
        ]  # fmt: skip
        for trigger, body in sends:
            self.request("POST", f"/v1/triggers/{trigger}", body)
        job = self.request("POST", "/v1/mass-messages", {
            "saved_message": "planned_outage",
            "outage_start": tomorrow.replace(hour=1).isoformat(),
            "outage_end": tomorrow.replace(hour=3).isoformat(),
            "variables": COMPANY,
            "filters": {"network_site_ids": ["site-north"]},
        })  # fmt: skip
        while job["status"] == "previewing":  # a large audience's preview takes a moment
            time.sleep(0.2)
            job = self.request("GET", f"/v1/mass-messages/{job['id']}")
        self.request("POST", f"/v1/mass-messages/{job['id']}/confirm", {
            "confirmation_token": job["confirmation_token"],
        })  # fmt: skip
        log.info("demo activity: %d triggers and mass message %s", len(sends), job["id"])
        self._wait_until_sent(job["id"])

    def _wait_until_sent(self, job_id: str, timeout_seconds: float = 30.0) -> None:
        """Until every demo message has left the queue: the balance then stays put until someone sends."""
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            job = self.request("GET", f"/v1/mass-messages/{job_id}")
            log_page = self.request("GET", "/v1/messages?limit=50")["items"]
            waiting = [m for m in log_page if m["status"] in {"Pending", "In Progress"}]
            if job["status"] == "queued" and not waiting:
                return
            time.sleep(0.1)
        log.warning("the demo's messages were still queued after %.0f s", timeout_seconds)
