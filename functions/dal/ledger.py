"""The Ledger table: each tenant's prepaid balance and the append-only entries that make it up.

Keys and access patterns (``tenant_id``, ``entry_id``; GSI ``by_time`` on ``tenant_id``, ``at_key``):
- ``<tenant>`` / ``BALANCE``: the balance in micros, the auto-buy settings and the marker of an
  armed purchase. Every change of the balance is a conditional update of this item in one
  transaction with the put of its entry: the entries always sum to the balance, even if the writer
  dies, and a debit's condition (``balance_micros >= price``) keeps the balance from going below
  zero however many senders debit at once. One item per tenant takes a few hundred debits a second,
  far above what the tenant's transport codes carry.
- ``<tenant>`` / ``DEBIT#<message id>``, ``REFUND#<message id>``: a message's debit and refund, each
  put only if absent, so a redelivered message is never charged, nor refunded, twice.
- ``<tenant>`` / ``CREDIT#<reference>``: funds the operator added (idempotent on its reference);
  ``PURCHASE#<id>``, ``AUTO_BUY#<id>``: funds bought; ``PURCHASE_FAILED#<id>``: a declined purchase
  (zero amount, kept as a record).
- ``<tenant>``, every item (a consistent query): the audit that the entries sum to the balance.
- ``by_time`` (``tenant_id``, ``at_key`` = entry time + entry id), sparse (the balance item has no
  ``at_key``): the ledger newest first, cursor-paginated.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from functions.dal import cursors
from functions.domain.ledger import AutoBuy, Balance, LedgerEntry, PendingPurchase

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

BALANCE_ID = "BALANCE"
BY_TIME_INDEX = "by_time"
_CURSOR_KEYS = frozenset({"tenant_id", "entry_id", "at_key"})
_DESERIALIZER = TypeDeserializer()
# Cancellation reasons of a transaction, per item.
_CONDITION_FAILED = "ConditionalCheckFailed"
_CONFLICT = "TransactionConflict"


class DebitResult(StrEnum):
    DEBITED = "debited"
    ALREADY_DEBITED = "already_debited"
    REFUSED = "refused"  # a condition on the balance item failed; ``current`` is the item it saw
    CONFLICT = "conflict"  # another transaction held the balance item: try again


@dataclass(frozen=True)
class DebitAttempt:
    result: DebitResult
    current: Balance | None = None


class RefundResult(StrEnum):
    REFUNDED = "refunded"
    ALREADY_REFUNDED = "already_refunded"
    NOT_DEBITED = "not_debited"
    CONFLICT = "conflict"


class InvalidLedgerCursor(ValueError):
    pass


def _balance_from_item(tenant_id: str, item: dict[str, Any] | None) -> Balance:
    if not item:
        return Balance(tenant_id=tenant_id)
    pending = None
    if "pending_purchase_id" in item:
        pending = PendingPurchase(
            purchase_id=str(item["pending_purchase_id"]),
            amount_micros=int(item["pending_amount_micros"]),
            armed_at=datetime.fromisoformat(str(item["pending_armed_at"])),
        )
    updated = item.get("updated_at")
    return Balance(
        tenant_id=tenant_id,
        balance_micros=int(item.get("balance_micros", 0)),
        auto_buy=AutoBuy(
            enabled=bool(item.get("auto_buy_enabled", False)),
            threshold_micros=int(item.get("auto_buy_threshold_micros", 0)),
            amount_micros=int(item.get("auto_buy_amount_micros", 0)),
        ),
        pending_purchase=pending,
        updated_at=datetime.fromisoformat(str(updated)) if updated else None,
    )


def _entry_item(entry: LedgerEntry) -> dict[str, Any]:
    item = entry.model_dump(mode="json", exclude_none=True)
    item["at_key"] = f"{item['at']}#{entry.entry_id}"
    return item


def _entry_from_item(item: dict[str, Any]) -> LedgerEntry:
    clean = {key: value for key, value in item.items() if key != "at_key"}
    clean["amount_micros"] = int(clean["amount_micros"])
    return LedgerEntry.model_validate(clean)


def _reasons(error: ClientError) -> list[str] | None:
    """Each transaction item's cancellation code, or None if the error is not a cancelled transaction."""
    if error.response["Error"]["Code"] != "TransactionCanceledException":
        return None
    return [str(reason.get("Code", "None")) for reason in error.response.get("CancellationReasons", [])]


def _cancelled_item(error: ClientError, index: int) -> dict[str, Any] | None:
    """The item a failed condition saw (ALL_OLD); an error response carries it in the wire format."""
    reasons = error.response.get("CancellationReasons", [])
    item = reasons[index].get("Item") if index < len(reasons) else None
    if not item:
        return None
    return {name: _DESERIALIZER.deserialize(value) for name, value in item.items()}  # type: ignore[arg-type]


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    return cursors.encode(key) if key else None


def decode_cursor(cursor: str, tenant_id: str) -> dict[str, Any]:
    decoded = cursors.decode_key(cursor, _CURSOR_KEYS)
    if decoded is None or decoded["tenant_id"] != tenant_id:
        raise InvalidLedgerCursor(cursor)
    return dict(decoded)


class LedgerTable:
    def __init__(self, table: Table) -> None:
        self._table = table
        self._client = table.meta.client

    # ---- reads ----

    def balance(self, tenant_id: str) -> Balance:
        item = self._table.get_item(
            Key={"tenant_id": tenant_id, "entry_id": BALANCE_ID}, ConsistentRead=True
        ).get("Item")
        return _balance_from_item(tenant_id, item)

    def balance_micros(self, tenant_id: str) -> int:
        """What a mass message's preview compares its cost with."""
        return self.balance(tenant_id).balance_micros

    def get_entry(self, tenant_id: str, entry_id: str) -> LedgerEntry | None:
        item = self._table.get_item(
            Key={"tenant_id": tenant_id, "entry_id": entry_id}, ConsistentRead=True
        ).get("Item")
        return _entry_from_item(item) if item else None

    def entries(self, tenant_id: str) -> Iterator[LedgerEntry]:
        """Every entry of the tenant, read consistently from the table (in entry id order)."""
        query: dict[str, Any] = {
            "KeyConditionExpression": Key("tenant_id").eq(tenant_id),
            "ConsistentRead": True,
        }
        while True:
            page = self._table.query(**query)
            for item in page["Items"]:
                if item["entry_id"] != BALANCE_ID:
                    yield _entry_from_item(item)
            if "LastEvaluatedKey" not in page:
                return
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def entries_page(
        self, tenant_id: str, limit: int, cursor: str | None = None
    ) -> tuple[list[LedgerEntry], str | None]:
        query: dict[str, Any] = {
            "IndexName": BY_TIME_INDEX,
            "KeyConditionExpression": Key("tenant_id").eq(tenant_id),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            query["ExclusiveStartKey"] = decode_cursor(cursor, tenant_id)
        page = self._table.query(**query)
        items = [_entry_from_item(item) for item in page["Items"]]
        return items, encode_cursor(page.get("LastEvaluatedKey"))

    # ---- balance changes: each one transaction of the balance item and its entry ----

    def _balance_key(self, tenant_id: str) -> dict[str, str]:
        return {"tenant_id": tenant_id, "entry_id": BALANCE_ID}

    def _put_new(self, entry: LedgerEntry) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self._table.name,
                "Item": _entry_item(entry),
                "ConditionExpression": "attribute_not_exists(entry_id)",
            }
        }

    def _add_to_balance(self, entry: LedgerEntry) -> dict[str, Any]:
        """Unconditionally: what adds money (a credit, a refund) needs no floor."""
        return {
            "Update": {
                "TableName": self._table.name,
                "Key": self._balance_key(entry.tenant_id),
                "UpdateExpression": "ADD balance_micros :amount SET updated_at = :at",
                "ExpressionAttributeValues": {":amount": entry.amount_micros, ":at": entry.at.isoformat()},
            }
        }

    def try_debit(self, entry: LedgerEntry, seen: AutoBuy, arm: PendingPurchase | None) -> DebitAttempt:
        """Take ``-entry.amount_micros`` if the balance covers it, as one transaction with the entry."""
        items = self.debit_items(entry.tenant_id, [entry], seen, arm)
        try:
            self._client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
        except ClientError as error:
            attempt = self.debit_refusal(error, entry.tenant_id, offset=0, entries=1)
            if attempt is None:
                raise
            return attempt
        return DebitAttempt(DebitResult.DEBITED)

    def debit_items(
        self,
        tenant_id: str,
        entries: list[LedgerEntry],
        seen: AutoBuy,
        arm: PendingPurchase | None,
        exact_balance: int | None = None,
    ) -> list[dict[str, Any]]:
        """Transaction items that take the entries' total from the balance: its update, then each entry.

        The balance must cover the total. ``seen`` is the auto-buy setting the caller decided with; the
        condition checks it is still the stored one. With ``arm``, the debit must cross the threshold
        and marks the purchase as armed; without, it must not cross it while auto-buy is on and no
        purchase is pending. So every crossing arms exactly one purchase, whichever dispatcher makes
        it. ``exact_balance``: the balance must be exactly this (the caller refused what it could not
        pay from it, so it must be what the balance really was).
        """
        price = -sum(entry.amount_micros for entry in entries)
        at = max(entry.at for entry in entries).isoformat()
        names = {"#balance": "balance_micros", "#enabled": "auto_buy_enabled"}
        values: dict[str, Any] = {":price": price, ":at": at}
        conditions = ["#balance >= :price"]
        if exact_balance is not None:
            conditions.append("#balance = :exact")
            values[":exact"] = exact_balance
        update = "SET #balance = #balance - :price, updated_at = :at"
        if seen.enabled:
            names.update(
                {
                    "#threshold": "auto_buy_threshold_micros",
                    "#amount": "auto_buy_amount_micros",
                    "#pending": "pending_purchase_id",
                }
            )
            values.update(
                {
                    ":true": True,
                    ":threshold": seen.threshold_micros,
                    ":amount": seen.amount_micros,
                    ":crossing_below": seen.threshold_micros + price,
                }
            )
            conditions += ["#enabled = :true", "#threshold = :threshold", "#amount = :amount"]
            if arm is None:
                conditions.append(
                    "(attribute_exists(#pending) OR #balance < :threshold OR #balance >= :crossing_below)"
                )
            else:
                conditions += [
                    "attribute_not_exists(#pending)",
                    "#balance >= :threshold",
                    "#balance < :crossing_below",
                ]
                update += (
                    ", #pending = :purchase_id, pending_amount_micros = :pending_amount,"
                    " pending_armed_at = :armed_at"
                )
                values.update(
                    {
                        ":purchase_id": arm.purchase_id,
                        ":pending_amount": arm.amount_micros,
                        ":armed_at": arm.armed_at.isoformat(),
                    }
                )
        else:
            values[":true"] = True
            conditions.append("(attribute_not_exists(#enabled) OR #enabled <> :true)")
        balance_update = {
            "Update": {
                "TableName": self._table.name,
                "Key": self._balance_key(tenant_id),
                "UpdateExpression": update,
                "ConditionExpression": " AND ".join(conditions),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }
        return [balance_update, *(self._put_new(entry) for entry in entries)]

    def debit_refusal(
        self, error: ClientError, tenant_id: str, offset: int, entries: int
    ) -> DebitAttempt | None:
        """Why a transaction holding ``debit_items`` at ``offset`` was cancelled; None if not the debit."""
        reasons = _reasons(error)
        if reasons is None or len(reasons) < offset + 1 + entries:
            return None
        if _CONDITION_FAILED in reasons[offset + 1 : offset + 1 + entries]:
            return DebitAttempt(DebitResult.ALREADY_DEBITED)
        if reasons[offset] == _CONDITION_FAILED:
            current = _balance_from_item(tenant_id, _cancelled_item(error, offset))
            return DebitAttempt(DebitResult.REFUSED, current)
        if _CONFLICT in reasons:
            return DebitAttempt(DebitResult.CONFLICT)
        return None

    def refund_items(self, entry: LedgerEntry, debit_entry_id: str) -> list[dict[str, Any]]:
        """A refund's transaction items: its debit exists for its amount (a condition), the balance
        gets it back, and its entry is new (so never twice); a caller may add its own items after."""
        return [
            {
                "ConditionCheck": {
                    "TableName": self._table.name,
                    "Key": {"tenant_id": entry.tenant_id, "entry_id": debit_entry_id},
                    "ConditionExpression": "attribute_exists(entry_id) AND amount_micros = :debited",
                    "ExpressionAttributeValues": {":debited": -entry.amount_micros},
                }
            },
            self._add_to_balance(entry),
            self._put_new(entry),
        ]

    def try_refund(self, entry: LedgerEntry, debit_entry_id: str) -> RefundResult:
        """Give back a debit: only one that exists, for its amount, and only once."""
        items = self.refund_items(entry, debit_entry_id)
        try:
            self._client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
        except ClientError as error:
            reasons = _reasons(error)
            if reasons is None or len(reasons) != len(items):
                raise
            if reasons[2] == _CONDITION_FAILED:
                return RefundResult.ALREADY_REFUNDED
            if reasons[0] == _CONDITION_FAILED:
                return RefundResult.NOT_DEBITED
            if _CONFLICT in reasons:
                return RefundResult.CONFLICT
            raise
        return RefundResult.REFUNDED

    def add_funds(self, entry: LedgerEntry) -> LedgerEntry | None:
        """Credit ``entry.amount_micros`` with its entry; the existing entry if its id was used already."""
        items = [
            self._add_to_balance(entry),
            self._put_new(entry),
        ]
        try:
            self._client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
        except ClientError as error:
            reasons = _reasons(error)
            if reasons is not None and len(reasons) == len(items) and reasons[1] == _CONDITION_FAILED:
                return self.get_entry(entry.tenant_id, entry.entry_id)
            raise
        return None

    def settle_purchase(self, purchase_id: str, entry: LedgerEntry) -> bool:
        """Record an armed purchase's outcome (funds, or a zero entry) and disarm; False if settled before."""
        items = [
            {
                "Update": {
                    "TableName": self._table.name,
                    "Key": self._balance_key(entry.tenant_id),
                    "UpdateExpression": (
                        "ADD balance_micros :amount SET updated_at = :at"
                        " REMOVE pending_purchase_id, pending_amount_micros, pending_armed_at"
                    ),
                    "ConditionExpression": "pending_purchase_id = :purchase_id",
                    "ExpressionAttributeValues": {
                        ":amount": entry.amount_micros,
                        ":at": entry.at.isoformat(),
                        ":purchase_id": purchase_id,
                    },
                }
            },
            self._put_new(entry),
        ]
        try:
            self._client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
        except ClientError as error:
            reasons = _reasons(error)
            if reasons is not None and _CONDITION_FAILED in reasons:
                return False
            raise
        return True

    def set_auto_buy(self, tenant_id: str, auto_buy: AutoBuy, at: datetime) -> Balance:
        response = self._table.update_item(
            Key=self._balance_key(tenant_id),
            UpdateExpression=(
                "SET auto_buy_enabled = :enabled, auto_buy_threshold_micros = :threshold,"
                " auto_buy_amount_micros = :amount, updated_at = :at,"
                " balance_micros = if_not_exists(balance_micros, :zero)"
            ),
            ExpressionAttributeValues={
                ":enabled": auto_buy.enabled,
                ":threshold": auto_buy.threshold_micros,
                ":amount": auto_buy.amount_micros,
                ":at": at.isoformat(),
                ":zero": 0,
            },
            ReturnValues="ALL_NEW",
        )
        return _balance_from_item(tenant_id, response.get("Attributes"))
