"""The three-a-day rule's arithmetic: slots, holds, and that no 24 hours ever hold four sends."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from functions.domain.three_a_day import (
    THREE_A_DAY_RULE,
    WINDOW,
    first_fit,
    fits,
    recent,
    triggered_slot,
)
from functions.domain.windows import HoldPolicy, QuietHours, recipient_state

T0 = datetime(2026, 6, 1, 14, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def never(_: datetime) -> None:
    return None


def test_three_fit_and_the_fourth_waits_for_the_first_to_be_24_hours_old():
    sends = [T0, T0 + HOUR, T0 + 2 * HOUR]
    assert fits(sends[:2], T0 + 2 * HOUR)
    assert not fits(sends, T0 + 3 * HOUR)
    assert first_fit(sends, T0 + 3 * HOUR) == T0 + WINDOW
    assert fits(sends, T0 + WINDOW)  # exactly 24 hours later is outside the first's 24 hours


def test_a_slot_before_a_reserved_future_send_must_respect_it_too():
    # Two sends now and one reserved in 20 hours (a held message): one more in an hour would make
    # four within 20 hours, so it waits until the first two are 24 hours old.
    sends = [T0, T0, T0 + 20 * HOUR]
    assert not fits(sends, T0 + HOUR)
    assert first_fit(sends, T0 + HOUR) == T0 + WINDOW


def test_a_triggered_slot_is_rounded_up_to_the_minute_and_names_the_rule():
    first = T0 + timedelta(seconds=17.5)
    hold = triggered_slot([first, T0 + HOUR, T0 + 2 * HOUR], T0 + 3 * HOUR, None, never)
    assert hold is not None
    assert (hold.release_at, hold.rule) == (T0 + WINDOW + timedelta(minutes=1), THREE_A_DAY_RULE)
    assert triggered_slot([T0], T0 + HOUR, None, never) is None


def test_a_slot_inside_quiet_hours_waits_for_them_and_the_quiet_hours_name_the_hold():
    # Quiet hours 22:00-07:00 New York; the third send was at 23:30 New York a day ago (03:30 UTC).
    policy = HoldPolicy(time_zone="America/New_York", quiet_hours=QuietHours(start="22:00", end="07:00"))
    sends = [datetime(2026, 6, 1, 3, 30, tzinfo=UTC)] * 3
    now = datetime(2026, 6, 1, 18, 0, tzinfo=UTC)  # 14:00 New York

    def reopen(instant: datetime):
        return policy.hold("+12125550187", instant)

    hold = triggered_slot(sends, now, None, reopen)
    assert hold is not None
    assert hold.release_at == datetime(2026, 6, 2, 11, 0, tzinfo=UTC)  # 07:00 New York
    assert hold.rule == "quiet_hours"


def test_the_rule_states_come_from_the_area_code():
    assert [recipient_state(n) for n in ("+13055550123", "+14055550123", "+14105550123", "+12125550187")] == [
        "FL",
        "OK",
        "MD",
        "NY",
    ]
    assert recipient_state("+14165550123") == "ON"


def test_recent_keeps_only_what_can_still_constrain():
    assert recent([T0 - WINDOW, T0 - WINDOW + HOUR, T0 + HOUR], T0) == [T0 - WINDOW + HOUR, T0 + HOUR]


def four_within_a_day(times: list[datetime]) -> bool:
    ordered = sorted(times)
    return any(ordered[i + 3] - ordered[i] < WINDOW for i in range(len(ordered) - 3))


offsets = st.lists(st.integers(0, 5 * 24 * 60), min_size=1, max_size=25)


@settings(max_examples=300, deadline=None)
@given(minutes=offsets)
def test_triggered_messages_in_any_order_never_put_four_in_24_hours(minutes):
    # Each message created at its minute (in any order of creation) takes the slot the rule gives it.
    sends: list[datetime] = []
    for minute in minutes:
        now = T0 + timedelta(minutes=minute)
        hold = triggered_slot(recent(sends, now), now, None, never)
        at = hold.release_at if hold else now
        assert at >= now
        sends.append(at)
        assert not four_within_a_day(sends)


@settings(max_examples=300, deadline=None)
@given(existing=st.lists(st.integers(0, 3 * 24 * 60), max_size=8), due=st.integers(0, 4 * 24 * 60))
def test_first_fit_is_the_earliest_instant_that_fits(existing, due):
    sends = sorted(T0 + timedelta(minutes=m) for m in existing)
    if four_within_a_day(sends):
        return  # not a state the rule can reach
    start = T0 + timedelta(minutes=due)
    slot = first_fit(sends, start)
    assert slot >= start
    assert fits(sends, slot)
    assert not four_within_a_day([*sends, slot])
    minute = start
    while minute < slot:  # every earlier whole minute would have broken the rule
        assert not fits(sends, minute)
        minute += timedelta(minutes=1)
