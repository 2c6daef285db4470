"""Quiet hours and recipient calling windows, at chosen instants: boundaries, midnight, DST, zones."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from functions.domain.tenants import Tenant
from functions.domain.windows import (
    FEDERAL_RULE,
    QUIET_HOURS_RULE,
    ClosedSpan,
    HoldPolicy,
    QuietHours,
    parse_clock_time,
    quiet_hours_span,
    recipient_spans,
)

NEW_YORK = ZoneInfo("America/New_York")
TORONTO = ZoneInfo("America/Toronto")
VANCOUVER = ZoneInfo("America/Vancouver")
ANCHORAGE = ZoneInfo("America/Anchorage")
ADAK = ZoneInfo("America/Adak")

NEW_YORK_NUMBER = "+12125550187"  # New York, NY: federal window, one zone
MIAMI = "+13053751234"  # Miami, FL
SEATTLE = "+12063861234"  # Seattle, WA
HOUSTON = "+12815550123"  # Houston, TX: 09:00-21:00, Sundays from 12:00 (Central)
EL_PASO = "+19155550123"  # El Paso, TX: the same window in Mountain time
HARTFORD = "+18605550123"  # Connecticut: 09:00-20:00
CHICAGO = "+13125550123"  # Chicago, IL: federal window
WASHINGTON_DC = "+12023334444"  # "Washington D.C.": not Washington State
ALASKA = "+19075550123"  # America/Adak and America/Anchorage
IDAHO = "+12085550123"  # America/Boise and America/Los_Angeles


def quiet(start: str, end: str, zone: str = "America/New_York") -> HoldPolicy:
    return HoldPolicy(time_zone=zone, quiet_hours=QuietHours(start=start, end=end))


def held_until(policy: HoldPolicy, now: datetime, number: str = NEW_YORK_NUMBER) -> datetime | None:
    hold = policy.hold(number, now)
    return None if hold is None else hold.release_at


def at(zone: ZoneInfo, *parts: int, fold: int = 0) -> datetime:
    return datetime(*parts, tzinfo=zone, fold=fold)  # type: ignore[misc]


# ---- quiet hours in the tenant's zone ----


@pytest.mark.parametrize(
    ("local", "released"),
    [
        ((2026, 6, 1, 8, 59), None),
        ((2026, 6, 1, 9, 0), (2026, 6, 1, 17, 0)),  # the start minute is inside
        ((2026, 6, 1, 12, 30), (2026, 6, 1, 17, 0)),
        ((2026, 6, 1, 16, 59, 59, 999_999), (2026, 6, 1, 17, 0)),
        ((2026, 6, 1, 17, 0), None),  # the end minute is outside
    ],
)
def test_quiet_hours_inside_one_day(local, released):
    release = held_until(quiet("09:00", "17:00"), at(NEW_YORK, *local))
    assert release == (at(NEW_YORK, *released) if released else None)


@pytest.mark.parametrize(
    ("local", "released"),
    [
        ((2026, 6, 1, 21, 59, 59), None),
        ((2026, 6, 1, 22, 0), (2026, 6, 2, 7, 0)),
        ((2026, 6, 1, 23, 45), (2026, 6, 2, 7, 0)),
        ((2026, 6, 2, 0, 0), (2026, 6, 2, 7, 0)),
        ((2026, 6, 2, 3, 0), (2026, 6, 2, 7, 0)),
        ((2026, 6, 2, 6, 59), (2026, 6, 2, 7, 0)),
        ((2026, 6, 2, 7, 0), None),
        ((2026, 6, 2, 12, 0), None),
    ],
)
def test_quiet_hours_across_midnight(local, released):
    release = held_until(quiet("22:00", "07:00"), at(NEW_YORK, *local))
    assert release == (at(NEW_YORK, *released) if released else None)


def test_the_release_is_utc_and_names_the_rule():
    hold = quiet("22:00", "07:00").hold(NEW_YORK_NUMBER, at(NEW_YORK, 2026, 6, 1, 23, 0))
    assert hold is not None
    assert hold.release_at == datetime(2026, 6, 2, 11, 0, tzinfo=UTC)
    assert hold.release_at.tzinfo is UTC
    assert hold.rule == QUIET_HOURS_RULE


def test_quiet_hours_follow_the_tenant_zone_not_utc():
    # 23:00 in Vancouver is 06:00 UTC; the window is the tenant's wall clock.
    release = held_until(quiet("22:00", "07:00", "America/Vancouver"), datetime(2026, 6, 2, 6, 0, tzinfo=UTC))
    assert release == at(VANCOUVER, 2026, 6, 2, 7, 0)


# ---- daylight-saving changes (New York: 2026-03-08 02:00 -> 03:00, 2026-11-01 02:00 -> 01:00) ----


def test_spring_forward_night_ends_at_the_same_wall_time():
    # The night is an hour shorter: 07:00 EDT is 11:00 UTC, not 12:00.
    release = held_until(quiet("22:00", "07:00"), at(NEW_YORK, 2026, 3, 7, 23, 0))
    assert release == datetime(2026, 3, 8, 11, 0, tzinfo=UTC)


def test_an_end_inside_the_spring_forward_gap_ends_when_the_clock_jumps():
    # 02:30 never shows on that night: the clock goes from 01:59:59 EST to 03:00 EDT (07:00 UTC).
    release = held_until(quiet("22:00", "02:30"), at(NEW_YORK, 2026, 3, 8, 1, 15))
    assert release == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert release.astimezone(NEW_YORK).time() == time(3, 0)


def test_a_start_inside_the_spring_forward_gap_holds_from_the_jump():
    policy = quiet("02:15", "06:00")
    assert held_until(policy, at(NEW_YORK, 2026, 3, 8, 1, 59)) is None
    assert held_until(policy, datetime(2026, 3, 8, 7, 0, tzinfo=UTC)) == at(NEW_YORK, 2026, 3, 8, 6, 0)


def test_fall_back_night_ends_at_the_same_wall_time():
    # The night is an hour longer: 07:00 EST is 12:00 UTC.
    release = held_until(quiet("22:00", "07:00"), at(NEW_YORK, 2026, 10, 31, 23, 0))
    assert release == datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_an_end_in_the_repeated_hour_ends_at_its_first_showing_and_holds_again_in_the_second():
    policy = quiet("22:00", "01:30")
    # 01:15 EDT (05:15 UTC): released at the first 01:30 (EDT, 05:30 UTC).
    assert held_until(policy, datetime(2026, 11, 1, 5, 15, tzinfo=UTC)) == datetime(
        2026, 11, 1, 5, 30, tzinfo=UTC
    )
    # 01:15 EST (06:15 UTC), the clock's second pass through that hour: held to 01:30 EST.
    assert held_until(policy, at(NEW_YORK, 2026, 11, 1, 1, 15, fold=1)) == datetime(
        2026, 11, 1, 6, 30, tzinfo=UTC
    )


def test_a_span_left_when_the_clock_falls_back_ends_at_the_change():
    # 01:30-03:00 covers 01:45 EDT; at 06:00 UTC the clock falls back to 01:00 EST, outside it.
    release = held_until(quiet("01:30", "03:00"), datetime(2026, 11, 1, 5, 45, tzinfo=UTC))
    assert release == datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


# ---- the recipient's local calling window ----


def window_only(zone: str = "America/New_York") -> HoldPolicy:
    return HoldPolicy(time_zone=zone, recipient_window=True)


@pytest.mark.parametrize(
    ("number", "local_time", "rule"),
    [
        (MIAMI, (19, 59), None),
        (MIAMI, (20, 0), "recipient_window_state:FL"),
        (SEATTLE, (20, 0), "recipient_window_state:WA"),
        ("+14053451234", (20, 30), "recipient_window_state:OK"),
        ("+14104561234", (20, 30), "recipient_window_state:MD"),
        (CHICAGO, (20, 30), None),
        (CHICAGO, (21, 0), FEDERAL_RULE),
        (CHICAGO, (7, 59), FEDERAL_RULE),
        (CHICAGO, (8, 0), None),
        (WASHINGTON_DC, (20, 30), None),
        (NEW_YORK_NUMBER, (20, 59), None),
        (NEW_YORK_NUMBER, (21, 0), FEDERAL_RULE),
    ],
)
def test_the_federal_window_and_the_stricter_state_windows(number, local_time, rule):
    (zone,) = {span.zone for span in recipient_spans(number)}
    hold = window_only().hold(number, at(zone, 2026, 6, 1, *local_time))
    assert (hold.rule if hold else None) == rule
    if hold is not None:
        assert hold.release_at.astimezone(zone).time() == time(8, 0)


# 2026-06-01 is a Monday, 2026-06-06 a Saturday, 2026-06-07 a Sunday.
@pytest.mark.parametrize(
    ("number", "local", "released"),
    [
        (HARTFORD, (2026, 6, 1, 8, 30), (2026, 6, 1, 9, 0)),
        (HARTFORD, (2026, 6, 1, 9, 0), None),
        (HARTFORD, (2026, 6, 1, 19, 59), None),
        (HARTFORD, (2026, 6, 1, 20, 0), (2026, 6, 2, 9, 0)),
        (HARTFORD, (2026, 6, 7, 9, 0), None),  # Connecticut's window is the same every day
        (HOUSTON, (2026, 6, 1, 8, 59), (2026, 6, 1, 9, 0)),
        (HOUSTON, (2026, 6, 1, 20, 59), None),  # Texas closes at 21:00 like the federal window
        (HOUSTON, (2026, 6, 1, 21, 0), (2026, 6, 2, 9, 0)),
        (HOUSTON, (2026, 6, 6, 9, 0), None),  # Saturday opens at 09:00
        (HOUSTON, (2026, 6, 6, 21, 30), (2026, 6, 7, 12, 0)),  # Saturday night waits for Sunday noon
        (HOUSTON, (2026, 6, 7, 9, 0), (2026, 6, 7, 12, 0)),
        (HOUSTON, (2026, 6, 7, 11, 59), (2026, 6, 7, 12, 0)),
        (HOUSTON, (2026, 6, 7, 12, 0), None),
        (HOUSTON, (2026, 6, 7, 21, 0), (2026, 6, 8, 9, 0)),  # Sunday night: Monday opens at 09:00
        (EL_PASO, (2026, 6, 7, 10, 0), (2026, 6, 7, 12, 0)),  # noon in El Paso's own (Mountain) time
    ],
)
def test_the_connecticut_and_texas_windows(number, local, released):
    (zone,) = {span.zone for span in recipient_spans(number)}
    hold = window_only().hold(number, at(zone, *local))
    assert (hold.release_at if hold else None) == (at(zone, *released) if released else None)
    if hold is not None:
        state = "CT" if number == HARTFORD else "TX"
        assert hold.rule == f"recipient_window_state:{state}"


def test_texas_sunday_noon_keeps_the_daylight_saving_treatment():
    # 2026-03-08 is a Sunday and the spring-forward day: 02:00-03:00 does not exist in Houston.
    central = ZoneInfo("America/Chicago")
    hold = window_only().hold(HOUSTON, datetime(2026, 3, 8, 7, 30, tzinfo=UTC))  # 01:30 CST
    assert hold is not None
    assert hold.release_at == at(central, 2026, 3, 8, 12, 0)
    assert hold.release_at - datetime(2026, 3, 8, 7, 30, tzinfo=UTC) == timedelta(hours=9, minutes=30)
    # 2026-11-01 is a Sunday and the fall-back day: the night is an hour longer.
    fall = window_only().hold(HOUSTON, at(central, 2026, 10, 31, 22, 0))
    assert fall is not None
    assert fall.release_at == at(central, 2026, 11, 1, 12, 0)
    assert fall.release_at - at(central, 2026, 10, 31, 22, 0) == timedelta(hours=15)


def test_a_weekday_end_must_stay_on_the_same_side_of_midnight():
    with pytest.raises(ValueError, match="same side"):
        ClosedSpan(time(21, 0), time(9, 0), NEW_YORK, "x", ends_on=((6, time(22, 0)),))


def test_a_number_with_several_zones_waits_until_every_zone_is_inside():
    # 08:30 in Anchorage is 07:30 in Adak: held until 08:00 in Adak (09:00 in Anchorage).
    hold = window_only().hold(ALASKA, at(ANCHORAGE, 2026, 6, 1, 8, 30))
    assert hold is not None
    assert hold.release_at == at(ADAK, 2026, 6, 1, 8, 0)
    assert hold.release_at.astimezone(ANCHORAGE).time() == time(9, 0)
    # 20:30 in Adak is 21:30 in Anchorage: closed in one of them is enough.
    late = window_only().hold(ALASKA, at(ADAK, 2026, 6, 1, 20, 30))
    assert late is not None
    assert late.release_at == at(ADAK, 2026, 6, 2, 8, 0)


def test_idaho_numbers_wait_for_the_later_of_mountain_and_pacific_mornings():
    zones = {span.zone.key for span in recipient_spans(IDAHO)}
    assert zones == {"America/Boise", "America/Los_Angeles"}
    hold = window_only().hold(IDAHO, at(ZoneInfo("America/Boise"), 2026, 1, 15, 8, 30))
    assert hold is not None
    assert hold.release_at == at(VANCOUVER, 2026, 1, 15, 8, 0)


def test_tenant_and_recipient_in_different_zones():
    # A Vancouver tenant, quiet 21:00-08:00 Pacific; a Miami recipient (FL: 08:00-20:00 Eastern).
    policy = HoldPolicy(
        time_zone="America/Vancouver",
        quiet_hours=QuietHours(start="21:00", end="08:00"),
        recipient_window=True,
    )
    # 06:30 in Vancouver is 09:30 in Miami: only the tenant's quiet hours hold it.
    early = policy.hold(MIAMI, at(VANCOUVER, 2026, 6, 1, 6, 30))
    assert early is not None
    assert (early.release_at, early.rule) == (at(VANCOUVER, 2026, 6, 1, 8, 0), QUIET_HOURS_RULE)
    # 17:30 in Vancouver is 20:30 in Miami: the quiet hours are not on, Florida's window is closed
    # until 08:00 Eastern, and at 05:00 Pacific the quiet hours are: the release is 08:00 Pacific.
    late = policy.hold(MIAMI, at(VANCOUVER, 2026, 6, 1, 17, 30))
    assert late is not None
    assert (late.release_at, late.rule) == (at(VANCOUVER, 2026, 6, 2, 8, 0), QUIET_HOURS_RULE)
    # A Toronto tenant, quiet 22:00-07:00; a Seattle recipient: the recipient's morning is later.
    toronto = HoldPolicy(
        time_zone="America/Toronto", quiet_hours=QuietHours(start="22:00", end="07:00"), recipient_window=True
    )
    hold = toronto.hold(SEATTLE, at(TORONTO, 2026, 6, 1, 23, 30))
    assert hold is not None
    assert (hold.release_at, hold.rule) == (at(VANCOUVER, 2026, 6, 2, 8, 0), "recipient_window_state:WA")


def test_quiet_hours_that_never_meet_the_recipient_window_yield_to_it():
    # Quiet 06:00-23:59 New York and a New York recipient (08:00-21:00): no common minute.
    policy = HoldPolicy(
        time_zone="America/New_York",
        quiet_hours=QuietHours(start="06:00", end="23:59"),
        recipient_window=True,
    )
    assert policy.hold(NEW_YORK_NUMBER, at(NEW_YORK, 2026, 6, 1, 12, 0)) is None
    hold = policy.hold(NEW_YORK_NUMBER, at(NEW_YORK, 2026, 6, 1, 22, 0))
    assert hold is not None
    assert (hold.release_at, hold.rule) == (at(NEW_YORK, 2026, 6, 2, 8, 0), FEDERAL_RULE)


# ---- settings ----


@pytest.mark.parametrize("text", ["7:00", "24:00", "23:60", "12:00:00", "noon", "", " 12:00"])
def test_clock_times_are_hh_mm(text):
    with pytest.raises(ValueError, match="HH:MM"):
        parse_clock_time(text)


def test_quiet_hours_are_stored_as_hh_mm_and_cannot_be_empty():
    hours = QuietHours(start="22:00", end="07:00")
    assert hours.model_dump(mode="json") == {"start": "22:00", "end": "07:00"}
    assert QuietHours.model_validate(hours.model_dump(mode="json")) == hours
    with pytest.raises(ValidationError):
        QuietHours(start="22:00", end="22:00")


def test_mass_messages_wait_out_quiet_hours_only_when_the_tenant_says_so():
    tenant = Tenant(tenant_id="t", name="T", quiet_hours=QuietHours(start="22:00", end="07:00"))
    triggered = tenant.hold_policy(mass=False)
    assert triggered is not None
    assert triggered.quiet_hours == tenant.quiet_hours
    assert tenant.hold_policy(mass=True) is None
    both = tenant.model_copy(update={"hold_mass_messages": True}).hold_policy(mass=True)
    assert both == triggered
    windowed = tenant.model_copy(update={"recipient_local_window": True}).hold_policy(mass=True)
    assert windowed == HoldPolicy(time_zone=tenant.time_zone, recipient_window=True)
    assert Tenant(tenant_id="t", name="T").hold_policy(mass=False) is None


# ---- properties ----

ZONES = ["America/New_York", "America/Los_Angeles", "America/St_Johns", "Pacific/Honolulu", "Europe/London"]
clock_times = st.builds(time, st.integers(0, 23), st.integers(0, 59))
# Daylight-saving changes of the sampled zones in 2026 (New York, Los Angeles, St. John's, London).
CHANGES = [
    datetime(2026, 3, 8, 7, 0, tzinfo=UTC),
    datetime(2026, 11, 1, 6, 0, tzinfo=UTC),
    datetime(2026, 3, 8, 10, 0, tzinfo=UTC),
    datetime(2026, 11, 1, 9, 0, tzinfo=UTC),
    datetime(2026, 3, 8, 5, 30, tzinfo=UTC),
    datetime(2026, 11, 1, 4, 30, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
    datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
]
instants = st.one_of(
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)),
    st.builds(
        lambda change, seconds: change + timedelta(seconds=seconds),
        st.sampled_from(CHANGES),
        st.integers(-2 * 86_400, 2 * 86_400),
    ),
)


def covered_until(span: ClosedSpan, now: datetime, release: datetime) -> bool:
    """Every whole minute from now to the release is inside the span (it ended no earlier)."""
    minute = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while minute < release:
        if not span.covers(minute):
            return False
        minute += timedelta(minutes=1)
    return True


@settings(max_examples=300, deadline=None)
@given(start=clock_times, end=clock_times, zone=st.sampled_from(ZONES), now=instants)
def test_a_release_is_the_first_instant_outside_the_quiet_hours(start, end, zone, now):
    if start == end:
        return
    span = quiet_hours_span(QuietHours(start=start, end=end), zone)
    release = span.first_open(now)
    assert release >= now
    assert not span.covers(release)
    assert release == now or (span.covers(now) and covered_until(span, now, release))


@settings(max_examples=100, deadline=None)
@given(
    start=clock_times,
    end=clock_times,
    zone=st.sampled_from(ZONES),
    now=instants,
    number=st.sampled_from(
        [MIAMI, SEATTLE, HOUSTON, EL_PASO, HARTFORD, ALASKA, IDAHO, "+18005550123", "+14165550123"]
    ),
)
def test_a_held_message_is_released_when_every_rule_is_open(start, end, zone, now, number):
    if start == end:
        return
    policy = HoldPolicy(time_zone=zone, quiet_hours=QuietHours(start=start, end=end), recipient_window=True)
    hold = policy.hold(number, now)
    if hold is None:
        return
    assert hold.release_at > now
    spans = [quiet_hours_span(QuietHours(start=start, end=end), zone), *recipient_spans(number)]
    opened_together = not any(span.covers(hold.release_at) for span in spans)
    recipient_only = not any(span.covers(hold.release_at) for span in recipient_spans(number))
    assert opened_together or (recipient_only and hold.rule != QUIET_HOURS_RULE)


@settings(max_examples=300, deadline=None)
@given(now=instants, number=st.sampled_from([HOUSTON, EL_PASO, HARTFORD, MIAMI, CHICAGO]))
def test_a_recipient_window_release_is_its_first_open_minute_on_that_weekday(now, number):
    # The release is open, every minute before it was closed, and it is the window's opening on the
    # local weekday of the release (or the clock's jump past a gap).
    hold = window_only().hold(number, now)
    (span,) = recipient_spans(number)
    if hold is None:
        assert not span.covers(now)
        return
    release = hold.release_at
    assert release > now
    assert not span.covers(release)
    assert covered_until(span, now, release)
    local = release.astimezone(span.zone)
    opening = span.end_on(local.date())
    assert (
        local.time() == opening
        or release.astimezone(span.zone).utcoffset()
        != (release - timedelta(minutes=1)).astimezone(span.zone).utcoffset()
    )
