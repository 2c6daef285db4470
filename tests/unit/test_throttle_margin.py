"""A dispatcher's answer to carrier throttling: a pause, a wider window, a slower pace, and both back after calm."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from functions.domain.dispatch import DispatchOutcome, ReadyMessage
from functions.domain.send_window import MICROS, CallWindow, PartsWindow
from functions.logic.dispatch import (
    CALM_US,
    FIRST_BACKOFF_US,
    MARGIN_STEP_US,
    NARROW_STEP_US,
    RATE_CUT,
    RATE_FLOOR_SHARE,
    RATE_STEP_SHARE,
    REPEAT_US,
    _Pacer,
)

BASE_MARGIN_US = 20_000
THROTTLED = DispatchOutcome.CARRIER_THROTTLED
FAULT = DispatchOutcome.CARRIER_UNAVAILABLE


def calls_for(window: PartsWindow) -> CallWindow:
    return CallWindow(window.limit_millis, extra_us=window.window_us - MICROS)


class Clock:
    def __init__(self) -> None:
        self.now_us = 1_000 * MICROS

    def __call__(self) -> int:
        return self.now_us


def message() -> ReadyMessage:
    return ReadyMessage(
        message_id="msg_1",
        tenant_id="t",
        origination_number="+18005550100",
        phone_number="+14165550123",
        body="hi",
        segments=1,
        price_micros=0,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_a_throttled_code_pauses_widens_its_window_and_narrows_it_again_after_a_calm_spell():
    # GIVEN a 10 parts/s code's pacer with the default margin
    clock = Clock()
    window = PartsWindow(10_000, margin_us=BASE_MARGIN_US)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pacer = _Pacer(window, lambda m: None, calls_for(window), pool, clock, 60 * MICROS, 60 * MICROS)
        base = window.window_us

        # WHEN the carrier throttles a call
        pacer.done(message(), THROTTLED)

        # THEN the code pauses, the message waits at the head, and the window is wider
        assert window.next_slot(1, clock.now_us) == clock.now_us + FIRST_BACKOFF_US
        assert pacer.queued() == [message()]
        assert window.window_us == base + MARGIN_STEP_US

        # WHEN calls succeed soon after: the window stays wide
        clock.now_us += CALM_US // 2
        pacer.done(message())
        assert window.window_us == base + MARGIN_STEP_US

        # WHEN they go on succeeding after a calm spell: it narrows a step a call, never below its start
        clock.now_us += CALM_US
        pacer.done(message())
        assert window.window_us == base + MARGIN_STEP_US - NARROW_STEP_US
        for _ in range(3 * MARGIN_STEP_US // NARROW_STEP_US):
            pacer.done(message())
        assert window.window_us == base


def test_faults_that_come_back_soon_double_the_pause_and_a_lone_one_later_does_not():
    clock = Clock()
    window = PartsWindow(3_000, margin_us=BASE_MARGIN_US)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pacer = _Pacer(window, lambda m: None, calls_for(window), pool, clock, 60 * MICROS, 60 * MICROS)
        pacer.done(message(), FAULT)  # first: 0.25 s
        clock.now_us += FIRST_BACKOFF_US + REPEAT_US // 2
        pacer.done(message(), FAULT)  # soon after the pause: doubled
        assert window.next_slot(1, clock.now_us) == clock.now_us + 2 * FIRST_BACKOFF_US
        clock.now_us += 2 * FIRST_BACKOFF_US + 2 * REPEAT_US
        pacer.done(message(), FAULT)  # a lone one later: the first pause again
        assert window.next_slot(1, clock.now_us) == clock.now_us + FIRST_BACKOFF_US
        assert window.limit_millis == 3_000  # a fault says nothing of the carrier's pace


def test_throttling_that_comes_back_soon_slows_the_code_down_to_a_floor_and_calm_brings_it_back():
    # GIVEN a 20 parts/s code whose carrier throttles again and again
    clock = Clock()
    window = PartsWindow(20_000, margin_us=BASE_MARGIN_US)
    calls = calls_for(window)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pacer = _Pacer(window, lambda m: None, calls, pool, clock, 60 * MICROS, 60 * MICROS)
        pacer.done(message(), THROTTLED)  # a lone episode: a pause, the same pace
        assert window.limit_millis == 20_000

        # WHEN it comes back soon after the pause: 70% of the pace, both windows, and a short pause
        clock.now_us += FIRST_BACKOFF_US + REPEAT_US // 2
        pacer.done(message(), THROTTLED)
        assert window.limit_millis == calls.limit_millis == int(20_000 * RATE_CUT)
        assert window.next_slot(1, clock.now_us) == clock.now_us + FIRST_BACKOFF_US

        # WHEN it keeps coming back: never below a twentieth of the limit; there the pause doubles
        for _ in range(20):
            clock.now_us += FIRST_BACKOFF_US + REPEAT_US // 2
            pacer.done(message(), THROTTLED)
        floor = 20_000 // RATE_FLOOR_SHARE
        assert window.limit_millis == calls.limit_millis == floor
        pause_left = window.next_slot(1, clock.now_us) - clock.now_us
        assert pause_left > FIRST_BACKOFF_US

        # WHEN calls succeed soon after: the pace stays; after a calm spell a step a call, up to the limit
        clock.now_us += pause_left + CALM_US // 2
        pacer.done(message())
        assert window.limit_millis == floor
        clock.now_us += CALM_US
        pacer.done(message())
        assert window.limit_millis == calls.limit_millis == floor + 20_000 // RATE_STEP_SHARE
        for _ in range(RATE_STEP_SHARE):
            pacer.done(message())
        assert window.limit_millis == calls.limit_millis == 20_000
