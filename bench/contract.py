"""Schemathesis, every check, against the served OpenAPI document of the local runtime.

Starts python -m local on a free 127.0.0.1 port (empty: no demo activity), then runs schemathesis
with the demo tenant's key and then with the operator's key (schemathesis.toml at the root holds the
checks' settings), and prints each run's summary. The figures in the README come from the defaults:

    .venv/bin/python bench/contract.py [--max-examples 20] [--max-time 300] [--phases examples,coverage,fuzzing]

tests/e2e/test_contract.py runs a smaller bound of the same (run_schemathesis below).
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TENANT_KEY = "sms_local_demo_key_for_the_local_runtime_only"
OPERATOR_KEY = "sms_local_operator_key_for_the_local_runtime_only"
SEED = "20261201"


def run_schemathesis(
    url: str, key: str, *, max_examples: int, max_time: int, phases: str, seed: str = SEED
) -> subprocess.CompletedProcess[str]:
    """One bounded run with every check; its exit code is 0 only with no failure and no error."""
    assert url.startswith("http://127.0.0.1:"), "schemathesis only targets this machine here"
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{url}/v1/openapi.json",
        "--checks", "all",
        "--header", f"Authorization: Bearer {key}",
        "--phases", phases,
        "--max-examples", str(max_examples),
        "--max-time", str(max_time),
        "--request-timeout", "30",
        "--workers", "1",
        "--seed", seed,
        "--no-color",
    ]  # fmt: skip
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=max_time + 120, check=False
    )


def summary(output: str) -> str:
    """The part of schemathesis' report after its failures: operations, phases, failures, counts."""
    start = output.find("=== SUMMARY ===")
    found = output[output.rfind("\n", 0, start) + 1 :] if start >= 0 else output[-3000:]
    return re.sub(r"\n{3,}", "\n\n", found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=20)
    parser.add_argument("--max-time", type=int, default=300, help="seconds, per key")
    parser.add_argument("--phases", default="examples,coverage,fuzzing")
    args = parser.parse_args()
    process = subprocess.Popen(
        [sys.executable, "-m", "local", "--host", "127.0.0.1", "--port", "0", "--no-demo-activity"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    url = None
    for line in process.stdout:
        if line.startswith("Listening on "):
            url = line.removeprefix("Listening on ").strip()
            break
    if url is None:
        raise SystemExit("the local runtime did not start")
    threading.Thread(target=lambda: [None for _ in process.stdout or ()], daemon=True).start()
    failed = False
    try:
        for name, key in (("tenant key", TENANT_KEY), ("operator key", OPERATOR_KEY)):
            began = time.monotonic()
            result = run_schemathesis(
                url, key, max_examples=args.max_examples, max_time=args.max_time, phases=args.phases
            )
            failed = failed or result.returncode != 0
            print(f"## {name}: exit {result.returncode} in {time.monotonic() - began:.0f} s")
            print(summary(result.stdout + result.stderr))
            if result.returncode != 0:
                print(result.stdout[:20000])
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
