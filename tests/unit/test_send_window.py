"""The dispatcher's pace: an exact sliding window over parts per transport code."""

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from functions.domain.send_window import DAY_US, MICROS, PartsWindow

SEC = MICROS


def violations(sends: list[tuple[int, int]], limit_millis: int) -> int:
    """Windows [t, t+1 s) with more parts than the limit, a lone oversized message excepted."""
    found = 0
    for index, (start, _) in enumerate(sends):
        inside = [parts for at, parts in sends[index:] if at < start + SEC]
        if len(inside) > 1 and sum(inside) * 1000 > limit_millis:
            found += 1
    return found


def send(window: PartsWindow, parts: int, now: int) -> int:
    at = window.next_slot(parts, now)
    window.record(parts, at)
    return at


def test_a_code_fills_each_window_up_to_its_limit_and_no_further():
    # GIVEN a 5 parts/s code with no margin
    window = PartsWindow(5_000, margin_us=0)
    # WHEN seven single parts are due at once
    times = [send(window, 1, 0) for _ in range(7)]
    # THEN five go at once and the sixth only when the first leaves the window
    assert times == [0, 0, 0, 0, 0, SEC, SEC]


def test_parts_count_not_messages():
    window = PartsWindow(3_000, margin_us=0)
    assert send(window, 2, 0) == 0
    assert send(window, 2, 0) == SEC  # 2 + 2 > 3: waits for the first to leave
    assert send(window, 1, SEC) == SEC


def test_a_message_longer_than_the_limit_goes_alone_and_idles_the_code():
    # GIVEN a 1 part/s code that just sent one part
    window = PartsWindow(1_000, margin_us=0)
    send(window, 1, 0)
    # WHEN a 3-part message and then a single part are due
    oversized = send(window, 3, 0)
    after = send(window, 1, oversized)
    # THEN the long one waits for an empty window and the code idles 3 s after it
    assert oversized == SEC
    assert after == SEC + 3 * SEC


def test_a_fractional_throughput_spaces_single_parts():
    window = PartsWindow(200, margin_us=0)  # 0.2 parts/s: one part alone every 5 s
    assert [send(window, 1, 0) for _ in range(3)] == [0, 5 * SEC, 10 * SEC]


def test_the_margin_widens_the_window():
    window = PartsWindow(1_000, margin_us=15_000)
    assert [send(window, 1, 0) for _ in range(3)] == [0, SEC + 15_000, 2 * (SEC + 15_000)]


def test_a_daily_cap_pushes_to_the_next_utc_day_and_survives_a_new_owner():
    # GIVEN a code capped at 3 parts a day that a previous owner used 2 of today
    today = 20_000
    window = PartsWindow(10_000, daily_cap_parts=3, day_parts=(today, 2))
    now = today * DAY_US + 5 * SEC
    # WHEN two single parts are due
    first, second = send(window, 1, now), send(window, 1, now)
    # THEN the first goes today and the second at the start of the next UTC day
    assert first == now
    assert second == (today + 1) * DAY_US
    assert (window.day, window.day_parts) == (today + 1, 1)


def test_a_pause_holds_every_send_until_it_ends():
    window = PartsWindow(10_000)
    window.pause_until(4 * SEC)
    assert window.next_slot(1, SEC) == 4 * SEC


def test_sends_are_recorded_in_time_order():
    window = PartsWindow(10_000)
    window.record(1, 5)
    try:
        window.record(1, 4)
    except ValueError:
        return
    raise AssertionError("an earlier send after a later one was accepted")


@settings(max_examples=200, deadline=None)
@given(
    limit_millis=st.sampled_from([200, 1_000, 3_000, 5_000, 10_000, 20_000]),
    margin_us=st.sampled_from([0, 15_000]),
    requests=st.lists(st.tuples(st.integers(1, 6), st.integers(0, 2 * SEC)), min_size=1, max_size=80),
)
def test_no_one_second_window_ever_holds_more_than_the_limit(limit_millis, margin_us, requests):
    # GIVEN any sequence of messages of 1-6 parts arriving at any pace
    window = PartsWindow(limit_millis, margin_us=margin_us)
    now = 0
    sends = []
    for parts, step in requests:
        now += step
        # WHEN each goes at its slot
        at = window.next_slot(parts, now)
        assert at >= now
        window.record(parts, at)
        sends.append((at, parts))
        now = max(now, at)  # a dispatcher sends in order, waiting for each slot
    # THEN no window holds more than the limit, except a lone oversized message
    assert violations(sends, limit_millis) == 0
    # AND an oversized message keeps the code idle for parts / limit seconds after it
    for (at, parts), (following, _) in itertools.pairwise(sends):
        if parts * 1000 > limit_millis:
            assert following - at >= parts * SEC * 1000 // limit_millis


@settings(max_examples=100, deadline=None)
@given(limit=st.integers(1, 20), count=st.integers(1, 80))
def test_a_backlog_of_single_parts_is_sent_at_the_full_rate(limit, count):
    # GIVEN a backlog of single-part messages, all due at 0, on a code of ``limit`` parts/s
    window = PartsWindow(limit * 1000, margin_us=0)
    # WHEN each goes at its slot
    times = [send(window, 1, 0) for _ in range(count)]
    # THEN each second carries exactly the limit, so the last goes as early as the limit allows
    assert times[-1] == ((count - 1) // limit) * SEC


def test_a_shorter_message_fills_the_gap_a_waiting_one_leaves_without_delaying_it():
    # GIVEN a 3 parts/s code that sent one part, and a 3-part message that must wait for it
    window = PartsWindow(3_000, margin_us=0)
    send(window, 1, 0)
    waiting_slot = window.next_slot(3, 0)
    # THEN a 2-part message may go now (the window then holds 3) and the 3-part keeps its slot
    assert window.slot_ahead_of(3, 2, 0) == 0
    # BUT a message that would make it wait longer may not
    window.record(2, 0)
    assert window.slot_ahead_of(3, 1, 500_000) is None
    assert window.next_slot(3, 0) == waiting_slot


def test_a_message_chosen_just_after_another_joins_its_instant_so_the_long_one_behind_keeps_its_slot():
    # GIVEN a 3 parts/s code that sent one part at 0, and a 3-part message waiting for a clear window
    window = PartsWindow(3_000, margin_us=0)
    send(window, 1, 0)
    # WHEN a 2-part message is looked at 2 ms later
    # THEN without a look back it would push the 3-part message 2 ms later, so it may not go
    assert window.slot_ahead_of(3, 2, 2_000) is None
    # AND with one it goes at the first send's instant, and the 3-part message keeps its slot
    assert window.slot_ahead_of(3, 2, 2_000, since_us=-8_000) == 0
    window.record(2, 0)
    assert window.next_slot(3, 2_000) == SEC
    # AND a look back never places a send before the last one
    other = PartsWindow(3_000, margin_us=0)
    send(other, 1, 0)
    assert other.next_slot(1, -8_000) == 0


def test_a_send_that_started_later_than_planned_moves_the_plan_with_it():
    # GIVEN a 3 parts/s code whose plan placed one part at 0, but whose call started at 30 ms
    window = PartsWindow(3_000, margin_us=0)
    send(window, 1, 0)
    window.started_at(30_000)
    # THEN a message chosen just after joins the call's instant, and the window clears a second later
    assert window.slot_ahead_of(3, 2, 32_000, since_us=22_000) == 30_000
    window.record(2, 30_000)
    assert window.next_slot(3, 32_000) == SEC + 30_000
    # AND a start earlier than planned changes nothing
    window.started_at(10_000)
    assert window.next_slot(3, 32_000) == SEC + 30_000


def test_a_long_message_that_started_later_idles_the_code_from_its_start():
    window = PartsWindow(1_000, margin_us=0)
    send(window, 3, 0)
    window.started_at(50_000)
    assert window.next_slot(1, 60_000) == 3 * SEC + 50_000
