"""Pacing one transport code: a sliding-window log of reservations, in integer microseconds.

The rule the carrier (and the measure) applies: no one-second window ``[t, t+1)`` may carry more
message parts than the code's throughput. The log keeps every reservation that can still share a
window with a future one; a message gets the earliest time at which every window around it stays
within the limit. Windows are widened (1 s / fill) so a sender that is a little late cannot push
two reservations into one real second. A message with more parts than the limit goes alone and
keeps the code idle for parts / limit seconds after it.

Two lanes share a code. Triggered messages may take the place of bulk (mass) reservations that are
still far enough ahead that nobody is about to send them: those are evicted, and their holders
reserve again when they come back. So a large mass send never makes a triggered message wait
behind it.
"""

from __future__ import annotations

import bisect
import math
import secrets
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum

MICROS = 1_000_000
DAY_US = 86_400 * MICROS
# at_us, parts, lane, tag. Parts take four bytes: no message's part count can overflow them.
_ENTRY = struct.Struct("<qIBI")
_LEGACY_ENTRY = struct.Struct("<qBBI")  # logs written before parts were widened (at most 255 parts)
ENTRY_FORMAT = 2  # stored beside the log; a log without it is in the legacy format


class Lane(IntEnum):
    TRIGGERED = 0
    BULK = 1


@dataclass(frozen=True, slots=True)
class Reservation:
    at_us: int
    parts: int
    lane: Lane
    tag: int  # identifies the ticket: a holder checks its reservation is still there


@dataclass(frozen=True)
class Throughput:
    limit_millis: int  # parts per second x 1000
    window_us: int  # the one-second window, widened to absorb lateness
    daily_cap_parts: int | None = None

    @classmethod
    def of(cls, limit_millis: int, fill: float, daily_cap_parts: int | None = None) -> Throughput:
        return cls(limit_millis, math.ceil(MICROS / fill), daily_cap_parts)

    def oversized(self, parts: int) -> bool:
        return parts * 1000 > self.limit_millis

    def hold_us(self, parts: int) -> int:
        """How long after a reservation the next one may not share its window (or, if oversized, go)."""
        if not self.oversized(parts):
            return self.window_us
        return max(self.window_us, math.ceil(parts * self.window_us * 1000 / self.limit_millis))


@dataclass(frozen=True)
class SlotRequest:
    parts: int
    lane: Lane
    deadline_us: int  # after this the message has expired: no slot is worth reserving


@dataclass(frozen=True)
class Slot:
    at_us: int
    tag: int


@dataclass(frozen=True)
class Deferred:
    """No slot within the horizon (or today's cap is spent): try again from ``until_us``."""

    until_us: int


@dataclass(frozen=True)
class Expired:
    """The earliest slot is past the message's deadline."""


SlotResult = Slot | Deferred | Expired


@dataclass
class PacingLog:
    entries: list[Reservation] = field(default_factory=list)  # sorted by at_us
    day_parts: dict[int, int] = field(default_factory=dict)  # UTC day number -> parts reserved

    # ---- storage ----

    def encode(self) -> bytes:
        return b"".join(_ENTRY.pack(e.at_us, e.parts, e.lane, e.tag) for e in self.entries)

    @classmethod
    def decode(
        cls, data: bytes, day_parts: dict[int, int] | None = None, entry_format: int = ENTRY_FORMAT
    ) -> PacingLog:
        layout = _ENTRY if entry_format == ENTRY_FORMAT else _LEGACY_ENTRY
        entries = [
            Reservation(at_us, parts, Lane(lane), tag) for at_us, parts, lane, tag in layout.iter_unpack(data)
        ]
        return cls(entries, dict(day_parts or {}))

    # ---- queries ----

    def tags(self) -> set[int]:
        return {entry.tag for entry in self.entries}

    def frontier_us(self) -> int | None:
        return self.entries[-1].at_us if self.entries else None

    def prune(self, now_us: int, throughput: Throughput) -> None:
        """Forget reservations that can no longer share a window with anything still to come."""
        self.entries = [e for e in self.entries if e.at_us + throughput.hold_us(e.parts) > now_us]
        today = now_us // DAY_US
        self.day_parts = {day: parts for day, parts in self.day_parts.items() if day >= today}

    def release(self, tags: set[int] | frozenset[int]) -> None:
        """Give reservations back (their holders could not use them)."""
        if tags:
            self.entries = [e for e in self.entries if e.tag not in tags]

    def feasible(
        self, at_us: int, parts: int, throughput: Throughput, entries: Sequence[Reservation] | None = None
    ) -> bool:
        return _Index(self.entries if entries is None else entries, throughput).feasible(at_us, parts)

    def earliest(
        self,
        parts: int,
        not_before_us: int,
        throughput: Throughput,
        entries: Sequence[Reservation] | None = None,
    ) -> int:
        """The earliest feasible time: feasibility only improves when a reservation leaves a window."""
        entries = self.entries if entries is None else entries
        index = _Index(entries, throughput)
        candidates = sorted(
            {not_before_us}
            | {
                e.at_us + throughput.hold_us(e.parts)
                for e in entries
                if e.at_us + throughput.hold_us(e.parts) > not_before_us
            }
        )
        for candidate in candidates:
            if index.feasible(candidate, parts):
                return candidate
        raise AssertionError("the time after every reservation is always feasible")

    # ---- reserving ----

    def reserve(
        self,
        request: SlotRequest,
        now_us: int,
        throughput: Throughput,
        lead_us: int,
        commit_us: int,
        horizon_us: int,
        max_entries: int,
    ) -> tuple[SlotResult, list[Reservation]]:
        """Reserve the earliest slot at least ``lead_us`` ahead; returns it and any evicted reservations.

        ``commit_us``: bulk reservations closer than this are about to be sent and are never evicted.
        ``horizon_us``: how far ahead a slot may be reserved (a ticket can wait at most that long).
        """
        not_before = now_us + lead_us
        evicted: list[Reservation] = []
        while True:
            at = self.earliest(request.parts, not_before, throughput)
            if request.lane is Lane.TRIGGERED:
                at, evicted = self._evict_for(request.parts, not_before, at, now_us + commit_us, throughput)
            if at > request.deadline_us:
                self._restore(evicted)
                return Expired(), []
            if at > now_us + horizon_us:
                self._restore(evicted)
                return Deferred(until_us=now_us + horizon_us), []
            if len(self.entries) >= max_entries:
                # Full: come back when the reserved stretch has gone by, not again and again before.
                self._restore(evicted)
                return Deferred(until_us=min(self.entries[-1].at_us, now_us + horizon_us)), []
            cap = throughput.daily_cap_parts
            day = at // DAY_US
            if cap is not None and self.day_parts.get(day, 0) + request.parts > cap:
                self._restore(evicted)
                evicted = []
                not_before = (day + 1) * DAY_US
                if not_before > now_us + horizon_us:
                    return Deferred(until_us=not_before), []
                continue
            break
        slot = Reservation(at, request.parts, request.lane, secrets.randbits(32))
        bisect.insort(self.entries, slot, key=lambda e: e.at_us)
        if cap is not None:
            self.day_parts[day] = self.day_parts.get(day, 0) + request.parts
        for gone in evicted:
            gone_day = gone.at_us // DAY_US
            if gone_day in self.day_parts:
                self.day_parts[gone_day] -= gone.parts
        return Slot(at, slot.tag), evicted

    def _evict_for(
        self, parts: int, not_before: int, without_eviction: int, commit_until: int, throughput: Throughput
    ) -> tuple[int, list[Reservation]]:
        """The earliest slot if uncommitted bulk reservations may be moved out of the way."""
        fixed = [e for e in self.entries if e.lane is Lane.TRIGGERED or e.at_us < commit_until]
        at = self.earliest(parts, not_before, throughput, fixed)
        if at >= without_eviction:
            return without_eviction, []
        remaining = list(self.entries)
        evicted: list[Reservation] = []
        reach = throughput.hold_us(parts) + max(
            (throughput.hold_us(e.parts) for e in self.entries), default=throughput.window_us
        )
        while not self.feasible(at, parts, throughput, remaining):
            # Move the movable reservation nearest the slot (the later one of a tie: it waited least).
            movable = [
                e
                for e in remaining
                if e.lane is Lane.BULK and e.at_us >= commit_until and abs(e.at_us - at) < reach
            ]
            victim = min(movable, key=lambda e: (abs(e.at_us - at), -e.at_us))
            remaining.remove(victim)
            evicted.append(victim)
        self.entries = remaining
        return at, evicted

    def _restore(self, evicted: Iterable[Reservation]) -> None:
        for entry in evicted:
            bisect.insort(self.entries, entry, key=lambda e: e.at_us)


class _Index:
    """The reservations arranged for window sums: sorted times and prefix sums of parts."""

    def __init__(self, entries: Sequence[Reservation], throughput: Throughput) -> None:
        self._throughput = throughput
        self._oversized = [e for e in entries if throughput.oversized(e.parts)]
        normal = [e for e in entries if not throughput.oversized(e.parts)]
        self._times = [e.at_us for e in normal]
        self._prefix = [0]
        for entry in normal:
            self._prefix.append(self._prefix[-1] + entry.parts)

    def feasible(self, at_us: int, parts: int) -> bool:
        throughput, times, prefix = self._throughput, self._times, self._prefix
        window = throughput.window_us
        own_hold = throughput.hold_us(parts)
        for entry in self._oversized:
            # An oversized reservation is alone in its windows and keeps the code idle after it.
            if entry.at_us <= at_us:
                if at_us < entry.at_us + throughput.hold_us(entry.parts):
                    return False
            elif entry.at_us < at_us + own_hold:
                return False
        if throughput.oversized(parts):
            return bisect.bisect_right(times, at_us - window) == bisect.bisect_left(times, at_us + own_hold)
        # The fullest window containing at_us starts at at_us or at a reservation just before it.
        first = bisect.bisect_right(times, at_us - window)
        last = bisect.bisect_right(times, at_us)
        for start in (at_us, *times[first:last]):
            low = bisect.bisect_left(times, start)
            high = bisect.bisect_left(times, start + window)
            if (prefix[high] - prefix[low] + parts) * 1000 > throughput.limit_millis:
                return False
        return True
