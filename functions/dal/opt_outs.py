"""The OptOuts table: numbers that must not be messaged, per opt-out scope.

Keys and access patterns:
- ``scope`` (partition key: ``GLOBAL`` or ``DNC#<group>``) / ``phone_number`` (sort key, E.164):
  is this number opted out in this scope (a get, or one BatchGetItem for a page of recipients);
  the scope's list, paginated, for the opt-out list API.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

GLOBAL_SCOPE = "GLOBAL"
BATCH_GET_LIMIT = 100


class OptOut(BaseModel):
    scope: str
    phone_number: str
    opted_out_at: datetime
    source: str  # "keyword", "api", "carrier"...
    actor: str


class OptOutsTable:
    def __init__(self, table: Table) -> None:
        self._table = table

    def add(self, opt_out: OptOut) -> None:
        self._table.put_item(Item=opt_out.model_dump(mode="json"))

    def remove(self, scope: str, phone_number: str) -> None:
        self._table.delete_item(Key={"scope": scope, "phone_number": phone_number})

    def opted_out(self, scope: str, numbers: Iterable[str]) -> set[str]:
        """Which of ``numbers`` are opted out in ``scope``: BatchGetItem, 100 keys a call."""
        wanted = sorted(set(numbers))
        found: set[str] = set()
        for start in range(0, len(wanted), BATCH_GET_LIMIT):
            keys = [
                {"scope": scope, "phone_number": number} for number in wanted[start : start + BATCH_GET_LIMIT]
            ]
            request = {self._table.name: {"Keys": keys, "ProjectionExpression": "phone_number"}}
            while request:
                response = self._table.meta.client.batch_get_item(RequestItems=request)  # type: ignore[arg-type]
                found.update(
                    str(item["phone_number"]) for item in response["Responses"].get(self._table.name, [])
                )
                request = response.get("UnprocessedKeys") or {}  # type: ignore[assignment]
        return found
