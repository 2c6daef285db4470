"""The OptOuts table: numbers that must not be messaged, per opt-out scope, and who changed each.

Keys and access patterns:
- ``scope`` (partition key: ``GLOBAL`` or ``DNC#<group>``) / ``phone_number`` (sort key, E.164):
  is this number opted out in this scope (a get, or one BatchGetItem for a page of recipients or a
  sender's batch); the scope's list, paginated, for the opt-out list API.
- ``AUDIT#<scope>`` / ``<phone number>#<time>#<change id>``: the append-only audit trail, every add
  and remove with its source (keyword, api, carrier), actor and tenant; one number's history is a
  query on the sort key's prefix. An audit item is written in the same transaction as the change it
  records, only if absent, so a retried change (the same inbound message, redelivered) is applied once.
- ``LATEST#<scope>`` / ``<phone number>``: the time (and change id) of the latest change asked for
  this number in this scope, applied or not (a START from a number not opted out counts). A change is
  applied only if it is not older than that: it first moves the mark forward (or finds a later one and
  is ``SUPERSEDED``), then its transaction checks the mark is still its own. So a STOP and a START
  handled out of order end in whichever was sent last, never in whichever was processed last.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError
from pydantic import BaseModel

from functions.dal import cursors
from functions.domain.transport import GLOBAL_SCOPE as GLOBAL_CODE_SCOPE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

GLOBAL_SCOPE = "GLOBAL"
DNC_PREFIX = "DNC#"
AUDIT_PREFIX = "AUDIT#"
LATEST_PREFIX = "LATEST#"
BATCH_GET_LIMIT = 100


def scope_key(opt_out_scope: str) -> str:
    """A transport code's scope ("global", "dnc:<group>") as the table keys it ("GLOBAL", "DNC#<group>")."""
    if opt_out_scope == GLOBAL_CODE_SCOPE:
        return GLOBAL_SCOPE
    return DNC_PREFIX + opt_out_scope.removeprefix("dnc:")


def scope_name(key: str) -> str:
    """The table's partition back as the API names it."""
    return GLOBAL_CODE_SCOPE if key == GLOBAL_SCOPE else "dnc:" + key.removeprefix(DNC_PREFIX)


class OptOutSource(StrEnum):
    KEYWORD = "keyword"  # the recipient replied STOP (or START)
    API = "api"  # a tenant or the operator, through the opt-out list API
    CARRIER = "carrier"  # the carrier refused the number as opted out


class OptOut(BaseModel):
    scope: str
    phone_number: str
    opted_out_at: datetime
    source: str  # an OptOutSource value
    actor: str  # the inbound message id, the API key's name...
    tenant_id: str | None = None  # the tenant it came through, when known
    note: str | None = None


class OptOutAction(StrEnum):
    OPTED_OUT = "opted_out"
    OPTED_IN = "opted_in"


class OptOutChange(BaseModel):
    """One line of the audit trail."""

    change_id: str
    scope: str
    phone_number: str
    action: OptOutAction
    at: datetime
    source: str
    actor: str
    tenant_id: str | None = None
    note: str | None = None


class ChangeResult(StrEnum):
    APPLIED = "applied"
    UNCHANGED = "unchanged"  # already opted out (an add), or not opted out (a remove)
    DUPLICATE = "duplicate"  # this change id was recorded before
    NOT_ALLOWED = "not_allowed"  # a remove whose condition (the owning tenant) did not hold
    SUPERSEDED = "superseded"  # a later change for this number and scope came first: this one is void


def _audit_key(change: OptOutChange) -> dict[str, str]:
    return {
        "scope": AUDIT_PREFIX + change.scope,
        "phone_number": f"{change.phone_number}#{change.at.isoformat()}#{change.change_id}",
    }


def _latest_key(change: OptOutChange) -> dict[str, str]:
    return {"scope": LATEST_PREFIX + change.scope, "phone_number": change.phone_number}


def _order(change: OptOutChange) -> str:
    """Fixed-width UTC time, then the change id: comparing the text compares the changes' order."""
    return f"{change.at.astimezone(UTC).isoformat(timespec='microseconds')}#{change.change_id}"


def _from_item(item: dict[str, Any]) -> OptOut:
    return OptOut.model_validate(item)


class OptOutsTable:
    def __init__(self, table: Table) -> None:
        self._table = table
        self._client = table.meta.client

    def add(self, opt_out: OptOut) -> None:
        self._table.put_item(Item=opt_out.model_dump(mode="json", exclude_none=True))

    def remove(self, scope: str, phone_number: str) -> None:
        self._table.delete_item(Key={"scope": scope, "phone_number": phone_number})

    def get(self, scope: str, phone_number: str) -> OptOut | None:
        item = self._table.get_item(
            Key={"scope": scope, "phone_number": phone_number}, ConsistentRead=True
        ).get("Item")
        return _from_item(item) if item else None

    def opted_out(self, scope: str, numbers: Iterable[str]) -> set[str]:
        """Which of ``numbers`` are opted out in ``scope``: BatchGetItem, 100 keys a call."""
        return {number for key, number in self.opted_out_keys((scope, n) for n in numbers)}

    def opted_out_keys(self, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which (scope, number) pairs are opted out: one BatchGetItem per 100 pairs, across scopes."""
        wanted = sorted(set(keys))
        found: set[tuple[str, str]] = set()
        for start in range(0, len(wanted), BATCH_GET_LIMIT):
            chunk = [
                {"scope": scope, "phone_number": number}
                for scope, number in wanted[start : start + BATCH_GET_LIMIT]
            ]
            request = {
                self._table.name: {
                    "Keys": chunk,
                    "ProjectionExpression": "#scope, phone_number",
                    "ExpressionAttributeNames": {"#scope": "scope"},
                }
            }
            while request:
                response = self._client.batch_get_item(RequestItems=request)  # type: ignore[arg-type]
                found.update(
                    (str(item["scope"]), str(item["phone_number"]))
                    for item in response["Responses"].get(self._table.name, [])
                )
                request = response.get("UnprocessedKeys") or {}  # type: ignore[assignment]
        return found

    # ---- audited changes ----

    def record_opt_out(self, opt_out: OptOut, change: OptOutChange) -> ChangeResult:
        """Opt the number out (an existing opt-out keeps its first record) and audit it, atomically."""
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table.name,
                    "Item": opt_out.model_dump(mode="json", exclude_none=True),
                    "ConditionExpression": "attribute_not_exists(phone_number)",
                }
            },
            self._audit_put(change),
        ]
        return self._transact_in_order(change, items) or ChangeResult.UNCHANGED

    def record_opt_in(
        self, scope: str, phone_number: str, change: OptOutChange, owned_by: str | None = None
    ) -> ChangeResult:
        """Remove the opt-out and audit it, atomically; with ``owned_by``, only that tenant's."""
        delete: dict[str, Any] = {
            "TableName": self._table.name,
            "Key": {"scope": scope, "phone_number": phone_number},
            "ConditionExpression": "attribute_exists(phone_number)",
        }
        if owned_by is not None:
            delete["ConditionExpression"] += " AND tenant_id = :tenant"
            delete["ExpressionAttributeValues"] = {":tenant": owned_by}
        outcome = self._transact_in_order(change, [{"Delete": delete}, self._audit_put(change)])
        if outcome is None:
            return ChangeResult.NOT_ALLOWED if owned_by is not None else ChangeResult.UNCHANGED
        return outcome

    def history(self, scope: str, phone_number: str) -> list[OptOutChange]:
        """Every recorded change of one number in one scope, oldest first."""
        query: dict[str, Any] = {
            "KeyConditionExpression": Key("scope").eq(AUDIT_PREFIX + scope)
            & Key("phone_number").begins_with(phone_number + "#"),
        }
        changes: list[OptOutChange] = []
        while True:
            page = self._table.query(**query)
            changes.extend(OptOutChange.model_validate(item) for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                return changes
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def page(self, scope: str, limit: int, cursor: str | None = None) -> tuple[list[OptOut], str | None]:
        """One page of a scope's opted-out numbers, in number order; the cursor to continue from."""
        query: dict[str, Any] = {"KeyConditionExpression": Key("scope").eq(scope), "Limit": limit}
        if cursor:
            query["ExclusiveStartKey"] = {"scope": scope, "phone_number": _decode_cursor(cursor)}
        page = self._table.query(**query)
        last = page.get("LastEvaluatedKey")
        next_cursor = _encode_cursor(str(last["phone_number"])) if last else None
        return [_from_item(item) for item in page["Items"]], next_cursor

    def _audit_put(self, change: OptOutChange) -> dict[str, Any]:
        item = {**change.model_dump(mode="json", exclude_none=True), **_audit_key(change)}
        item["audited_scope"] = change.scope
        return {
            "Put": {
                "TableName": self._table.name,
                "Item": item,
                "ConditionExpression": "attribute_not_exists(phone_number)",
            }
        }

    def _transact_in_order(self, change: OptOutChange, items: list[dict[str, Any]]) -> ChangeResult | None:
        """The change (``items``: the change, then its audit put) if no later change for the number came.

        APPLIED; DUPLICATE if the audit item exists; SUPERSEDED if a later change holds the mark; None if
        only the change's own condition failed (it still holds the mark: a later-sent opposite change
        processed after it is measured against it).
        """
        order = _order(change)
        try:
            self._table.update_item(
                Key=_latest_key(change),
                UpdateExpression="SET latest = :order",
                ConditionExpression="attribute_not_exists(latest) OR latest <= :order",
                ExpressionAttributeValues={":order": order},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return ChangeResult.SUPERSEDED
        mark_still_ours: dict[str, Any] = {
            "ConditionCheck": {
                "TableName": self._table.name,
                "Key": _latest_key(change),
                "ConditionExpression": "latest = :order",
                "ExpressionAttributeValues": {":order": order},
            }
        }
        try:
            transaction: list[Any] = [*items, mark_still_ours]
            self._client.transact_write_items(TransactItems=transaction)
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                return ChangeResult.DUPLICATE
            if len(reasons) > 2 and reasons[2] == "ConditionalCheckFailed":
                return ChangeResult.SUPERSEDED
            if reasons and reasons[0] == "ConditionalCheckFailed":
                return None
            raise
        return ChangeResult.APPLIED


def _encode_cursor(phone_number: str) -> str:
    return cursors.encode(phone_number)


E164 = re.compile(r"\+[1-9][0-9]{6,14}")  # a page ends on a number


def _decode_cursor(cursor: str) -> str:
    value = cursors.decode(cursor)
    if not isinstance(value, str) or not E164.fullmatch(value):
        raise ValueError("invalid cursor")
    return value
