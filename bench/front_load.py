"""Many clients at once against the local HTTP front: no connection may be reset.

Starts the local runtime (python -m local on a free 127.0.0.1 port), then CLIENTS threads send
triggered messages, each request on a new connection, until COUNT requests are sent or SECONDS
pass; prints the answers by status, the resets and other connection errors, and the latency
percentiles. Exits 1 if any connection was reset or refused.

    .venv/bin/python bench/front_load.py [--clients 50] [--count 500] [--seconds 120]
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOG = ROOT / ".local" / "front_load.log"  # the runtime's output during the last run
KEY = "sms_local_demo_key_for_the_local_runtime_only"
BODY = json.dumps(
    {"contact_id": "contact-ada", "variables": {"company": "Demo Fiber", "amount": 4999}}
).encode()


def start_local() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "local", "--host", "127.0.0.1", "--port", "0", "--no-demo-activity"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 180
    for line in process.stdout:
        if line.startswith("Listening on "):
            url = line.removeprefix("Listening on ").strip()
            # Keep the pipe drained (the runtime never blocks on its own output) into a log to read.
            LOG.parent.mkdir(exist_ok=True)
            log = LOG.open("w")
            threading.Thread(target=log.writelines, args=(process.stdout,), daemon=True).start()
            return process, url
        if time.monotonic() > deadline:
            break
    process.kill()
    raise SystemExit("the local runtime did not start")


def run(url: str, clients: int, count: int, seconds: float) -> dict[str, object]:
    assert url.startswith("http://127.0.0.1:"), "this benchmark only targets this machine"
    lock = threading.Lock()
    sent = 0
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    barrier = threading.Barrier(clients)

    def client() -> None:
        nonlocal sent
        barrier.wait()  # every client starts at once
        while True:
            with lock:
                if sent >= count or time.monotonic() > deadline:
                    return
                sent += 1
            request = urllib.request.Request(
                f"{url}/v1/triggers/payment_received",
                data=BODY,
                method="POST",
                headers={"authorization": f"Bearer {KEY}", "content-type": "application/json"},
            )
            began = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    response.read()
                    status = str(response.status)
            except urllib.error.HTTPError as error:
                status = str(error.code)
            except (ConnectionResetError, ConnectionRefusedError, ConnectionAbortedError) as error:
                with lock:
                    errors[type(error).__name__] += 1
                continue
            except (urllib.error.URLError, OSError) as error:
                reason = getattr(error, "reason", error)
                with lock:
                    errors[type(reason).__name__] += 1
                continue
            with lock:
                statuses[status] += 1
                latencies.append(time.perf_counter() - began)

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "clients": clients,
        "requests": sent,
        "seconds": round(elapsed, 1),
        "per_second": round(sent / elapsed, 1) if elapsed else 0,
        "statuses": dict(statuses),
        "errors": dict(errors),
        "resets": errors.get("ConnectionResetError", 0),
        "latency_ms": {
            "p50": round(cuts[49] * 1000),
            "p95": round(cuts[94] * 1000),
            "p99": round(cuts[98] * 1000),
            "max": round(max(latencies, default=0.0) * 1000),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=120.0)
    args = parser.parse_args()
    process, url = start_local()
    try:
        result = run(url, args.clients, args.count, args.seconds)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    print(json.dumps(result, indent=2))
    sys.exit(1 if result["errors"] else 0)


if __name__ == "__main__":
    main()
