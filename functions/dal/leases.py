"""The Leases table: which dispatcher owns each transport code's sending, and the code's daily count.

Keys and access patterns (``code``, the sending number, is the partition key; one item per code):
- Acquire: a conditional update that succeeds only when no lease exists or the one there expired;
  it increments ``token``, the fencing token, so every holder has a larger token than the one before.
- Renew (every few seconds) and release: conditional on ``holder`` and ``token``, so a dispatcher
  that lost its lease (paused past its expiry) can neither extend nor end its successor's.
- Each claim transaction checks the lease (``token`` unchanged, not expired) as one of its items:
  a dispatcher whose lease was taken over can no longer claim messages, so at most one sends.
- ``day`` / ``day_parts``: the parts sent on the current UTC day, written with each renewal and at
  release, read by the next holder so a daily cap holds across dispatchers (after a crash, the
  sends since the last renewal are not counted: at most one renewal interval over the cap).
- ``recent`` / ``idle_until_us``: written at release, the sends (time, parts) still inside the
  one-second window and the end of an oversized message's idle time, so a dispatcher that starts
  right after another goes on where it stopped (after a crash the lease runs out first, by which
  time the window is empty).
- A kick (and the minute schedule) reads a code's lease to see whether a dispatcher is running.
Costs per code: one write per renewal (every few seconds while it sends), one read per kick.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table


@dataclass(frozen=True)
class Lease:
    code: str
    holder: str
    token: int
    expires_at_ms: int
    day: int = 0
    day_parts: int = 0
    recent: tuple[tuple[int, int], ...] = ()
    idle_until_us: int = 0


class LeaseLost(Exception):
    """The lease expired and another dispatcher took it (or it was never held)."""


def _condition_failed(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"


def _lease(item: dict[str, Any]) -> Lease:
    return Lease(
        code=str(item["code"]),
        holder=str(item.get("holder", "")),
        token=int(item.get("token", 0)),
        expires_at_ms=int(item.get("expires_at_ms", 0)),
        day=int(item.get("day", 0)),
        day_parts=int(item.get("day_parts", 0)),
        recent=tuple((int(at), int(parts)) for at, parts in item.get("recent", [])),
        idle_until_us=int(item.get("idle_until_us", 0)),
    )


class LeasesTable:
    def __init__(self, table: Table) -> None:
        self._table = table

    @property
    def name(self) -> str:
        return self._table.name

    def get(self, code: str) -> Lease | None:
        item = self._table.get_item(Key={"code": code}, ConsistentRead=True).get("Item")
        return _lease(item) if item else None

    def acquire(self, code: str, holder: str, now_ms: int, ttl_ms: int) -> Lease | None:
        """The new lease, or None while another holder's lease is live."""
        try:
            response = self._table.update_item(
                Key={"code": code},
                UpdateExpression="SET holder = :holder, expires_at_ms = :expires ADD #token :one",
                ConditionExpression="attribute_not_exists(code) OR expires_at_ms <= :now",
                ExpressionAttributeNames={"#token": "token"},
                ExpressionAttributeValues={
                    ":holder": holder,
                    ":expires": now_ms + ttl_ms,
                    ":now": now_ms,
                    ":one": 1,
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _condition_failed(error):
                return None
            raise
        return _lease(response["Attributes"])

    def renew(self, lease: Lease, now_ms: int, ttl_ms: int, day: int, day_parts: int) -> Lease:
        try:
            self._table.update_item(
                Key={"code": lease.code},
                UpdateExpression="SET expires_at_ms = :expires, #day = :day, day_parts = :parts",
                ConditionExpression="holder = :holder AND #token = :token AND expires_at_ms > :now",
                ExpressionAttributeNames={"#token": "token", "#day": "day"},
                ExpressionAttributeValues={
                    ":expires": now_ms + ttl_ms,
                    ":holder": lease.holder,
                    ":token": lease.token,
                    ":now": now_ms,
                    ":day": day,
                    ":parts": day_parts,
                },
            )
        except ClientError as error:
            if _condition_failed(error):
                raise LeaseLost(lease.code) from error
            raise
        return Lease(lease.code, lease.holder, lease.token, now_ms + ttl_ms, day, day_parts)

    def release(
        self,
        lease: Lease,
        day: int,
        day_parts: int,
        recent: list[tuple[int, int]] | None = None,
        idle_until_us: int = 0,
    ) -> bool:
        """End the lease now (the next kick starts a dispatcher at once); False if it was not ours."""
        try:
            self._table.update_item(
                Key={"code": lease.code},
                UpdateExpression=(
                    "SET expires_at_ms = :zero, #day = :day, day_parts = :parts, recent = :recent,"
                    " idle_until_us = :idle"
                ),
                ConditionExpression="holder = :holder AND #token = :token",
                ExpressionAttributeNames={"#token": "token", "#day": "day"},
                ExpressionAttributeValues={
                    ":zero": 0,
                    ":holder": lease.holder,
                    ":token": lease.token,
                    ":day": day,
                    ":parts": day_parts,
                    ":recent": [[at, parts] for at, parts in recent or []],
                    ":idle": idle_until_us,
                },
            )
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    def check_item(self, lease: Lease, now_ms: int) -> dict[str, Any]:
        """A transaction item that holds only while this lease does (the fencing check of a claim)."""
        return {
            "ConditionCheck": {
                "TableName": self._table.name,
                "Key": {"code": lease.code},
                "ConditionExpression": "#token = :token AND expires_at_ms > :now",
                "ExpressionAttributeNames": {"#token": "token"},
                "ExpressionAttributeValues": {":token": lease.token, ":now": now_ms},
            }
        }
