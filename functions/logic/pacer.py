"""Pacing across every sender: each transport code's shared log in DynamoDB, its limits from the registry."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from functions.dal.config import ConfigTable
from functions.dal.pacing import PacingTable, Policy
from functions.domain.pacing import MICROS, Reservation, SlotRequest, SlotResult, Throughput
from functions.domain.transport import TransportCode, default_code

CODE_CACHE_SECONDS = 30.0  # how soon a changed throughput reaches a running sender
MAX_LEAD_US = 2 * MICROS
LATE_MARGIN_US = 10_000
MAX_TICKET_LEAD_US = 5 * MICROS


@dataclass(frozen=True)
class PacingSettings:
    fill: float = 0.95  # windows are 1 s / fill wide: the margin that absorbs a late send
    lead_seconds: float = 0.1  # reserve at least this far ahead
    # A sender waits this long for a slot; further ones get a ticket. Short: a sleeping sender
    # holds one of the lane's concurrent instances.
    max_sleep_seconds: float = 1.5
    # A ticket comes back 0.5-1.5 s before its slot (SQS delays are whole seconds).
    ticket_lead_seconds: float = 0.5
    horizon_seconds: float = 880.0  # a ticket's wait, within SQS's 900 s delay
    # Mass messages are claimed (and paid for, and given a slot) at most this far ahead of their
    # code's last reservation; the rest wait on the queue unclaimed. A large send is then worked
    # through at the pace it goes out, not all at once at its start.
    lookahead_seconds: float = 10.0
    max_entries: int = 2_000

    @property
    def commit_seconds(self) -> float:
        """Bulk slots closer than this may already be in a sender's hands: never moved aside."""
        return max(self.max_sleep_seconds, self.ticket_lead_seconds + 1.0) + 1.0

    @property
    def late_tolerance_us(self) -> int:
        """How late a send may be and still fit: the widening of the window."""
        return int(MICROS / self.fill) - MICROS

    def policy(self, lead_us: int, ticket_lead_us: int) -> Policy:
        # A bulk slot a ticket may already be coming back for is never moved aside.
        commit_us = max(int(self.commit_seconds * MICROS), ticket_lead_us + 2 * MICROS)
        return Policy(
            lead_us=lead_us,
            commit_us=commit_us,
            horizon_us=int(self.horizon_seconds * MICROS),
            max_entries=self.max_entries,
        )


def epoch_us() -> int:
    return time.time_ns() // 1000


class Pacer:
    def __init__(
        self,
        pacing: PacingTable,
        config: ConfigTable,
        settings: PacingSettings | None = None,
        now_us: Callable[[], int] = epoch_us,
    ) -> None:
        self._pacing = pacing
        self._config = config
        self.settings = settings or PacingSettings()
        self._now_us = now_us
        self._codes: dict[str, tuple[float, TransportCode]] = {}
        # How long a reservation takes to read, plan and write: a slot must lie further ahead than that.
        self._reserve_us = 0.0
        # More lead when senders reached their slots late (a slow moment), given back slowly.
        self._extra_lead_us = 0.0
        self._preparation_us = 0.0

    def code(self, number: str) -> TransportCode:
        now = time.monotonic()
        cached = self._codes.get(number)
        if cached is None or now - cached[0] > CODE_CACHE_SECONDS:
            code = self._config.get_transport_code(number) or default_code(number)
            cached = (now, code)
            self._codes[number] = cached
        return cached[1]

    def throughput(self, number: str) -> Throughput:
        code = self.code(number)
        return Throughput.of(code.limit_millis, self.settings.fill, code.daily_cap_parts)

    def reserve(
        self, number: str, requests: Sequence[SlotRequest], released: set[int] | None = None
    ) -> tuple[list[SlotResult], list[Reservation]]:
        """Slots for ``requests``; ``released``: reservations given back first (missed slots)."""
        base = max(int(self.settings.lead_seconds * MICROS), int(2 * self._reserve_us))
        lead_us = min(MAX_LEAD_US, base + int(self._extra_lead_us))
        started = self._now_us()
        try:
            return self._pacing.reserve(
                number,
                self.throughput(number),
                requests,
                self._now_us,
                self.settings.policy(lead_us, self.ticket_lead_us()),
                released or set(),
            )
        finally:
            # A moving average that rises at once and falls slowly: a slow store must not cost slots.
            took = self._now_us() - started
            self._reserve_us = max(took, 0.9 * self._reserve_us + 0.1 * took)

    def observe_preparation(self, took_us: int) -> None:
        """How long a batch took from its start to its first send: tickets must come back earlier."""
        self._preparation_us = max(float(took_us), 0.9 * self._preparation_us + 0.1 * took_us)

    def ticket_lead_us(self) -> int:
        """How long before its slot a ticket comes back: the configured lead, or what batches need."""
        needed = int(1.5 * self._preparation_us)
        return min(MAX_TICKET_LEAD_US, max(int(self.settings.ticket_lead_seconds * MICROS), needed))

    def observe_slack(self, slack_us: int) -> None:
        """How early (positive) or late a sender was ready for its slot; late ones buy more lead."""
        if slack_us < 0:
            self._extra_lead_us = min(MAX_LEAD_US, self._extra_lead_us - slack_us + LATE_MARGIN_US)
        else:
            self._extra_lead_us = max(0.0, self._extra_lead_us - LATE_MARGIN_US / 10)

    def booked_until_us(self, number: str) -> int | None:
        """The time of the code's last reservation, if any."""
        return self._pacing.frontier_us(number)

    def standing(self, number: str, tags: set[int]) -> set[int]:
        return self._pacing.standing(number, tags)
