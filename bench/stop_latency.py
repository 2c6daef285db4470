"""Benchmark: from an inbound STOP to the recorded opt-out, in the local runtime.

Starts the local runtime in this process (moto server, pollers, carrier simulator), then has the
carrier simulator deliver STOPs from numbers to the demo's toll-free number one at a time, a pause
apart (as real STOPs arrive: to an idle service), and times each from the moment the simulator
publishes the two-way payload to SNS until the opt-out is in the OptOuts table (polled every 5 ms).
The first STOP loads the inbound function (a cold start); it is reported apart.

    .venv/bin/python bench/stop_latency.py [count] [pause seconds]
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
    del os.environ[name]
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import boto3  # noqa: E402

from functions.dal.opt_outs import GLOBAL_SCOPE  # noqa: E402
from local.runtime import LocalRuntime, RuntimeSettings  # noqa: E402

POLL_SECONDS = 0.005


def main(count: int = 20, pause: float = 1.0) -> None:
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    runtime = LocalRuntime(RuntimeSettings(port=0))
    runtime.start()
    try:
        assert runtime.simulator is not None
        table = boto3.resource("dynamodb").Table(os.environ["OPT_OUTS_TABLE"])
        timings = []
        for n in range(count + 1):
            number = f"+1613555{1000 + n:04d}"
            time.sleep(pause)
            started = time.perf_counter()
            runtime.simulator.receive(number, runtime.demo.sending_number, "STOP")
            while "Item" not in table.get_item(Key={"scope": GLOBAL_SCOPE, "phone_number": number}):
                time.sleep(POLL_SECONDS)
            timings.append(time.perf_counter() - started)
        cold, warm = timings[0], sorted(timings[1:])
        print(f"inbound STOP to recorded opt-out, {count} STOPs {pause:g} s apart (after one cold start)")
        print(f"  cold start  {cold * 1000:6.0f} ms")
        print(f"  median      {statistics.median(warm) * 1000:6.0f} ms")
        print(f"  p90         {warm[int(0.9 * (len(warm) - 1))] * 1000:6.0f} ms")
        print(f"  min / max   {warm[0] * 1000:6.0f} / {warm[-1] * 1000:.0f} ms")
    finally:
        runtime.stop()


if __name__ == "__main__":
    arguments = sys.argv[1:]
    main(int(arguments[0]) if arguments else 20, float(arguments[1]) if len(arguments) > 1 else 1.0)
