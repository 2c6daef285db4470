"""The Pacing table: one sliding-window log of reservations per transport code, shared by every sender.

Keys and access patterns:
- ``code`` (partition key, the sending number): read the log (strongly consistent), reserve slots
  for a batch of messages and write it back under a version condition; a lost race re-reads and
  tries again. One read and one conditional write per batch per code.
- the same item: does a ticket's reservation still stand (a strongly consistent read).

The log is packed binary (14 bytes a reservation) and holds only reservations that can still
share a window with a future one, within the reservation horizon.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from functions.domain.pacing import ENTRY_FORMAT, PacingLog, Reservation, SlotRequest, SlotResult, Throughput

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

MAX_ATTEMPTS = 25


class PacingContention(Exception):
    """Too many senders raced for the same code; the caller retries the batch later."""


@dataclass(frozen=True)
class Policy:
    lead_us: int  # reserve at least this far ahead: time to wake and call the carrier
    commit_us: int  # bulk reservations closer than this are never moved aside
    horizon_us: int  # the furthest ahead a slot is reserved
    max_entries: int  # bounds the item's size


class PacingTable:
    def __init__(self, table: Table, sleep: Callable[[float], None] = time.sleep) -> None:
        self._table = table
        self._sleep = sleep

    def _read(self, code: str) -> tuple[PacingLog, int]:
        item = self._table.get_item(Key={"code": code}, ConsistentRead=True).get("Item")
        return _log_of(item)

    def reserve(
        self,
        code: str,
        throughput: Throughput,
        requests: Sequence[SlotRequest],
        now_us: Callable[[], int],
        policy: Policy,
        released: set[int] | frozenset[int] = frozenset(),
    ) -> tuple[list[SlotResult], list[Reservation]]:
        """Reserve slots for ``requests`` in order; returns one result each and the evicted reservations.

        ``released``: tags of reservations to give back first (slots their holders missed).
        """
        log, version = self._read(code)
        for attempt in range(MAX_ATTEMPTS):
            now = now_us()
            log.prune(now, throughput)
            log.release(released)
            results: list[SlotResult] = []
            evicted: list[Reservation] = []
            for request in requests:
                result, moved = log.reserve(
                    request, now, throughput, policy.lead_us, policy.commit_us, policy.horizon_us,
                    policy.max_entries,
                )  # fmt: skip
                results.append(result)
                evicted.extend(moved)
            written, current = self._write(code, log, version)
            if written:
                return results, evicted
            # Another sender wrote first: plan again on what it wrote, after a short jittered pause
            # so the losers do not collide again in step.
            log, version = current
            self._sleep((1 + secrets.randbelow(5)) / 1000 * (1 + attempt))
        raise PacingContention(f"could not reserve on {code} after {MAX_ATTEMPTS} attempts")

    def _write(self, code: str, log: PacingLog, version: int) -> tuple[bool, tuple[PacingLog, int]]:
        """Write the log if nobody else has since ``version``; else what is stored now."""
        item: dict[str, Any] = {
            "code": code,
            "log": log.encode(),
            "log_format": ENTRY_FORMAT,
            "version": version + 1,
            "day_parts": {str(day): parts for day, parts in log.day_parts.items()},
        }
        condition = "attribute_not_exists(code)" if version == 0 else "version = :version"
        extra: dict[str, Any] = {} if version == 0 else {"ExpressionAttributeValues": {":version": version}}
        try:
            self._table.put_item(Item=item, ConditionExpression=condition, **extra)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            # Read again rather than trust an item returned with the error: not every client
            # decodes the binary log in an error's body.
            return False, self._read(code)
        return True, (log, version + 1)

    def standing(self, code: str, tags: set[int]) -> set[int]:
        """Which of these tickets' reservations are still in the log (not moved aside)."""
        log, _ = self._read(code)
        return tags & log.tags()

    def frontier_us(self, code: str) -> int | None:
        """The time of the code's last reservation: how far ahead its capacity is spoken for."""
        log, _ = self._read(code)
        return log.frontier_us()


def _log_of(item: dict[str, Any] | None) -> tuple[PacingLog, int]:
    if item is None:
        return PacingLog(), 0
    stored_days: dict[str, Any] = item.get("day_parts", {})
    days = {int(day): int(parts) for day, parts in stored_days.items()}
    log: Any = item["log"]  # a boto3 Binary, or bytes
    data = log.value if hasattr(log, "value") else log
    entry_format = int(item.get("log_format", 1))
    return PacingLog.decode(bytes(data), days, entry_format), int(item["version"])
