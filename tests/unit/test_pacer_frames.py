"""The pacer's choice on a real clock: messages chosen moments apart share an instant, so a mixed
backlog fills each window and a long message behind them waits one window, not one and a bit."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime

from functions.domain.dispatch import ReadyMessage
from functions.domain.send_window import MICROS, CallWindow, PartsWindow
from functions.logic.dispatch import LOOK_BACK_US, _Pacer

START_US = 1_000 * MICROS


def calls_for(window: PartsWindow) -> CallWindow:
    return CallWindow(window.limit_millis, extra_us=window.window_us - MICROS)


class Clock:
    def __init__(self) -> None:
        self.now_us = START_US

    def __call__(self) -> int:
        return self.now_us


def message(number: int, parts: int) -> ReadyMessage:
    return ReadyMessage(
        message_id=f"msg_{number}",
        tenant_id="t",
        origination_number="+18005550100",
        phone_number="+14165550123",
        body="hi",
        segments=parts,
        price_micros=0,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


@contextmanager
def queued_pacer(limit_millis: int, parts: list[int]) -> Iterator[tuple[_Pacer, PartsWindow, Clock]]:
    """A code's pacer on a fake clock with messages of these parts queued (msg_1, msg_2, ...)."""
    clock = Clock()
    window = PartsWindow(limit_millis, margin_us=0)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pacer = _Pacer(window, lambda m: None, calls_for(window), pool, clock, 60 * MICROS, 60 * MICROS)
        pacer.add([message(number, size) for number, size in enumerate(parts, start=1)])
        yield pacer, window, clock


def choose(pacer: _Pacer) -> ReadyMessage | None:
    with pacer._cond:
        return pacer._choose()


def test_a_message_chosen_a_moment_after_another_shares_its_slot_and_the_long_one_keeps_its_own():
    # GIVEN a 3 parts/s code's pacer with a 1-part, a 3-part and a 2-part message queued
    with queued_pacer(3_000, [1, 3, 2]) as (pacer, window, clock):
        # WHEN the pacer chooses, its thread getting the lock back 2 ms after each choice
        first = choose(pacer)
        clock.now_us += 2_000
        second = choose(pacer)

        # THEN the 1-part goes, and the 2-part fills the window at the same instant
        assert [first, second] == [message(1, 1), message(3, 2)]
        assert pacer.recent()[0] == []  # nothing called yet: the plan alone moved
        assert window.recent(clock.now_us)[0] == [(START_US, 1), (START_US, 2)]
        # AND the 3-part message goes exactly one window after them
        assert window.next_slot(3, clock.now_us) == START_US + MICROS


def test_a_pacer_that_wakes_too_late_for_the_look_back_sends_at_its_own_time():
    # GIVEN the same pacer, whose thread gets the lock back later than the look back allows
    with queued_pacer(3_000, [1, 3, 2]) as (pacer, window, clock):
        assert choose(pacer) == message(1, 1)
        clock.now_us += LOOK_BACK_US + 1

        # WHEN it chooses again
        # THEN the 2-part message may not go ahead (it would push the 3-part one later)
        assert choose(pacer) is None
        assert [queued.message_id for queued in pacer.queued()] == ["msg_2", "msg_3"]
        # AND a message that finds room goes at the time it was chosen, not back in the look back
        pacer.take_queued()
        pacer.add([message(4, 1)])
        assert choose(pacer) == message(4, 1)
        assert window.recent(clock.now_us)[0] == [(START_US, 1), (clock.now_us, 1)]


def test_a_pacer_that_wakes_a_little_after_its_slot_sends_at_the_slot():
    # GIVEN a 1 part/s code that sent one part, with the next one due one window later
    with queued_pacer(1_000, [1, 1, 1]) as (pacer, window, clock):
        assert choose(pacer) == message(1, 1)
        # WHEN the pacer looks again 4 ms after the slot
        clock.now_us = START_US + MICROS + 4_000
        # THEN the send is placed at the slot, so the one after keeps its own
        assert choose(pacer) == message(2, 1)
        assert window.next_slot(1, clock.now_us) == START_US + 2 * MICROS


def test_the_plan_chooses_a_second_after_a_call_started_and_its_call_waits_until_after_the_answer():
    # GIVEN a 1 part/s code's pacer with two messages queued
    with queued_pacer(1_000, [1, 1]) as (pacer, window, clock):
        # WHEN the first is chosen, its call starts and the carrier answers 30 ms later
        assert choose(pacer) == message(1, 1)
        pacer._starting += 1  # as the pacer's thread counts it when it hands the message over
        number = pacer.clear_to_call(message(1, 1))
        clock.now_us += 30_000
        pacer.answered(number)

        # THEN the plan's window stays a second: the next message is chosen a second after the start
        assert window.window_us == MICROS
        clock.now_us = START_US + MICROS
        assert choose(pacer) == message(2, 1)
        # AND its call may start only a second after the answer (the carrier's window is the rule)
        assert pacer._calls.next_slot(1, clock.now_us) == START_US + MICROS + 30_000


def test_an_instant_counts_from_its_first_call_and_the_others_follow_as_the_carrier_frees_them():
    # GIVEN a 3 parts/s code's pacer whose plan puts three one-part messages at one instant
    with queued_pacer(3_000, [1, 1, 1, 1]) as (pacer, window, clock):
        assert [choose(pacer) for _ in range(3)] == [message(n, 1) for n in (1, 2, 3)]
        pacer._starting += 3  # as the pacer's thread counts them when it hands them over
        # WHEN the first call starts 5 ms later and the other two 25 ms after it (waiting for a sender)
        clock.now_us += 5_000
        pacer.clear_to_call(message(1, 1))
        clock.now_us += 25_000
        pacer.clear_to_call(message(2, 1))
        pacer.clear_to_call(message(3, 1))

        # THEN the plan's instant is the first call's start, and the next one a window after it: the
        # late calls do not push the whole next instant back (the carrier's window, which counts each
        # call, holds a message whose parts are not yet free)
        assert window.recent(clock.now_us)[0] == [(START_US + 5_000, 1)] * 3
        assert window.next_slot(1, clock.now_us) == START_US + 5_000 + MICROS
