"""Benchmark: three transport codes paced by concurrent senders in the local runtime, with a backlog.

The local runtime runs as `make run` runs it (moto server, pollers, sender instances per lane, the
carrier simulator). Three calling lists, one per code, put a backlog of about a minute on each; a
triggered message now and then checks the triggered lane during it. The carrier simulator's own
records are the measurement: for each code the parts it received, the busiest one-second window
against the limit, utilization while a backlog existed (parts sent / what the limit allowed during
the time some message for the code was created and not yet sent) and the drain time against the
ideal (parts / limit). Then the AWS requests per message by operation and what they cost.

    .venv/bin/python bench/pacing.py [--seconds 60] [--instances 10] [--fill 0.97]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from botocore.handlers import BUILTIN_HANDLERS

from functions.logic.send import Sender
from local.carrier import SimulatorSettings, busiest_windows
from local.demo import DEMO_API_KEY, OPERATOR_API_KEY
from local.lambda_runtime import LocalFunction
from local.runtime import LocalRuntime, RuntimeSettings

DEFAULT_CODES = "+18005550101=3,+18005550100=6,55501=12"  # number=parts per second
CODES: dict[str, int] = {}
TRIGGER_CODE = "+18005550100"
MIX = ((1, 0.6), (2, 0.3), (3, 0.1))  # parts, share of messages
# The demo template's fixed text with its signature; a first name of this length gives these parts.
NAME_LENGTH = {1: 2, 2: 80, 3: 230}
MEMORY_GB = {"sender": 0.25, "fanout": 0.5, "receipts": 0.25, "api": 1.0, "authorizer": 0.25}
PRICE = {  # FACTS.md, us-east-1 on demand
    "lambda_request": 0.20e-6,
    "lambda_gb_second": 0.0000133334,
    "sqs_request": 0.40e-6,
    "ddb_write_unit": 0.625e-6,
    "ddb_read_unit": 0.125e-6,
    "sms_part": 0.0085,
}


class Requests:
    """Every AWS call any function makes, by service and operation, while active."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.write_kb: Counter[str] = Counter()
        self.active = False
        self._lock = threading.Lock()

    def before(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        if not self.active:
            return
        name = f"{model.service_model.service_name}:{model.name}"
        if name == "sqs:ReceiveMessage":
            return  # counted after the call, and only when it returned messages
        body = params.get("body") or b""
        with self._lock:
            self.counts[name] += 1
            if model.service_model.service_name == "dynamodb" and model.name in (
                "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems",
            ):  # fmt: skip
                self.write_kb[name] += max(1, math.ceil(len(body) / 1024))

    def after(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        # Lambda's pollers long-poll; these short-poll and nap, so their empty receives are not a cost.
        if self.active and model.name == "ReceiveMessage" and parsed.get("Messages"):
            with self._lock:
                self.counts["sqs:ReceiveMessage"] += 1


class Durations:
    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self.invocations: Counter[str] = Counter()
        self.active = False
        self._lock = threading.Lock()
        original = LocalFunction.invoke
        durations = self

        def timed(function: LocalFunction, event: dict[str, Any]) -> Any:
            started = time.perf_counter()
            try:
                return original(function, event)
            finally:
                if durations.active:
                    with durations._lock:
                        durations.seconds[function.module_name] += time.perf_counter() - started
                        durations.invocations[function.module_name] += 1

        LocalFunction.invoke = timed  # type: ignore[method-assign]


class Outcomes:
    """What the senders did with each message (their metrics, which the local runtime does not ship)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        original = Sender.process_batch
        outcomes = self

        def counted(sender: Sender, works: Any) -> Any:
            report = original(sender, works)
            with outcomes._lock:
                outcomes.counts.update(report.outcomes)
            return report

        Sender.process_batch = counted  # type: ignore[method-assign]


def call(url: str, method: str, path: str, body: Any = None, key: str = DEMO_API_KEY) -> Any:
    request = urllib.request.Request(
        url + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        raise SystemExit(f"{method} {path}: {error.code} {error.read().decode()}") from error


def records_for(count: int, prefix: int) -> list[dict[str, str]]:
    rows = []
    quotas = [(parts, round(count * share)) for parts, share in MIX]
    index = 0
    for parts, quota in quotas:
        for _ in range(quota):
            rows.append({"phone": f"+1{prefix}{2000000 + index:07d}", "name": "N" * NAME_LENGTH[parts]})
            index += 1
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0, help="backlog per code at its limit")
    parser.add_argument("--instances", type=int, default=10, help="sender instances per lane")
    parser.add_argument("--fill", type=float, default=None, help="the pacer's fill (PACING_FILL)")
    parser.add_argument("--codes", default=DEFAULT_CODES, help="three number=parts-per-second pairs")
    args = parser.parse_args()
    CODES.update(
        {number: int(limit) for number, limit in (pair.split("=") for pair in args.codes.split(","))}
    )
    assert len(CODES) == 3, "three codes"
    assert TRIGGER_CODE in CODES, f"{TRIGGER_CODE} (the triggered messages' code) among them"
    if args.fill:
        os.environ["PACING_FILL"] = str(args.fill)

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    requests, durations, outcomes = Requests(), Durations(), Outcomes()
    BUILTIN_HANDLERS.append(("before-call", requests.before))
    BUILTIN_HANDLERS.append(("after-call.sqs.ReceiveMessage", requests.after))
    runtime = LocalRuntime(
        RuntimeSettings(
            port=0,
            instances={"sender": args.instances, "fanout": 3, "receipts": 2},
            demo_activity=False,  # its messages would count, and it would cache the demo's throughputs
            simulator=SimulatorSettings(receipt_delay_seconds=1.0),
        )
    )
    runtime.start()
    assert runtime.simulator is not None
    url = runtime.url
    try:
        for number, limit in CODES.items():
            call(
                url,
                "PUT",
                f"/v1/operator/transport-codes/{number}",
                {"parts_per_second": limit, "tenant_ids": ["demo-isp"]},
                OPERATOR_API_KEY,
            )
            runtime.simulator.settings.parts_per_second[number] = limit
        average_parts = sum(parts * share for parts, share in MIX)
        jobs = []
        for prefix, (number, limit) in zip((416, 647, 905), CODES.items(), strict=True):
            count = round(limit * args.seconds / average_parts)
            uploaded = call(url, "POST", "/v1/calling-lists", {
                "name": f"bench {number}", "template_id": "tpl-fence-painting", "phone_field": "phone",
                "mapping": {"first_name": "name", "quote": "quote"}, "sending_number": number,
                "records": [{**row, "quote": "1200"} for row in records_for(count, prefix)],
            })  # fmt: skip
            assert not uploaded["errors"], uploaded["errors"][:3]
            while uploaded["status"] == "previewing":  # a list too large to preview inline
                time.sleep(0.2)
                uploaded = call(url, "GET", f"/v1/calling-lists/{uploaded['id']}")
            jobs.append((number, uploaded))
        total = sum(job["preview"]["recipients"] for _, job in jobs)
        print(f"{total} messages in three calling lists; sender instances per lane: {args.instances}")

        requests.active = durations.active = True
        started = time.time()
        for _, job in jobs:
            call(
                url,
                "POST",
                f"/v1/calling-lists/{job['id']}/confirm",
                {"confirmation_token": job["confirmation_token"]},
            )
        triggered: list[tuple[float, str]] = []
        next_trigger = time.time() + 5
        while len(runtime.simulator.records) < total + len(triggered):
            if time.time() >= next_trigger and time.time() - started < args.seconds:
                result = call(url, "POST", "/v1/triggers/ticket_updated", {
                    "contact_id": "contact-ada", "sending_number": TRIGGER_CODE,
                    "variables": {"company": "Demo Fiber", "ticket_number": "7", "ticket_status": "fixed"},
                })  # fmt: skip
                triggered.append((time.time(), result["messages"][0]["id"]))
                next_trigger += 10
            time.sleep(0.2)
            if int(time.time() - started) % 10 == 0 and time.time() - started > 1:
                print(
                    f"{time.time() - started:6.1f} s: {len(runtime.simulator.records)} sent; {dict(outcomes.counts)}"
                )
                time.sleep(0.8)
            assert time.time() - started < args.seconds * 4 + 120, "the backlog did not drain"
        finished = time.time()
        requests.active = durations.active = False
        print(f"sender outcomes: {dict(outcomes.counts)}")
        report(runtime, jobs, triggered, requests, durations, started, finished, total)
    finally:
        runtime.stop()


def created_times(runtime: LocalRuntime) -> dict[str, float]:
    import boto3

    table = boto3.resource("dynamodb").Table(os.environ["MESSAGES_TABLE"])
    created: dict[str, float] = {}
    scan: dict[str, Any] = {"ProjectionExpression": "message_id, created_at"}
    while True:
        page = table.scan(**scan)
        for item in page["Items"]:
            created[str(item["message_id"])] = datetime.fromisoformat(str(item["created_at"])).timestamp()
        if "LastEvaluatedKey" not in page:
            return created
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def backlog_seconds(created: list[float], sent: list[float]) -> float:
    """How long at least one message was created and not yet sent."""
    events = sorted([(t, 1) for t in created] + [(t, -1) for t in sent])
    waiting, since, total = 0, 0.0, 0.0
    for at, change in events:
        if waiting > 0:
            total += at - since
        waiting += change
        since = at
    return total


def report(runtime, jobs, triggered, requests, durations, started, finished, total) -> None:  # type: ignore[no-untyped-def]
    records = runtime.simulator.records
    created = created_times(runtime)
    print(f"\nfill {os.environ.get('PACING_FILL', '0.95 (default)')}; {len(records)} messages sent in {finished - started:.1f} s; "
          f"throttled by the carrier: {runtime.simulator.throttled}\n")  # fmt: skip
    print(
        f"{'code':<14}{'limit':>6}{'msgs':>6}{'parts':>7}{'busiest 1 s':>12}{'violations':>11}{'utilization':>12}{'drain/ideal':>12}"
    )
    for number, limit in CODES.items():
        mine = [r for r in records if r.origination == number]
        windows = busiest_windows(records, number, limit)
        sent_at = [r.at for r in mine]
        backlog = backlog_seconds([created[r.context["message_id"]] for r in mine], sent_at)
        utilization = windows.parts / (limit * backlog) if backlog else 0.0
        drain = max(sent_at) - started
        ideal = windows.parts / limit
        print(f"{number:<14}{limit:>6}{len(mine):>6}{windows.parts:>7}{windows.busiest:>8} / {limit:<3}{windows.violations:>11}"
              f"{utilization:>11.1%}{drain / ideal:>12.3f}")  # fmt: skip
    print("\nparts sent per 10 s, from the start of the sends (the limit allows 10 x limit):")
    print(f"{'seconds':>8}" + "".join(f"{number:>14}" for number in CODES))
    first = min(r.at for r in records)
    for start in range(0, int(max(r.at for r in records) - first) + 1, 10):
        row = [sum(r.parts for r in records if r.origination == number and start <= r.at - first < start + 10)
               for number in CODES]  # fmt: skip
        print(f"{start:>8}" + "".join(f"{parts:>14}" for parts in row))
    latencies = []
    by_id = {r.context["message_id"]: r.at for r in records}
    for asked, message_id in triggered:
        latencies.append(by_id[message_id] - asked)
    if latencies:
        print(f"\ntriggered messages during the backlog on {TRIGGER_CODE}: {len(latencies)}, "
              f"request to carrier {min(latencies):.2f}-{max(latencies):.2f} s")  # fmt: skip

    messages = len(records)
    print("\nAWS requests per message (every function, pollers included), by operation:")
    for op, count in sorted(requests.counts.items()):
        print(f"  {op:<44}{count / messages:>8.3f}")
    print(f"  {'total':<44}{sum(requests.counts.values()) / messages:>8.3f}")

    sqs = sum(c for op, c in requests.counts.items() if op.startswith("sqs:"))
    reads = sum(
        c
        for op, c in requests.counts.items()
        if op.startswith("dynamodb:") and ("Get" in op or "Query" in op)
    )
    writes_kb = sum(requests.write_kb.values())
    gb_seconds = sum(durations.seconds[m] * MEMORY_GB.get(m, 0.25) for m in durations.seconds)
    invocations = sum(durations.invocations.values())
    # Writes: one unit per KB of request (an index projecting the item doubles it: counted once more).
    costs = {
        "Lambda requests": invocations * PRICE["lambda_request"],
        "Lambda GB-s (local wall time)": gb_seconds * PRICE["lambda_gb_second"],
        "SQS": sqs * PRICE["sqs_request"],
        "DynamoDB writes (KB units, x2 for indexes)": writes_kb * 2 * PRICE["ddb_write_unit"],
        "DynamoDB reads": reads * PRICE["ddb_read_unit"],
    }
    per_million = {name: cost / messages * 1e6 for name, cost in costs.items()}
    parts = sum(r.parts for r in records)
    sms = parts / messages * PRICE["sms_part"] * 1e6
    print("\ninfrastructure cost per million messages at FACTS.md prices:")
    for name, cost in per_million.items():
        print(f"  {name:<44}${cost:>9.2f}")
    infra = sum(per_million.values())
    print(
        f"  {'total':<44}${infra:>9.2f}  ({infra / sms:.3%} of the carrier's ${sms:,.0f} for the same messages)"
    )
    print(f"  Lambda invocations per message: {invocations / messages:.3f}; {dict(durations.invocations)}")


if __name__ == "__main__":
    main()
