"""Simulation: one dispatcher's pacing on a fake clock, with a carrier that answers in 50 ms.

It runs the dispatcher's own rules (the plan, ``PartsWindow``, with its gap filling and look back,
and the carrier's window, ``CallWindow``: each call counts until one second after its answer) and
plays its thread pool of ``--threads`` senders on a simulated clock: a message is chosen at the
first moment the plan allows and a sender is free, and its call starts when the carrier's window
has room; the call holds that sender for the carrier's latency and arrives anywhere within it. For each rate it sends a 60 s backlog of one-, two- and three-part messages (60/30/10%)
and reports the parts per second reached, the busiest sliding second and the windows over the
limit, as the carrier would count them. The scheduling cost per message is the real CPU time of
the window's decisions (slot, gap filling, record), measured around them.

Then the arithmetic for 1,000 codes at 100 parts/s: leases, index reads, Lambda GB-s, cost.

    .venv/bin/python bench/dispatch_simulation.py [--threads 8] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from functions.domain.send_window import MICROS, CallWindow, PartsWindow
from functions.logic.dispatch import BACKFILL_DEPTH, LOOK_BACK_US
from local.carrier import SentRecord, busiest_windows

MIX = ((1, 0.6), (2, 0.3), (3, 0.1))
PRICE = {"lambda_gb_second": 0.0000133334, "ddb_write_unit": 0.625e-6, "ddb_read_unit": 0.125e-6}


def backlog(parts_total: int, seed: int) -> list[int]:
    chance = random.Random(seed)
    messages: list[int] = []
    while sum(messages) < parts_total:
        roll = chance.random()
        messages.append(1 if roll < 0.6 else 2 if roll < 0.9 else 3)
    return messages


def simulate(limit: int, threads: int, latency_us: int, seconds: int = 60) -> tuple[float, int, int, float]:
    """Parts per second reached, busiest second, violations, and the CPU µs per message scheduled."""
    window = PartsWindow(limit * 1000, margin_us=0)  # the plan: a second; the calls wait for answers
    calls = CallWindow(limit * 1000)
    queue = backlog(limit * seconds, seed=limit)
    chance = random.Random(limit)
    under_way: list[tuple[int, int]] = []  # (answered at, call number): each holds a sender
    now = 0
    sent: list[SentRecord] = []
    cpu = 0.0
    instant = -1  # the plan's instant whose first call started last

    def answers(until: int) -> None:
        while under_way and under_way[0][0] <= until:
            answered_at, number = heapq.heappop(under_way)
            calls.answered(number, answered_at)

    while queue:
        answers(now)
        if len(under_way) >= threads:  # a sender must be free
            now = under_way[0][0]
            continue
        started = time.perf_counter()
        head = queue[0]
        since = now - LOOK_BACK_US
        slot = window.next_slot(head, now, since)
        chosen, at = (0, slot) if slot <= now else (None, None)
        if chosen is None:
            for index in range(1, min(len(queue), BACKFILL_DEPTH)):
                at = window.slot_ahead_of(head, queue[index], now, since)
                if at is not None:
                    chosen = index
                    break
        if chosen is not None and at is not None:
            parts = queue.pop(chosen)
            window.record(parts, at)
            call_at = calls.next_slot(parts, now)
        cpu += time.perf_counter() - started
        if chosen is None:
            now = min(slot, under_way[0][0]) if under_way else slot
            continue
        # The chosen message's sender waits for the carrier's window (answers may open it sooner).
        while call_at is None or call_at > now:
            following = under_way[0][0] if under_way else None
            if call_at is not None and (following is None or call_at <= following):
                now = call_at
                break
            assert following is not None
            now = following
            answers(now)
            call_at = calls.next_slot(parts, now)
        number = calls.start(parts, now)
        if at > instant:  # the first call of a new instant: the plan counts from it (those joining it
            window.started_at(now)  # wait for the carrier's window alone, as the pacer's do)
            instant = window.last_us
        heapq.heappush(under_way, (now + latency_us, number))
        arrival = now + chance.randint(0, latency_us)  # anywhere between the call and its answer
        sent.append(SentRecord(arrival / MICROS, "code", "+1", "", parts, "", None, {}))
    sent.sort(key=lambda record: record.at)
    span = sent[-1].at - sent[0].at
    report = busiest_windows(sent, "code", limit)
    rate = report.parts / (span + 1.0)  # the last send's second counts whole, as the first's does
    return rate, report.busiest, report.violations, cpu / len(sent) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=8, help="the dispatcher's senders")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args()
    latency_us = int(args.latency_ms * 1000)
    average_parts = sum(parts * share for parts, share in MIX)
    print(
        f"one dispatcher, {args.threads} senders, carrier latency {args.latency_ms:.0f} ms, 60 s backlog each\n"
    )
    # Each call counts until one second after its answer: a code's limit is reached once a second
    # and a latency, so this is the most any dispatcher may send without knowing arrival times.
    bound = 1 / (1 + args.latency_ms / 1000)
    print(f"{'limit (parts/s)':>16}{'reached':>10}{'of limit':>10}{'busiest 1 s':>13}{'violations':>12}"
          f"{'µs / message':>14}")  # fmt: skip
    highest = 0
    costs = []
    for limit in (10, 20, 50, 100, 150, 200, 250, 300, 500, 1000):
        rate, busiest, violations, micros = simulate(limit, args.threads, latency_us)
        costs.append(micros)
        keeps_up = rate >= 0.97 * bound * limit
        if violations == 0 and keeps_up:
            highest = limit
        print(f"{limit:>16}{rate:>10.1f}{rate / limit:>10.1%}{busiest:>9} / {limit:<4}{violations:>10}"
              f"{micros:>14.1f}")  # fmt: skip
    capacity = args.threads / (args.latency_ms / 1000) * average_parts
    print(
        f"\nhighest limit sustained with 0 violations (97% of the {bound:.1%} the answers allow): {highest} "
        f"parts/s (the senders carry at most "
        f"{args.threads} / {args.latency_ms / 1000:g} s x {average_parts:.1f} parts = {capacity:.0f} parts/s);"
        f" scheduling costs {min(costs):.0f}-{max(costs):.0f} µs per message"
    )

    # ---- 1,000 codes at 100 parts/s ----
    codes, limit = 1_000, 100
    messages_per_second = codes * limit / average_parts
    per_million = 1e6 / messages_per_second  # seconds the fleet takes for a million messages
    threads_needed = math.ceil(limit / average_parts * args.latency_ms / 1000 * 1.5)
    lease_writes = codes / 5 * per_million  # one renewal every 5 s per code
    batches = 1e6 / 10  # ten messages a claim at this rate (a second of sending is 59)
    index_read_units = batches * math.ceil(25 * 600 / 4096) * 0.5  # a page of 25 rows of about 600 bytes
    gb_seconds = codes * 0.25 * per_million
    cpu_share = messages_per_second / codes * max(costs) / 1e6
    print(
        f"\n1,000 codes at 100 parts/s ({messages_per_second:,.0f} messages/s, a million in {per_million:.1f} s):"
    )
    print(
        f"  senders per dispatcher at {args.latency_ms:.0f} ms: {threads_needed} (a pool, not more dispatchers)"
    )
    print(
        f"  dispatchers: {codes} Lambda invocations running at once (one per code), handing over every ~15 min"
    )
    print(f"  leases: {codes / 5:.0f} renewals/s; per million messages {lease_writes:,.0f} writes = "
          f"${lease_writes * PRICE['ddb_write_unit']:.4f}")  # fmt: skip
    print(f"  ready index reads: {batches:,.0f} queries per million = "
          f"${index_read_units * PRICE['ddb_read_unit']:.4f}")  # fmt: skip
    print(
        f"  Lambda: {gb_seconds:,.0f} GB-s per million at 256 MB = ${gb_seconds * PRICE['lambda_gb_second']:.3f}"
    )
    print(f"  scheduling CPU per dispatcher: {cpu_share:.2%} of a core")
    print(
        f"  ready key writes per code: about {4 * limit / average_parts:.0f}/s (put, claim, Sent), "
        "within one partition's 1,000/s: one shard"
    )


if __name__ == "__main__":
    main()
