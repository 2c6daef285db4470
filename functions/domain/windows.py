"""When a message may go: the tenant's quiet hours and the recipient's local calling window.

Every rule is a daily span of wall-clock time, in one time zone, during which a message does not go.
Quiet hours are one such span in the tenant's system time zone (22:00-07:00 crosses midnight). The
recipient's calling window (federal 08:00-21:00, stricter in some states) closes from its end to its
start in every zone the number's area code may be in; a window may open later on some weekdays
(Texas: 12:00 on Sundays, 09:00 otherwise), the weekday being the local day on which the span ends.
A message created inside any closed span is held until the first instant every span is open again.

Wall clocks jump at daylight-saving changes, so the first open instant is found among the instants
where a span's end is reached on the wall clock (twice on a fall-back night) and the instants where
the clock jumps: a span ending at 02:30 on a spring-forward night ends when the clock jumps to 03:00.
Spans are half-open: a message at the end minute goes, a message at the start minute is held.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Annotated, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import geocoder
from phonenumbers import timezone as number_zones
from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer, model_validator

QUIET_HOURS_RULE = "quiet_hours"
FEDERAL_RULE = "recipient_window_federal"
STATE_RULE_PREFIX = "recipient_window_state:"

# Past this, rules that never open together are treated as conflicting (each repeats daily).
SEARCH_HORIZON = timedelta(days=8)
# Offset changes are looked for this far past a closed instant; no zone changes twice in it.
_TRANSITION_SCAN = timedelta(days=3)
_TRANSITION_SAMPLE = timedelta(hours=12)

_CLOCK_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def parse_clock_time(text: str) -> time:
    """A wall-clock time written HH:MM (24-hour)."""
    match = _CLOCK_TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"'{text}' is not a time of day written HH:MM (00:00 to 23:59)")
    return time(int(match[1]), int(match[2]))


def _clock_time(value: object) -> object:
    return parse_clock_time(value) if isinstance(value, str) else value


def _written(value: time) -> str:
    return value.strftime("%H:%M")


ClockTime = Annotated[time, BeforeValidator(_clock_time), PlainSerializer(_written, return_type=str)]


class QuietHours(BaseModel):
    """A tenant's quiet hours, in its system time zone; the end may be on the next day."""

    model_config = ConfigDict(frozen=True)

    start: ClockTime
    end: ClockTime

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start == self.end:
            raise ValueError("quiet hours must end at another time than they start")
        return self


SUNDAY = 6  # date.weekday()


@dataclass(frozen=True)
class CallingWindow:
    """Hours of the recipient's local day in which a message may go."""

    opens: time
    closes: time
    # (weekday, opening) for the days that open at another time; Monday is 0, Sunday 6.
    opens_on: tuple[tuple[int, time], ...] = ()


FEDERAL_WINDOW = CallingWindow(time(8, 0), time(21, 0))  # 47 CFR 64.1200(c)(1)
STATE_WINDOWS = {
    "FL": CallingWindow(time(8, 0), time(20, 0)),  # Fla. Stat. 501.059(8)(a)
    "OK": CallingWindow(time(8, 0), time(20, 0)),  # 15 O.S. 775C.4
    "MD": CallingWindow(time(8, 0), time(20, 0)),  # Md. Com. Law 14-4503
    "WA": CallingWindow(time(8, 0), time(20, 0)),  # RCW 80.36.390
    "CT": CallingWindow(time(9, 0), time(20, 0)),  # Conn. Gen. Stat. 42-288a
    # Tex. Bus. & Com. Code 301.051: 09:00-21:00 Monday to Saturday, 12:00-21:00 on Sunday.
    "TX": CallingWindow(time(9, 0), time(21, 0), opens_on=((SUNDAY, time(12, 0)),)),
}
# How the geocoder names a state or province when it gives one rather than "City, ST".
_STATE_NAMES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "Florida": "FL", "Georgia": "GA",
    "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA", "Kansas": "KS",
    "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD", "Massachusetts": "MA",
    "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS", "Missouri": "MO", "Montana": "MT",
    "Nebraska": "NE", "Nevada": "NV", "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM",
    "New York": "NY", "North Carolina": "NC", "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK",
    "Oregon": "OR", "Pennsylvania": "PA", "Rhode Island": "RI", "South Carolina": "SC",
    "South Dakota": "SD", "Tennessee": "TN", "Texas": "TX", "Utah": "UT", "Vermont": "VT",
    "Virginia": "VA", "Washington State": "WA", "West Virginia": "WV", "Wisconsin": "WI",
    "Wyoming": "WY", "Washington D.C.": "DC", "Alberta": "AB", "British Columbia": "BC",
    "Manitoba": "MB", "New Brunswick": "NB", "Newfoundland and Labrador": "NL", "Nova Scotia": "NS",
    "Ontario": "ON", "Prince Edward Island": "PE", "Quebec": "QC", "Saskatchewan": "SK",
    "Northwest Territories": "NT", "Nunavut": "NU", "Yukon": "YT",
}  # fmt: skip
# A number whose area code has no known zone must be inside the window in all of these.
_NORTH_AMERICAN_ZONES = (
    "America/St_Johns",
    "America/Halifax",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
)


@dataclass(frozen=True)
class Hold:
    release_at: datetime  # aware, UTC
    rule: str


@dataclass(frozen=True)
class ClosedSpan:
    """A daily span of wall-clock time in one zone during which no message goes; ``rule`` names it."""

    start: time
    end: time
    zone: ZoneInfo
    rule: str
    # (weekday, end) for the local days on which the span ends at another time than ``end``.
    ends_on: tuple[tuple[int, time], ...] = ()

    def __post_init__(self) -> None:
        crosses = self.start > self.end
        if any((self.start > end) != crosses or self.start == end for _, end in self.ends_on):
            raise ValueError("a weekday's end must keep the span on the same side of midnight")

    def end_on(self, day: date) -> time:
        return dict(self.ends_on).get(day.weekday(), self.end)

    def covers(self, instant: datetime) -> bool:
        local = instant.astimezone(self.zone)
        wall, end = local.time(), self.end_on(local.date())
        if self.start < self.end:
            return self.start <= wall < end
        return wall >= self.start or wall < end

    def first_open(self, instant: datetime) -> datetime:
        """``instant`` if the span does not cover it, else the first later instant it does not cover."""
        if not self.covers(instant):
            return instant
        today = instant.astimezone(self.zone).date()
        days = [today + timedelta(days=offset) for offset in range(3)]
        candidates = [
            candidate for day in days for candidate in _instants_showing(day, self.end_on(day), self.zone)
        ]
        candidates.extend(_offset_changes(self.zone, instant, instant + _TRANSITION_SCAN))
        return min(c for c in candidates if c > instant and not self.covers(c))


def _instants_showing(day: date, wall: time, zone: ZoneInfo) -> list[datetime]:
    """The instants at which the zone's clock shows ``wall`` on ``day``: none in a gap, two in a fold."""
    expected = datetime.combine(day, wall)
    found = set()
    for fold in (0, 1):
        instant = datetime.combine(day, wall, tzinfo=zone).replace(fold=fold).astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == expected:
            found.add(instant)
    return sorted(found)


def _offset_changes(zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """The instants in (start, end] at which the zone's UTC offset changes, to the second."""
    changes = []
    before = start
    while before < end:
        after = min(before + _TRANSITION_SAMPLE, end)
        if before.astimezone(zone).utcoffset() != after.astimezone(zone).utcoffset():
            changes.append(_first_with_offset_of(zone, before, after))
        before = after
    return changes


def _first_with_offset_of(zone: ZoneInfo, before: datetime, after: datetime) -> datetime:
    old = before.astimezone(zone).utcoffset()
    low, high = int(before.timestamp()), int(after.timestamp()) + 1  # offset(low) == old, offset(high) new
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == old:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


class NoCommonOpening(Exception):
    """The rules are never all open together (each repeats daily, so the search stops)."""


def earliest_opening(spans: Sequence[ClosedSpan], now: datetime) -> Hold | None:
    """None if every span is open at ``now``; else the first instant all are, and the rule that set it."""
    instant, rule = now, None
    deadline = now + SEARCH_HORIZON
    while instant <= deadline:
        moved = False
        for span in spans:
            opened = span.first_open(instant)
            if opened != instant:
                instant, rule, moved = opened, span.rule, True
        if not moved:
            return None if rule is None else Hold(release_at=instant.astimezone(UTC), rule=rule)
    raise NoCommonOpening


def quiet_hours_span(quiet_hours: QuietHours, time_zone: str) -> ClosedSpan:
    return ClosedSpan(quiet_hours.start, quiet_hours.end, _zone(time_zone), QUIET_HOURS_RULE)


def recipient_spans(number: str) -> list[ClosedSpan]:
    """The recipient's calling window, closed from its end to its start in every zone of the number."""
    zones, state = _geography(number)
    window = STATE_WINDOWS.get(state or "")
    rule = f"{STATE_RULE_PREFIX}{state}" if window else FEDERAL_RULE
    window = window or FEDERAL_WINDOW
    return [
        ClosedSpan(window.closes, window.opens, _zone(zone), rule, ends_on=window.opens_on) for zone in zones
    ]


def recipient_state(number: str) -> str | None:
    """The state or province of the number's area code (two letters), when the geocoder names one."""
    return _geography(number)[1]


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _geography(number: str) -> tuple[tuple[str, ...], str | None]:
    """The zones the number's area code may be in, and its state when the geocoder names one."""
    parsed = phonenumbers.parse(number)
    zones = tuple(zone for zone in number_zones.time_zones_for_number(parsed) if _known_zone(zone))
    return zones or _NORTH_AMERICAN_ZONES, _state_of(geocoder.description_for_number(parsed, "en"))


def _known_zone(name: str) -> bool:
    try:
        _zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _state_of(description: str) -> str | None:
    """'Miami, FL' -> FL; 'Florida' -> FL; a state without a window of its own may stay unnamed."""
    _, comma, code = description.rpartition(", ")
    if comma and re.fullmatch(r"[A-Z]{2}", code):
        return code
    return _STATE_NAMES.get(description)


class HoldPolicy(BaseModel):
    """The rules a message is held by: quiet hours (in the tenant's zone), the recipient's window, or both."""

    model_config = ConfigDict(frozen=True)

    time_zone: str
    quiet_hours: QuietHours | None = None
    recipient_window: bool = False

    def hold(self, number: str, now: datetime) -> Hold | None:
        """None to send now; else when the message may go and the rule that holds it until then.

        Quiet hours and the recipient's window that never open together (quiet hours that cover the
        recipient's whole day) leave the recipient's window alone: the law wins over the preference.
        """
        recipient = recipient_spans(number) if self.recipient_window else []
        quiet = [quiet_hours_span(self.quiet_hours, self.time_zone)] if self.quiet_hours else []
        try:
            return earliest_opening([*quiet, *recipient], now)
        except NoCommonOpening:
            return earliest_opening(recipient, now)
