"""The Inbound table: what recipients sent us, each inbound message once, and tenants' reply webhooks.

Keys and access patterns (``pk``, ``sk``; TTL ``expires_at``):
- ``TENANT#<id>`` / ``REPLY#<received time>#<inbound key>``: a tenant's inbound messages (replies and
  keywords), newest first, cursor-paginated. Messages no tenant can be found for are kept under
  ``TENANT#-``. Kept as long as the sent-messages log.
- ``RECEIVED#<inbound key>`` / ``RECEIVED``: written once an inbound message is fully processed, so
  a redelivery (SNS and SQS deliver at least once) is recognized and changes nothing; kept 14 days,
  longer than SQS keeps a message.
- ``TENANT#<id>`` / ``REPLY_WEBHOOK``: the tenant's reply webhook (URL and signing secret).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key

from functions.dal import cursors
from functions.domain.inbound import InboundRecord, ReplyWebhook

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

UNATTRIBUTED = "-"
REPLY_RETENTION = timedelta(days=400)
SEEN_RETENTION = timedelta(days=14)
_STORAGE_ONLY = frozenset({"pk", "sk", "expires_at"})


def _tenant_pk(tenant_id: str | None) -> str:
    return f"TENANT#{tenant_id or UNATTRIBUTED}"


def _reply_sk(record: InboundRecord) -> str:
    return (
        f"REPLY#{record.received_at.astimezone(UTC).isoformat(timespec='microseconds')}#{record.inbound_key}"
    )


class InvalidCursor(ValueError):
    pass


class InboundTable:
    def __init__(self, table: Table) -> None:
        self._table = table

    # ---- inbound messages ----

    def put_record(self, record: InboundRecord) -> None:
        """Store (or store again, identically: its key derives from the inbound message) one record."""
        item = record.model_dump(mode="json", exclude_none=True)
        item.update(
            pk=_tenant_pk(record.tenant_id),
            sk=_reply_sk(record),
            expires_at=int((record.received_at + REPLY_RETENTION).timestamp()),
        )
        self._table.put_item(Item=item)

    def set_webhook_outcome(self, record: InboundRecord, outcome: str) -> None:
        self._table.update_item(
            Key={"pk": _tenant_pk(record.tenant_id), "sk": _reply_sk(record)},
            UpdateExpression="SET webhook = :outcome",
            ExpressionAttributeValues={":outcome": outcome},
        )

    def records(
        self, tenant_id: str, limit: int, cursor: str | None = None
    ) -> tuple[list[InboundRecord], str | None]:
        query: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(_tenant_pk(tenant_id)) & Key("sk").begins_with("REPLY#"),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            query["ExclusiveStartKey"] = {"pk": _tenant_pk(tenant_id), "sk": _decode(cursor)}
        page = self._table.query(**query)
        records = [
            InboundRecord.model_validate({k: v for k, v in item.items() if k not in _STORAGE_ONLY})
            for item in page["Items"]
        ]
        last = page.get("LastEvaluatedKey")
        return records, (_encode(str(last["sk"])) if last else None)

    # ---- each inbound message once ----

    def seen(self, inbound_key: str) -> bool:
        item = self._table.get_item(
            Key={"pk": f"RECEIVED#{inbound_key}", "sk": "RECEIVED"}, ConsistentRead=True
        ).get("Item")
        return item is not None

    def mark_seen(self, inbound_key: str, outcome: str, at: datetime) -> None:
        self._table.put_item(
            Item={
                "pk": f"RECEIVED#{inbound_key}",
                "sk": "RECEIVED",
                "outcome": outcome,
                "at": at.isoformat(),
                "expires_at": int((at + SEEN_RETENTION).timestamp()),
            }
        )

    # ---- reply webhooks ----

    def put_webhook(self, tenant_id: str, webhook: ReplyWebhook) -> None:
        self._table.put_item(
            Item={"pk": _tenant_pk(tenant_id), "sk": "REPLY_WEBHOOK", **webhook.model_dump(mode="json")}
        )

    def get_webhook(self, tenant_id: str) -> ReplyWebhook | None:
        item = self._table.get_item(Key={"pk": _tenant_pk(tenant_id), "sk": "REPLY_WEBHOOK"}).get("Item")
        if item is None:
            return None
        return ReplyWebhook.model_validate({k: v for k, v in item.items() if k not in _STORAGE_ONLY})

    def delete_webhook(self, tenant_id: str) -> bool:
        response = self._table.delete_item(
            Key={"pk": _tenant_pk(tenant_id), "sk": "REPLY_WEBHOOK"}, ReturnValues="ALL_OLD"
        )
        return "Attributes" in response


def _encode(sort_key: str) -> str:
    return cursors.encode(sort_key)


def _decode(cursor: str) -> str:
    try:
        value = cursors.decode(cursor)
    except ValueError as error:
        raise InvalidCursor(cursor) from error
    if not cursors.is_key_text(value) or not str(value).startswith("REPLY#"):
        raise InvalidCursor(cursor)
    return str(value)
