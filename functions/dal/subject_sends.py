"""The SubjectSends table: each recipient's recent sends on one subject, for the three-a-day rule.

Keys and access patterns:
- ``pk`` (partition key only) = ``<tenant id>#<E.164 number>#<subject>``, the subject being the
  saved message's or tenant template's key. The item holds ``sends`` (a map of message id -> ISO
  instant, the instant the message is counted at: its creation, or its release when it is held),
  ``version`` (a counter the conditional write compares) and ``expires_at`` (TTL, epoch seconds: a
  day after its latest send, when it constrains nothing any more). Only numbers in the rule's states
  of tenants that turned the rule on get an item; sends older than 24 hours are dropped at each
  write, so an item holds a handful of entries (well under 1 KB).
- ``reserve``: a consistent GetItem, then a PutItem conditioned on the version read (or on the item's
  absence); a writer that lost the race reads again. Two concurrent messages to one number on one
  subject therefore never both take the third slot. A message id already in the map gets its
  recorded instant back and writes nothing, so a retried fan-out page counts no message twice.
  One read and one write a message.
- ``sends_of``: BatchGetItem, 100 keys a call, for a mass preview's recipients in the rule's states.
A large job writes one item per such recipient, each under its own key (no hot partition).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from functions.domain.errors import Unavailable
from functions.domain.three_a_day import WINDOW, recent

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

BATCH_GET_LIMIT = 100
_ATTEMPTS = 8


def subject_key(tenant_id: str, number: str, subject: str) -> str:
    return f"{tenant_id}#{number}#{subject}"


class SubjectSendsTable:
    def __init__(self, table: Table) -> None:
        self._table = table
        self._client = table.meta.client

    def reserve(
        self,
        tenant_id: str,
        number: str,
        subject: str,
        message_id: str,
        now: datetime,
        choose: Callable[[list[datetime]], datetime | None],
    ) -> datetime | None:
        """Record ``message_id`` at the instant ``choose`` picks from the recent sends (None: refused,
        nothing written); the instant recorded."""
        key = subject_key(tenant_id, number, subject)
        for _ in range(_ATTEMPTS):
            item = self._table.get_item(Key={"pk": key}, ConsistentRead=True).get("Item")
            stored = _sends(item)
            if message_id in stored:
                return stored[message_id]
            kept = {mid: at for mid, at in stored.items() if at > now - WINDOW}
            chosen = choose(recent(kept.values(), now))
            if chosen is None:
                return None
            kept[message_id] = chosen
            if self._write(key, kept, int(item["version"]) if item else None):  # type: ignore[arg-type]
                return chosen
        raise Unavailable("the recipient's recent messages kept changing; retry the request")

    def sends_of(self, tenant_id: str, subject: str, numbers: Iterable[str]) -> dict[str, list[datetime]]:
        """Each number's recorded sends on ``subject`` (numbers without any are left out)."""
        keys = {subject_key(tenant_id, number, subject): number for number in set(numbers)}
        wanted = sorted(keys)
        found: dict[str, list[datetime]] = {}
        for start in range(0, len(wanted), BATCH_GET_LIMIT):
            request: Any = {
                self._table.name: {"Keys": [{"pk": pk} for pk in wanted[start : start + BATCH_GET_LIMIT]]}
            }
            while request:
                response = self._client.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(self._table.name, []):
                    found[keys[str(item["pk"])]] = sorted(_sends(item).values())
                request = response.get("UnprocessedKeys") or {}
        return found

    def _write(self, key: str, sends: dict[str, datetime], version: int | None) -> bool:
        latest = max(sends.values())
        item: dict[str, Any] = {
            "pk": key,
            "sends": {mid: at.isoformat() for mid, at in sends.items()},
            "version": (version or 0) + 1,
            "expires_at": int((latest + WINDOW + timedelta(hours=1)).timestamp()),
        }
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(pk)"}
            if version is None
            else {
                "ConditionExpression": "version = :version",
                "ExpressionAttributeValues": {":version": version},
            }
        )
        try:
            self._table.put_item(Item=item, **condition)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True


def _sends(item: dict[str, Any] | None) -> dict[str, datetime]:
    if item is None:
        return {}
    return {str(mid): datetime.fromisoformat(str(at)) for mid, at in item.get("sends", {}).items()}
