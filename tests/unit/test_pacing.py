import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from functions.domain.pacing import (
    MICROS,
    Deferred,
    Expired,
    Lane,
    PacingLog,
    Reservation,
    Slot,
    SlotRequest,
    Throughput,
)

FAR = 10**15
SEC = MICROS


def violations(entries: list[Reservation], limit_millis: int) -> int:
    """Windows [t, t+1 s) with more parts than the limit, a lone oversized message excepted."""
    found = 0
    times = sorted(entries, key=lambda e: e.at_us)
    for index, first in enumerate(times):
        in_window = [e for e in times[index:] if e.at_us < first.at_us + SEC]
        if len(in_window) > 1 and sum(e.parts for e in in_window) * 1000 > limit_millis:
            found += 1
    return found


def reserve(log: PacingLog, parts: int, now: int, throughput: Throughput, lane: Lane = Lane.BULK):
    result, evicted = log.reserve(
        SlotRequest(parts, lane, FAR), now, throughput, lead_us=0, commit_us=2 * SEC,
        horizon_us=900 * SEC, max_entries=10_000,
    )  # fmt: skip
    return result, evicted


def test_a_code_fills_each_window_up_to_its_limit_and_no_further():
    throughput = Throughput.of(5_000, fill=1.0)
    log = PacingLog()
    slots = [reserve(log, 1, 0, throughput)[0] for _ in range(12)]
    assert all(isinstance(slot, Slot) for slot in slots)
    times = [slot.at_us for slot in slots]  # type: ignore[union-attr]
    assert times[:5] == [0] * 5
    assert times[5:10] == [SEC] * 5
    assert times[10:] == [2 * SEC] * 2


def test_parts_count_not_messages():
    throughput = Throughput.of(5_000, fill=1.0)
    log = PacingLog()
    first, _ = reserve(log, 3, 0, throughput)
    second, _ = reserve(log, 3, 0, throughput)
    third, _ = reserve(log, 2, 0, throughput)
    assert (first.at_us, second.at_us, third.at_us) == (0, SEC, 0)  # type: ignore[union-attr]


def test_a_message_longer_than_the_limit_goes_alone_and_idles_the_code():
    throughput = Throughput.of(1_000, fill=1.0)
    log = PacingLog()
    long, _ = reserve(log, 3, 0, throughput)
    after, _ = reserve(log, 1, 0, throughput)
    assert long.at_us == 0  # type: ignore[union-attr]
    assert after.at_us == 3 * SEC  # type: ignore[union-attr]


def test_a_fractional_throughput_spaces_single_parts():
    throughput = Throughput.of(200, fill=1.0)  # 0.2 parts per second: one part every 5 s
    log = PacingLog()
    times = [reserve(log, 1, 0, throughput)[0].at_us for _ in range(3)]  # type: ignore[union-attr]
    assert times == [0, 5 * SEC, 10 * SEC]


def test_the_widened_window_spaces_full_windows_apart():
    throughput = Throughput.of(2_000, fill=0.95)
    log = PacingLog()
    times = [reserve(log, 1, 0, throughput)[0].at_us for _ in range(4)]  # type: ignore[union-attr]
    assert times[2] == throughput.window_us > SEC


def test_a_triggered_message_moves_uncommitted_bulk_reservations_aside():
    throughput = Throughput.of(1_000, fill=1.0)
    log = PacingLog()
    bulk = [reserve(log, 1, 0, throughput)[0] for _ in range(30)]
    assert bulk[-1].at_us == 29 * SEC  # type: ignore[union-attr]
    triggered, evicted = reserve(log, 1, 0, throughput, Lane.TRIGGERED)
    assert triggered.at_us == 2 * SEC  # type: ignore[union-attr]  # commit horizon: 0 and 1 s stay
    assert [e.at_us for e in evicted] == [2 * SEC]
    assert bulk[2].tag not in log.tags()  # type: ignore[union-attr]
    assert bulk[3].tag in log.tags()  # type: ignore[union-attr]
    assert violations(log.entries, 1_000) == 0


def test_past_the_deadline_is_expired_and_past_the_horizon_deferred():
    throughput = Throughput.of(1_000, fill=1.0)
    log = PacingLog()
    for _ in range(5):
        reserve(log, 1, 0, throughput)
    late, _ = log.reserve(SlotRequest(1, Lane.BULK, 3 * SEC), 0, throughput, 0, 0, 900 * SEC, 100)
    far, _ = log.reserve(SlotRequest(1, Lane.BULK, FAR), 0, throughput, 0, 0, 2 * SEC, 100)
    assert isinstance(late, Expired)
    assert isinstance(far, Deferred)
    assert far.until_us == 2 * SEC
    assert len(log.entries) == 5


def test_a_daily_cap_pushes_to_the_next_utc_day():
    throughput = Throughput.of(100_000, fill=1.0, daily_cap_parts=3)
    log = PacingLog()
    results = [reserve(log, 1, 0, throughput)[0] for _ in range(4)]
    assert [type(r) for r in results] == [Slot, Slot, Slot, Deferred]
    assert results[3].until_us == 86_400 * SEC  # type: ignore[union-attr]


def test_the_log_survives_its_encoding():
    throughput = Throughput.of(3_000, fill=0.95)
    log = PacingLog()
    for parts in (1, 2, 3, 1):
        reserve(log, parts, 10 * SEC, throughput)
    assert PacingLog.decode(log.encode()).entries == log.entries


def test_any_part_count_survives_the_encoding_and_old_logs_still_read():
    # GIVEN reservations for messages of more parts than a byte holds (a 655-part message crashed it)
    throughput = Throughput.of(3_000, fill=0.95)
    log = PacingLog()
    for parts in (655, 70_000, 1):
        reserve(log, parts, 10 * SEC, throughput)
    # THEN the log reads back whole
    assert PacingLog.decode(log.encode()).entries == log.entries
    # AND a log written in the one-byte layout reads as it was written
    legacy = struct.Struct("<qBBI").pack(5 * SEC, 3, 1, 42)
    assert PacingLog.decode(legacy, entry_format=1).entries == [Reservation(5 * SEC, 3, Lane.BULK, 42)]


@settings(max_examples=60, deadline=None)
@given(
    limit_millis=st.sampled_from([200, 1_000, 3_000, 5_000, 20_000]),
    requests=st.lists(
        st.tuples(st.integers(1, 4), st.integers(0, 3 * SEC), st.booleans()), min_size=1, max_size=60
    ),
)
def test_no_one_second_window_ever_exceeds_the_limit(limit_millis, requests):
    throughput = Throughput.of(limit_millis, fill=0.95)
    log = PacingLog()
    now = 0
    kept: dict[int, Reservation] = {}
    for parts, step, triggered in requests:
        now += step
        lane = Lane.TRIGGERED if triggered else Lane.BULK
        result, evicted = reserve(log, parts, now, throughput, lane)
        assert isinstance(result, Slot)
        assert result.at_us >= now
        for gone in evicted:
            kept.pop(gone.tag)
        kept[result.tag] = Reservation(result.at_us, parts, lane, result.tag)
    assert violations(list(kept.values()), limit_millis) == 0


def test_a_full_log_defers_until_its_reserved_stretch_has_passed():
    throughput = Throughput.of(10_000, fill=1.0)
    log = PacingLog()
    for _ in range(30):
        log.reserve(SlotRequest(1, Lane.BULK, FAR), 0, throughput, 0, 0, 900 * SEC, 30)
    full, _ = log.reserve(SlotRequest(1, Lane.BULK, FAR), 0, throughput, 0, 0, 900 * SEC, 30)
    assert isinstance(full, Deferred)
    assert full.until_us == 2 * SEC  # the last of the 30 reservations: three seconds of ten parts
