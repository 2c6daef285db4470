"""The carrier's window as the dispatcher can know it: a call counts from its start until one second
after its answer, so whatever the wire adds before arrival, no window of arrivals holds too much."""

import heapq
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from functions.domain.send_window import MICROS, CallWindow

SEC = MICROS


def test_a_call_counts_until_one_second_after_its_answer():
    # GIVEN a 1 part/s code whose call started at 0 and was answered 40 ms later
    calls = CallWindow(1_000)
    number = calls.start(1, 0)
    # THEN while it is under way the next call must wait for its answer
    assert calls.next_slot(1, 10_000) is None
    # AND once answered, the next may start one second after the answer
    calls.answered(number, 40_000)
    assert calls.next_slot(1, 40_000) == SEC + 40_000
    assert calls.next_slot(1, 2 * SEC) == 2 * SEC


def test_calls_under_way_hold_their_parts_and_answered_ones_leave_soonest_first():
    # GIVEN a 3 parts/s code with a 1-part call under way and a 1-part call answered at 10 ms
    calls = CallWindow(3_000)
    calls.start(1, 0)
    answered = calls.start(1, 0)
    calls.answered(answered, 10_000)
    # THEN one more part fits now, two more must wait for the answered call to leave
    assert calls.next_slot(1, 20_000) == 20_000
    assert calls.next_slot(2, 20_000) == SEC + 10_000
    # AND three more cannot start before the call under way is answered
    assert calls.next_slot(3, 20_000) is None


def test_a_message_longer_than_the_limit_goes_alone_and_idles_the_code_from_its_answer():
    # GIVEN a 1 part/s code that sent one part answered at 5 ms
    calls = CallWindow(1_000)
    calls.answered(calls.start(1, 0), 5_000)
    # THEN a 3-part message waits for the window to be empty
    assert calls.next_slot(3, 5_000) == SEC + 5_000
    long = calls.start(3, SEC + 5_000)
    assert calls.next_slot(1, SEC + 6_000) is None
    # AND after its answer the code idles three seconds
    calls.answered(long, SEC + 30_000)
    assert calls.next_slot(1, SEC + 30_000) == 4 * SEC + 30_000


def test_the_extra_widens_each_call_s_second_and_recent_hands_the_calls_over():
    calls = CallWindow(1_000, extra_us=20_000)
    calls.answered(calls.start(1, 0), 5_000)
    assert calls.next_slot(1, 5_000) == SEC + 25_000
    # A next owner starts from the answer times: as strict as the calls themselves
    recent, idle = calls.recent(500_000)
    successor = CallWindow(1_000, extra_us=20_000, recent=recent, idle_until_us=idle)
    assert successor.next_slot(1, 500_000) == SEC + 25_000


@settings(max_examples=150, deadline=None)
@given(
    limit=st.integers(1, 12),
    parts=st.lists(st.integers(1, 4), min_size=1, max_size=60),
    senders=st.integers(1, 8),
    slowest_ms=st.integers(0, 400),
    seed=st.integers(0, 10_000),
)
def test_no_window_of_arrivals_holds_more_than_the_limit_whatever_the_wire_adds(
    limit, parts, senders, slowest_ms, seed
):
    # GIVEN a code of ``limit`` parts/s, a backlog of mixed lengths and up to ``senders`` calls at once,
    # each call answered 0-``slowest_ms`` after its start and arriving anywhere in between
    chance = random.Random(seed)
    calls = CallWindow(limit * 1000)
    now = 0
    under_way: list[tuple[int, int]] = []  # (answer time, call number)
    arrivals: list[tuple[int, int]] = []
    queue = list(parts)
    # WHEN each message starts as soon as the window lets it (answers applied as they come)
    while queue or under_way:
        slot = calls.next_slot(queue[0], now) if queue and len(under_way) < senders else None
        if slot is not None and slot <= now:
            size = queue.pop(0)
            number = calls.start(size, now)
            took = chance.randint(0, slowest_ms * 1000)
            arrivals.append((now + chance.randint(0, took), size))
            heapq.heappush(under_way, (now + took, number))
            continue
        following = [at for at in (slot, under_way[0][0] if under_way else None) if at is not None]
        now = max(now, min(following))
        while under_way and under_way[0][0] <= now:
            answered_at, number = heapq.heappop(under_way)
            calls.answered(number, answered_at)
    # THEN no window [t, t+1 s) of arrivals holds more than the limit (a lone long message excepted)
    arrivals.sort()
    for index, (start, _) in enumerate(arrivals):
        inside = [size for at, size in arrivals[index:] if at < start + SEC]
        assert len(inside) == 1 or sum(inside) <= limit
