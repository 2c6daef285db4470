"""The Callbacks table: each tenant's status callback, its circuit, and the log of delivery attempts.

Keys and access patterns (``pk``, ``sk``; TTL ``expires_at``):
- ``TENANT#<id>`` / ``CALLBACK``: the tenant's status callback (URL, signing secret, when set); read
  by the status-events function once per tenant per ``REGISTRATION_CACHE_SECONDS``, by the deliverer
  once per batch and tenant.
- ``TENANT#<id>`` / ``CIRCUIT``: consecutive failures and, once open, until when nothing is posted;
  one update per attempt (an atomic ``ADD``), read once per batch and tenant.
- ``TENANT#<id>`` / ``ATTEMPT#<time>#<event id>#<attempt>``: one item per delivery attempt (its
  outcome, the HTTP status or error, the response's first bytes), newest first for the delivery
  log, kept ``ATTEMPT_RETENTION``; written in batches of 25.
A tenant's writes land on its own partition key, at most one per attempt.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key
from pydantic import BaseModel

from functions.dal import cursors
from functions.domain.callbacks import AttemptOutcome, Circuit

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

ATTEMPT_RETENTION = timedelta(days=7)
_STORAGE_ONLY = frozenset({"pk", "sk", "expires_at"})


class StatusCallback(BaseModel):
    url: str
    secret: str
    created_at: datetime


class DeliveryAttempt(BaseModel):
    event_id: str
    message_id: str
    attempt: int
    attempted_at: datetime
    outcome: AttemptOutcome
    http_status: int | None = None
    response: str | None = None  # the first bytes of the answer, or the error
    duration_ms: int | None = None


class InvalidCursor(ValueError):
    pass


def _pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"


class CallbacksTable:
    def __init__(self, table: Table) -> None:
        self._table = table

    # ---- the registration ----

    def put_callback(self, tenant_id: str, callback: StatusCallback) -> None:
        self._table.put_item(
            Item={"pk": _pk(tenant_id), "sk": "CALLBACK", **callback.model_dump(mode="json")}
        )
        self.close_circuit(tenant_id)  # a new endpoint starts healthy

    def get_callback(self, tenant_id: str) -> StatusCallback | None:
        item = self._table.get_item(Key={"pk": _pk(tenant_id), "sk": "CALLBACK"}, ConsistentRead=True).get(
            "Item"
        )
        if item is None:
            return None
        return StatusCallback.model_validate({k: v for k, v in item.items() if k not in _STORAGE_ONLY})

    def delete_callback(self, tenant_id: str) -> bool:
        response = self._table.delete_item(
            Key={"pk": _pk(tenant_id), "sk": "CALLBACK"}, ReturnValues="ALL_OLD"
        )
        return "Attributes" in response

    # ---- the circuit ----

    def circuit(self, tenant_id: str) -> Circuit:
        item = self._table.get_item(Key={"pk": _pk(tenant_id), "sk": "CIRCUIT"}, ConsistentRead=True).get(
            "Item"
        )
        if item is None:
            return Circuit()
        open_until = item.get("open_until")
        return Circuit(
            failures=int(item.get("failures", 0)),  # type: ignore[arg-type]
            open_until=datetime.fromisoformat(str(open_until)) if open_until else None,
        )

    def record_failure(self, tenant_id: str, now: datetime) -> Circuit:
        """Count one more consecutive failure (atomically); open the circuit at the threshold."""
        response = self._table.update_item(
            Key={"pk": _pk(tenant_id), "sk": "CIRCUIT"},
            UpdateExpression="ADD failures :one",
            ExpressionAttributeValues={":one": 1},
            ReturnValues="ALL_NEW",
        )
        failures = int(response["Attributes"]["failures"])  # type: ignore[arg-type]
        circuit = Circuit(failures=failures - 1).after_failure(now)
        if circuit.open_until is not None:
            self._table.update_item(
                Key={"pk": _pk(tenant_id), "sk": "CIRCUIT"},
                UpdateExpression="SET open_until = :until",
                ExpressionAttributeValues={":until": circuit.open_until.isoformat()},
            )
        return circuit

    def close_circuit(self, tenant_id: str) -> None:
        self._table.put_item(Item={"pk": _pk(tenant_id), "sk": "CIRCUIT", "failures": 0})

    # ---- the delivery log ----

    def log_attempts(self, tenant_id: str, attempts: list[DeliveryAttempt]) -> None:
        with self._table.batch_writer() as batch:
            for attempt in attempts:
                at = attempt.attempted_at.astimezone(UTC)
                stamp = at.isoformat(timespec="microseconds")
                batch.put_item(
                    Item={
                        "pk": _pk(tenant_id),
                        "sk": f"ATTEMPT#{stamp}#{attempt.event_id}#{attempt.attempt}",
                        "expires_at": int((at + ATTEMPT_RETENTION).timestamp()),
                        **attempt.model_dump(mode="json", exclude_none=True),
                    }
                )

    def attempts(
        self, tenant_id: str, limit: int, cursor: str | None = None
    ) -> tuple[list[DeliveryAttempt], str | None]:
        """The tenant's delivery attempts, newest first, and the cursor to the rest."""
        request: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(_pk(tenant_id)) & Key("sk").begins_with("ATTEMPT#"),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            request["ExclusiveStartKey"] = _decode_cursor(cursor, tenant_id)
        page = self._table.query(**request)
        found = [
            DeliveryAttempt.model_validate({k: v for k, v in item.items() if k not in _STORAGE_ONLY})
            for item in page["Items"]
        ]
        last = page.get("LastEvaluatedKey")
        return found, _encode_cursor(last) if last else None


def _encode_cursor(key: dict[str, Any]) -> str:
    return cursors.encode({"pk": key["pk"], "sk": key["sk"]})


def _decode_cursor(cursor: str, tenant_id: str) -> dict[str, Any]:
    key = cursors.decode_key(cursor, frozenset({"pk", "sk"}))
    if key is None or key["pk"] != _pk(tenant_id) or not key["sk"].startswith("ATTEMPT#"):
        raise InvalidCursor(cursor)
    return dict(key)
