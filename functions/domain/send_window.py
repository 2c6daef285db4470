"""One transport code's sending pace: exact sliding windows over message parts, in integer microseconds.

The carrier's rule (and the measure): no one-second window ``[t, t+1 s)`` of arrivals may carry more
message parts than the code's throughput. One dispatcher owns a code, so its windows are short
in-memory logs of what it sent. Two of them:

- ``CallWindow`` is the rule. A message arrives somewhere between its call's start and its answer,
  so each call counts from its start until one second after its answer; a call may start when what
  is counted plus its own parts stay within the limit. No window of arrivals can then hold more,
  whatever the wire adds.
- ``PartsWindow`` is the plan: which message goes next, and when. A message of ``parts`` may go at
  ``t`` when the parts sent in ``(t - W, t]`` plus its own stay within the limit (every window
  holding ``t`` starts in that stretch, and nothing was sent after ``t``). ``W`` is one second plus
  ``margin_us``; it does not wait for answers: a call the plan chose waits for ``CallWindow``.
- A message with more parts than the limit goes alone (nothing else in its window) and keeps the code
  idle for parts / limit seconds after it.
- A daily cap (parts per UTC day, kept by the plan) moves what exceeds it to the next UTC day's start.

Throughput is an integer of millis (parts per second x 1000) so fractional rates (0.2 parts/s) stay
exact.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

MICROS = 1_000_000
DAY_US = 86_400 * MICROS
DEFAULT_MARGIN_US = 0  # the dispatcher sets its own (DISPATCH_WINDOW_MARGIN_MS)


@dataclass(frozen=True, slots=True)
class Sent:
    at_us: int
    parts: int
    idle_until_us: int  # no send may follow before this (an oversized message keeps the code idle)


class PartsWindow:
    def __init__(
        self,
        limit_millis: int,
        daily_cap_parts: int | None = None,
        margin_us: int = DEFAULT_MARGIN_US,
        day_parts: tuple[int, int] | None = None,
        recent: Sequence[tuple[int, int]] = (),
        idle_until_us: int = 0,
    ) -> None:
        """``day_parts``: (UTC day number, parts sent that day); ``recent``, ``idle_until_us``: the sends
        (at, parts) still inside the window and the idle end, as the previous owner left them."""
        if limit_millis <= 0:
            raise ValueError("a code's throughput must be positive")
        self.limit_millis = limit_millis
        self.daily_cap_parts = daily_cap_parts
        self.window_us = MICROS + margin_us
        self._log: deque[Sent] = deque()
        self._in_window = 0  # parts of the log's entries
        self._idle_until_us = 0
        self._last_us = 0
        self.day, self.day_parts = day_parts or (0, 0)
        for at_us, parts in recent:
            self._log.append(Sent(at_us, parts, 0))
            self._in_window += parts
            self._last_us = max(self._last_us, at_us)
        self._idle_until_us = idle_until_us

    def recent(self, now_us: int) -> tuple[list[tuple[int, int]], int]:
        """What a next owner needs to go on without crowding a window: the sends still inside one
        (at, parts) and the time the code is idle until."""
        self._forget_before(now_us)
        return [(entry.at_us, entry.parts) for entry in self._log], self._idle_until_us

    def oversized(self, parts: int) -> bool:
        return parts * 1000 > self.limit_millis

    def hold_us(self, parts: int) -> int:
        """How long after an oversized message the code stays idle: parts / limit seconds (at least W)."""
        return max(self.window_us, math.ceil(parts * self.window_us * 1000 / self.limit_millis))

    def next_slot(self, parts: int, now_us: int, since_us: int | None = None) -> int:
        """The earliest time at or after ``now_us`` at which ``parts`` may go.

        ``since_us`` (before ``now_us``) looks back: a slot from then on counts when the window set
        it (the last send's instant, a send leaving the window, a pause's end), so a late look does
        not move a send the window allowed earlier, and a message chosen just after another shares
        its instant. A window already free at ``since_us`` gives ``now_us``: nothing is placed before
        it was looked at.
        """
        if since_us is not None and since_us < now_us:
            at = self._slot(parts, since_us)
            return at if at != since_us else self._slot(parts, now_us)
        return self._slot(parts, now_us)

    def _slot(self, parts: int, now_us: int) -> int:
        at = max(now_us, self._last_us, self._idle_until_us)
        if self.oversized(parts):
            if self._log:
                at = max(at, self._log[-1].at_us + self.window_us)  # alone in its window
        else:
            need = self._in_window + parts
            for entry in self._log:  # oldest first: each leaving the window frees its parts
                if entry.at_us + self.window_us <= at:
                    need -= entry.parts
                    continue
                if need * 1000 <= self.limit_millis:
                    break
                need -= entry.parts
                at = entry.at_us + self.window_us
        return self._within_cap(parts, at)

    def slot_ahead_of(
        self, waiting_parts: int, parts: int, now_us: int, since_us: int | None = None
    ) -> int | None:
        """When ``parts`` may go, ahead of a waiting message, without making it wait longer; None if not now.

        A backlog of mixed lengths fills the window better this way (a 2-part message that must
        wait leaves room for a single part now) while the waiting message keeps its slot. With
        ``since_us`` it may share the instant of the send just made (see ``next_slot``): messages
        sent together leave the window together, and a long one behind them finds it clear one
        window later, not one window after the last of them.
        """
        at = self.next_slot(parts, now_us, since_us)
        if at > now_us:
            return None
        slot = self.next_slot(waiting_parts, now_us, since_us)
        trial = self.copy()
        trial.record(parts, at)
        return at if trial.next_slot(waiting_parts, now_us, since_us) <= slot else None

    def copy(self) -> PartsWindow:
        twin = PartsWindow(self.limit_millis, self.daily_cap_parts, day_parts=(self.day, self.day_parts))
        twin.window_us = self.window_us
        twin._log = deque(self._log)
        twin._in_window = self._in_window
        twin._idle_until_us = self._idle_until_us
        twin._last_us = self._last_us
        return twin

    def record(self, parts: int, at_us: int) -> None:
        """A send of ``parts`` at ``at_us`` (never earlier than the last one)."""
        if at_us < self._last_us:
            raise ValueError("sends are recorded in time order")
        self._forget_before(at_us)
        idle = at_us + self.hold_us(parts) if self.oversized(parts) else 0
        self._log.append(Sent(at_us, parts, idle))
        self._in_window += parts
        self._idle_until_us = max(self._idle_until_us, idle)
        self._last_us = at_us
        day = at_us // DAY_US
        if day != self.day:
            self.day, self.day_parts = day, 0
        self.day_parts += parts

    @property
    def last_us(self) -> int:
        """The last send's instant."""
        return self._last_us

    def started_at(self, at_us: int) -> None:
        """The sends of the last instant really started by ``at_us`` (later than planned): they move
        there together, so what follows counts from the real calls."""
        if not self._log or at_us <= self._last_us:
            return
        moved: list[Sent] = []
        while self._log and self._log[-1].at_us == self._last_us:
            moved.append(self._log.pop())
        for entry in reversed(moved):
            idle = at_us + self.hold_us(entry.parts) if self.oversized(entry.parts) else 0
            self._log.append(Sent(at_us, entry.parts, idle))
            self._idle_until_us = max(self._idle_until_us, idle)
        self._last_us = at_us

    def pause_until(self, at_us: int) -> None:
        """Send nothing before ``at_us`` (the carrier throttled the code: back off)."""
        self._idle_until_us = max(self._idle_until_us, at_us)

    def _forget_before(self, now_us: int) -> None:
        while self._log and self._log[0].at_us + self.window_us <= now_us:
            self._in_window -= self._log.popleft().parts

    def _within_cap(self, parts: int, at_us: int) -> int:
        cap = self.daily_cap_parts
        if cap is None:
            return at_us
        day = at_us // DAY_US
        used = self.day_parts if day == self.day else 0
        if used + parts <= cap:
            return at_us
        return (day + 1) * DAY_US  # the next UTC day starts with its whole cap


class CallWindow:
    """The calls as the carrier can have counted them: each from its start until one second after its
    answer.

    A carrier times a message when it arrives, somewhere between the call's start and its answer, so
    a window of arrival times ``[t, t+1 s)`` can only hold calls of which each was answered less than
    one second before the latest of them started. A call may start when the calls answered within
    the last second (plus ``extra_us``), those still under way, and its own parts stay within the
    limit: whatever the wire adds before arrival, the carrier's windows never hold more. What it costs
    is each call's answer time, not a margin sized for the slowest wire.
    """

    def __init__(
        self,
        limit_millis: int,
        extra_us: int = 0,
        recent: Sequence[tuple[int, int]] = (),
        idle_until_us: int = 0,
    ) -> None:
        """``recent``, ``idle_until_us``: the calls (answered at, parts) still counted and the idle end, as
        the previous owner left them."""
        if limit_millis <= 0:
            raise ValueError("a code's throughput must be positive")
        self.limit_millis = limit_millis
        self.extra_us = extra_us
        self._under_way: dict[int, int] = {}  # call number -> parts
        self._under_way_parts = 0
        self._answered: deque[tuple[int, int]] = deque(sorted(recent))  # (answered at, parts), in order
        self._answered_parts = sum(parts for _, parts in recent)
        self._numbers = itertools.count()
        self._idle_until_us = idle_until_us

    def oversized(self, parts: int) -> bool:
        return parts * 1000 > self.limit_millis

    def next_slot(self, parts: int, now_us: int) -> int | None:
        """The earliest time at or after ``now_us`` at which a call of ``parts`` may start; None while
        it must wait for an answer first (a call under way holds its parts until then)."""
        self._forget_before(now_us)
        at = max(now_us, self._idle_until_us)
        if self.oversized(parts):
            if self._under_way_parts:
                return None
            return max(at, self._answered[-1][0] + MICROS + self.extra_us) if self._answered else at
        if (self._under_way_parts + parts) * 1000 > self.limit_millis:
            return None
        need = self._under_way_parts + self._answered_parts + parts
        for answered_us, count in self._answered:  # soonest first: each leaving the window frees its parts
            if need * 1000 <= self.limit_millis:
                break
            need -= count
            at = max(at, answered_us + MICROS + self.extra_us)
        return at

    def start(self, parts: int, at_us: int) -> int:
        """A call of ``parts`` starts at ``at_us``; its number, for ``answered``."""
        number = next(self._numbers)
        self._under_way[number] = parts
        self._under_way_parts += parts
        return number

    def answered(self, number: int, at_us: int) -> None:
        """The call ended at ``at_us`` (answered, refused or failed: it may have arrived). A message
        longer than the limit keeps the code idle for parts / limit seconds from then."""
        parts = self._under_way.pop(number)
        self._under_way_parts -= parts
        if self._answered and at_us < self._answered[-1][0]:
            ordered = sorted([*self._answered, (at_us, parts)])  # answers given out of order
            self._answered = deque(ordered)
        else:
            self._answered.append((at_us, parts))
        self._answered_parts += parts
        if self.oversized(parts):
            hold = max(MICROS, math.ceil(parts * MICROS * 1000 / self.limit_millis))
            self._idle_until_us = max(self._idle_until_us, at_us + hold + self.extra_us)

    def pause_until(self, at_us: int) -> None:
        self._idle_until_us = max(self._idle_until_us, at_us)

    def recent(self, now_us: int) -> tuple[list[tuple[int, int]], int]:
        """The calls still counted (answered at, or now for those under way; parts) and the idle end."""
        self._forget_before(now_us)
        calls = [*self._answered, *((now_us, parts) for parts in self._under_way.values())]
        return sorted(calls), self._idle_until_us

    def _forget_before(self, now_us: int) -> None:
        while self._answered and self._answered[0][0] + MICROS + self.extra_us <= now_us:
            self._answered_parts -= self._answered.popleft()[1]
