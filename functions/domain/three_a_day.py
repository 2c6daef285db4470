"""The three-a-day rule: at most three messages on one subject to one number in any 24 hours.

Florida, Oklahoma and Maryland (the states are configuration) limit solicitations to three per
24 hours "on the same subject matter or issue" from one sender. The subject of a message is the
registered text it was rendered from (the saved message's key, or the tenant template's), not its
version or its variables: three invoice reminders with different amounts are one subject, an
invoice reminder and an outage notice are two, a reworded saved message (a new version) is still
the same notice. The text is what a carrier's campaign registration and a recipient see as "the
same message again"; anything finer (the variables) would let a tenant send the same notice
endlessly with a changed amount, anything coarser (the tenant) would let one outage notice block
the invoice that follows.

A recipient's recent sends on a subject are instants (past ones, and future ones reserved for held
messages). A new send fits at ``at`` when, with it, every four consecutive sends span at least 24
hours. A triggered message that does not fit is held until the first instant it does (rounded up to
the whole minute, when the release schedule runs); a mass message or calling list is not held for it
but refused, excluded with the reason.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from functions.domain.windows import Hold

THREE_A_DAY_RULE = "three_a_day"  # the hold rule of a held message, the reason of an excluded one
LIMIT = 3
WINDOW = timedelta(hours=24)
DEFAULT_STATES = frozenset({"FL", "OK", "MD"})
# Each round moves the instant forward past a rule; the windows and this rule agree well within this.
_MAX_ROUNDS = 32


def recent(sends: Iterable[datetime], now: datetime) -> list[datetime]:
    """The sends that can still constrain a send at ``now`` or later, sorted."""
    return sorted(send for send in sends if send > now - WINDOW)


def fits(sends: Sequence[datetime], at: datetime) -> bool:
    """With one more send at ``at``, no 24 hours hold more than three sends."""
    times = sorted(sends)
    index = bisect.bisect_right(times, at)
    times.insert(index, at)
    for first in range(max(0, index - LIMIT), index + 1):
        last = first + LIMIT
        if last < len(times) and times[last] - times[first] < WINDOW:
            return False
    return True


def first_fit(sends: Sequence[datetime], due: datetime) -> datetime:
    """The first instant at or after ``due`` at which one more send fits.

    Waiting only helps when an earlier send leaves the 24 hours behind, so the candidates are
    ``due`` and each send plus 24 hours; past the latest of those every send fits.
    """
    candidates = sorted({due, *(send + WINDOW for send in sends if send + WINDOW > due)})
    return next(candidate for candidate in candidates if fits(sends, candidate))


def _whole_minute_after(instant: datetime) -> datetime:
    floor = instant.replace(second=0, microsecond=0)
    return floor if floor == instant else floor + timedelta(minutes=1)


def triggered_slot(
    sends: Sequence[datetime],
    now: datetime,
    due: Hold | None,
    reopen: Callable[[datetime], Hold | None],
) -> Hold | None:
    """When a triggered message may go: None for now, else its release instant and the rule that set it.

    ``due`` is the hold of the tenant's quiet hours and the recipient's window (None: now);
    ``reopen(instant)`` is that same hold asked again at a later instant, since waiting for this
    rule can land in quiet hours or outside the calling window.
    """
    at, rule = (due.release_at, due.rule) if due else (now, None)
    for _ in range(_MAX_ROUNDS):
        slot = first_fit(sends, at)
        if slot > at:
            at, rule = _whole_minute_after(slot), THREE_A_DAY_RULE
        held = reopen(at)
        if held is not None and held.release_at > at:
            at, rule = held.release_at, held.rule
            continue
        if fits(sends, at):
            return None if rule is None else Hold(release_at=at, rule=rule)
    raise RuntimeError("the three-a-day rule and the calling windows found no common instant")
