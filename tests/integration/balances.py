"""Tests of the prepaid balance share these: set a tenant's balance, read its ledger, queue messages."""

from __future__ import annotations

import os

from functions.dal.ledger import LedgerTable
from functions.domain.ledger import Balance, EntryKind, LedgerEntry
from local.demo import DEMO_TENANT_ID, OPERATOR_API_KEY
from tests.integration.conftest import Platform

TRIGGER = "/v1/triggers/payment_received"
GOOD = {"contact_id": "contact-ada", "variables": {"company": "Demo Fiber", "amount": 4999}}
PRICE = 8_500  # the demo tenant's one-segment message


def ledger_table(platform: Platform) -> LedgerTable:
    return LedgerTable(platform.table("LEDGER_TABLE"))


def start_balance(platform: Platform, micros: int, tenant_id: str = DEMO_TENANT_ID) -> None:
    """Replace the tenant's balance and ledger with one operator credit of ``micros``."""
    table = platform.table("LEDGER_TABLE")
    items = table.query(KeyConditionExpression="tenant_id = :t", ExpressionAttributeValues={":t": tenant_id})[
        "Items"
    ]
    for item in items:
        table.delete_item(Key={"tenant_id": item["tenant_id"], "entry_id": item["entry_id"]})
    if micros:
        code, entry = platform.call(
            "POST",
            f"/v1/operator/tenants/{tenant_id}/credits",
            {"amount_micros": micros, "reference": "test-start"},
            key=OPERATOR_API_KEY,
        )
        assert code == 201, entry


def balance(platform: Platform, tenant_id: str = DEMO_TENANT_ID) -> Balance:
    return ledger_table(platform).balance(tenant_id)


def entries(platform: Platform, tenant_id: str = DEMO_TENANT_ID) -> list[LedgerEntry]:
    return list(ledger_table(platform).entries(tenant_id))


def of_kind(found: list[LedgerEntry], kind: EntryKind) -> list[LedgerEntry]:
    return [entry for entry in found if entry.kind is kind]


def queue_messages(platform: Platform, count: int, body: dict | None = None) -> list[str]:
    """The ids of ``count`` triggered messages to the demo contact, created through the API."""
    return [platform.send(TRIGGER, body or GOOD)["id"] for _ in range(count)]


def statuses(platform: Platform, message_ids: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for message_id in message_ids:
        status = platform.table("MESSAGES_TABLE").get_item(Key={"message_id": message_id})["Item"]["status"]
        found[status] = found.get(status, 0) + 1
    return found


def dispatcher_tables() -> dict[str, str]:
    from tests.integration.concurrency import TABLES

    return {name: os.environ[name] for name in TABLES}
