"""Benchmark: transport codes paced by their dispatchers in the local runtime, under a backlog.

The local runtime runs as `make run` runs it (two moto servers, the stream poller and kicks, a
dispatcher thread per code, the carrier simulator). One calling list per code puts a backlog of
``--seconds`` of sending at its limit on it (60/30/10% one-, two- and three-part messages); a
triggered message every 5 s goes to the fastest code during it; when every code is idle again, a
lone triggered message goes to the slowest one. The carrier simulator's records are the measure:

- per code: the busiest sliding one-second window [t, t+1 s) at arrival (``--latency-ms``: the
  simulator's random wire delay before it times a call; ``--margin-ms``: the dispatchers' margin) and the windows over the
  limit (a lone message longer than the limit excepted), utilization while the code had a backlog
  (every part the code sent, triggered ones too, over what the limit allowed from its first ready
  message until its last send's parts had their time) and the drain time (from the code's own
  list's confirmation to that end) against the ideal (those parts / limit), with the first ready
  message's and the first send's time after that confirmation;
- the triggered messages' latency from the request to the carrier (p50, p99), and the lone one's;
- AWS requests per message over the whole life (created, sent, delivered: every function), by
  operation; the carrier simulator's own delivery events are not the platform's requests, nor are
  DynamoDB Streams reads (a Lambda event source mapping reads its stream at no charge);
- the infrastructure cost per million messages at FACTS.md prices, DynamoDB write units counted per
  item, per index and per transaction (2x), from the Messages table's stream images (each write's
  item size before and after, each index's key and projection) and the other tables' requests.

    .venv/bin/python bench/pacing.py [--codes 1,3,10] [--seconds 60] [--latency-ms 0] [--margin-ms 0]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
import statistics
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from botocore.handlers import BUILTIN_HANDLERS

from functions.logic.dispatch import Dispatcher, DispatchReport, DispatchSettings
from local.carrier import SimulatorSettings, busiest_windows
from local.demo import DEMO_API_KEY, OPERATOR_API_KEY
from local.lambda_runtime import LocalFunction
from local.runtime import LocalRuntime, RuntimeSettings

NUMBERS = ["+18005550101", "+18005550100", "+18005550102"]  # toll-free numbers of the demo tenant
MIX = ((1, 0.6), (2, 0.3), (3, 0.1))  # parts, share of messages
# The demo template's fixed text with its signature; a first name of this length gives these parts.
NAME_LENGTH = {1: 2, 2: 80, 3: 230}
MEMORY_GB = {"dispatcher": 0.25, "kick": 0.25, "fanout": 0.5, "receipts": 0.25, "api": 1.0,
             "authorizer": 0.25, "release": 0.25}  # fmt: skip
PRICE = {  # FACTS.md, us-east-1 on demand
    "lambda_request": 0.20e-6,
    "lambda_gb_second": 0.0000133334,
    "sqs_request": 0.40e-6,
    "ddb_write_unit": 0.625e-6,
    "ddb_read_unit": 0.125e-6,
    "api_request": 1.00e-6,
    "sms_part": 0.0085,
}
NOT_THE_PLATFORMS = ("sns:Publish", "dynamodbstreams:")  # the carrier's delivery events; stream reads
WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")


def thread_kind() -> str:
    """The kind of thread making a call: its name without the code, the number or the worker's index
    (a dispatcher's control loop, its pacer, senders, lease keeper and Sent recorder; each function)."""
    name = threading.current_thread().name
    return "".join(c for c in name.split("+")[0] if not c.isdigit()).rstrip("-_") or name


class Requests:
    """Every AWS call made in this process (every function; the simulator's publishes set apart)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.by_thread: Counter[tuple[str, str]] = Counter()  # (the kind of thread, the operation)
        self.read_units = 0.0
        self.other_write_units = 0.0  # tables other than Messages: small items, one unit each
        self.messages_in_transactions = 0  # Messages item writes inside transactions (they cost 2x)
        self.active = False
        self._lock = threading.Lock()
        self.messages_table = ""
        self.started_at = 0.0
        self.index_tables: dict[str, int] = {}  # table -> indexes that project all of a written item
        self.carrier_seconds: list[float] = []  # each carrier call, from its start to its answer
        self._calling = threading.local()

    def before(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        if not self.active or threading.current_thread().name == PROBE_THREAD:
            return
        name = f"{model.service_model.service_name}:{model.name}"
        if name == "pinpoint-sms-voice-v2:SendTextMessage":
            self._calling.since = time.perf_counter()
        if name == "sqs:ReceiveMessage":
            return  # counted after the call, and only when it returned messages
        with self._lock:
            self.counts[name] += 1
            self.by_thread[thread_kind(), name] += 1
            if model.service_model.service_name == "dynamodb" and model.name in WRITES:
                self._count_writes(model.name, json.loads(params.get("body") or b"{}"))

    def _count_writes(self, operation: str, request: dict[str, Any]) -> None:
        if operation == "TransactWriteItems":
            for item in request.get("TransactItems", []):
                ((kind, body),) = item.items()
                table = body["TableName"]
                if table == self.messages_table:
                    self.messages_in_transactions += 1
                elif kind != "ConditionCheck":
                    self.other_write_units += 2 * (1 + self.index_tables.get(table, 0))
                else:
                    self.other_write_units += 2  # a condition check costs a write unit, 2x in a transaction
        elif operation == "BatchWriteItem":
            for table, items in request.get("RequestItems", {}).items():
                if table != self.messages_table:
                    self.other_write_units += len(items) * (1 + self.index_tables.get(table, 0))
        elif request.get("TableName") != self.messages_table:
            self.other_write_units += 1 + self.index_tables.get(request.get("TableName", ""), 0)

    def after(self, model: Any, parsed: dict[str, Any], http_response: Any = None, **_: Any) -> None:
        if not self.active or threading.current_thread().name == PROBE_THREAD:
            return
        name = f"{model.service_model.service_name}:{model.name}"
        if name == "pinpoint-sms-voice-v2:SendTextMessage":
            self.carrier_seconds.append(time.perf_counter() - self._calling.since)
        with self._lock:
            # Lambda's pollers long-poll; these short-poll and nap, so their empty receives are not a cost.
            if name == "sqs:ReceiveMessage" and parsed.get("Messages"):
                self.counts[name] += 1
                self.by_thread[thread_kind(), name] += 1
            if model.service_model.service_name == "dynamodb" and model.name in (
                "GetItem", "Query", "BatchGetItem", "Scan",
            ):  # fmt: skip
                size = len(getattr(http_response, "content", b"") or b"")
                self.read_units += max(1, math.ceil(size / 4096)) * 0.5  # eventually consistent: half a unit


class Durations:
    """Each function's invocations and wall time (a dispatcher's is its whole run)."""

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
    """What the dispatchers did (their metrics, which the local runtime does not ship)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        original = Dispatcher.run
        outcomes = self

        def counted(dispatcher: Dispatcher) -> DispatchReport:
            report = original(dispatcher)
            with outcomes._lock:
                outcomes.counts.update(report.outcomes)
                outcomes.counts["runs"] += 1
            return report

        Dispatcher.run = counted  # type: ignore[method-assign]


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
    index = 0
    for parts, share in MIX:
        for _ in range(round(count * share)):
            rows.append({"phone": f"+1{prefix}{2000000 + index:07d}", "name": "N" * NAME_LENGTH[parts]})
            index += 1
    random.Random(prefix).shuffle(rows)
    return rows


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--codes", default="1,3,10", help="three codes' parts per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="backlog per code at its limit")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="the simulator's random wire delay, 0-N ms before arrival",
    )
    parser.add_argument(
        "--margin-ms",
        type=float,
        default=None,
        help="the dispatchers' window margin (DISPATCH_WINDOW_MARGIN_MS)",
    )
    parser.add_argument("--records", type=Path, help="write the carrier's records here (JSON lines)")
    args = parser.parse_args()
    limits = [Decimal(value) for value in args.codes.split(",")]
    assert len(limits) == 3, "three codes"
    codes = dict(zip(NUMBERS, limits, strict=True))
    busy_code = max(codes, key=lambda number: codes[number])
    idle_code = min(codes, key=lambda number: codes[number])

    if args.margin_ms is not None:
        os.environ["DISPATCH_WINDOW_MARGIN_MS"] = str(args.margin_ms)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    requests, durations, outcomes = Requests(), Durations(), Outcomes()
    BUILTIN_HANDLERS.append(("before-call", requests.before))
    BUILTIN_HANDLERS.append(("after-call", requests.after))
    runtime = LocalRuntime(
        RuntimeSettings(
            port=0,
            instances={"fanout": 3},  # one receipts poller: a message's two events share its batches
            demo_activity=False,  # its messages would count
            simulator=SimulatorSettings(receipt_delay_seconds=1.0, latency_ms=(0.0, args.latency_ms)),
        )
    )
    runtime.start()
    assert runtime.simulator is not None
    requests.messages_table = os.environ["MESSAGES_TABLE"]
    requests.index_tables = {os.environ["LEDGER_TABLE"]: 1}  # by_time projects every entry
    url = runtime.url
    try:
        call(url, "PATCH", "/v1/operator/tenants/demo-isp", {"sending_numbers": NUMBERS}, OPERATOR_API_KEY)
        for number, limit in codes.items():
            call(url, "PUT", f"/v1/operator/transport-codes/{number}",
                 {"parts_per_second": int(limit) if limit == int(limit) else float(limit), "tenant_ids": ["demo-isp"]}, OPERATOR_API_KEY)  # fmt: skip
            runtime.simulator.settings.parts_per_second[number] = float(limit)
        average_parts = sum(parts * share for parts, share in MIX)
        jobs = []
        for prefix, (number, limit) in zip((416, 647, 905), codes.items(), strict=True):
            count = round(float(limit) * args.seconds / average_parts)
            uploaded = call(url, "POST", "/v1/calling-lists", {
                "name": f"bench {number}", "template_id": "tpl-fence-painting", "phone_field": "phone",
                "mapping": {"first_name": "name", "quote": "quote"}, "sending_number": number,
                "records": [{**row, "quote": 1200} for row in records_for(count, prefix)],
            })  # fmt: skip
            assert not uploaded["errors"], uploaded["errors"][:3]
            while uploaded["status"] == "previewing":  # a list too large to preview inline
                time.sleep(0.2)
                uploaded = call(url, "GET", f"/v1/calling-lists/{uploaded['id']}")
            jobs.append((number, uploaded))
        total = sum(job["preview"]["recipients"] for _, job in jobs)
        print(f"codes {', '.join(f'{n}={codes[n]}/s' for n in codes)}; {total} messages in three calling "
              f"lists; carrier wire delay 0-{args.latency_ms:.0f} ms; window margin "
          f"{os.environ.get('DISPATCH_WINDOW_MARGIN_MS', f'{DispatchSettings().window_margin_ms:g} (default)')} ms")  # fmt: skip

        requests.active = durations.active = True
        started = time.time()
        confirmed: dict[str, float] = {}  # each code's backlog drains from its own confirmation
        for number, job in jobs:
            confirmed[number] = time.time()
            call(url, "POST", f"/v1/calling-lists/{job['id']}/confirm",
                 {"confirmation_token": job["confirmation_token"]})  # fmt: skip
        triggered: list[tuple[float, str]] = []
        next_trigger = started + 5
        api_calls = 3
        while len(runtime.simulator.records) < total + len(triggered):
            now = time.time()
            if now >= next_trigger and now - started < args.seconds:
                triggered.append(trigger(url, busy_code))
                api_calls += 1
                next_trigger += 5
            time.sleep(0.05)
            assert time.time() - started < args.seconds * 4 + 120, "the backlog did not drain"
        drained = time.time()
        # Every dispatcher idles out; then a lone triggered message on an idle code.
        deadline = time.time() + 30
        while any(t.is_alive() for t in runtime.dispatchers.threads) and time.time() < deadline:
            time.sleep(0.2)
        lone = trigger(url, idle_code)
        api_calls += 1
        while lone[1] not in {r.context["message_id"] for r in runtime.simulator.records}:
            time.sleep(0.01)
        # Every message's life is counted to its end: wait for the last receipts to be applied.
        unfinished = uncounted(lambda: not_final(len(records_sent(runtime))))
        deadline = time.time() + 120
        while unfinished and time.time() < deadline:
            time.sleep(1)
            unfinished = uncounted(lambda: not_final(len(records_sent(runtime))))
        if unfinished:
            print(f"{unfinished} messages still without a final status when counted")
        requests.active = durations.active = False
        triggered = [(*asked, claimed_at(url, asked[1])) for asked in triggered]
        report(runtime, codes, jobs, triggered, lone, requests, durations, outcomes, started, confirmed, drained,
               api_calls, args)  # fmt: skip
        if args.records:
            with args.records.open("w") as out:
                for record in records_sent(runtime):
                    print(json.dumps({"at": record.at, "code": record.origination, "parts": record.parts,
                                      "message_id": record.context.get("message_id")}), file=out)  # fmt: skip
    finally:
        runtime.stop()


def trigger(url: str, number: str) -> tuple[float, str, float]:
    """When it was asked, its message, and when the API answered (the message stored, ready or held)."""
    asked = time.time()
    result = call(url, "POST", "/v1/triggers/ticket_updated", {
        "contact_id": "contact-ada", "sending_number": number,
        "variables": {"company": "Demo Fiber", "ticket_number": "7", "ticket_status": "fixed"},
    })  # fmt: skip
    return asked, result["messages"][0]["id"], time.time()


def claimed_at(url: str, message_id: str) -> float:
    """When a message's dispatcher claimed it (its move to In Progress), from its history."""
    history = call(url, "GET", f"/v1/messages/{message_id}")["history"]
    return datetime.fromisoformat(next(c["at"] for c in history if c["status"] == "In Progress")).timestamp()


PROBE_THREAD = "bench-probe"  # the benchmark's own looks at the tables, which are not counted


def uncounted(look: Any) -> Any:
    """Run the benchmark's own look at the tables in a thread whose requests are not counted."""
    found: list[Any] = []
    thread = threading.Thread(target=lambda: found.append(look()), name=PROBE_THREAD)
    thread.start()
    thread.join()
    return found[0]


def records_sent(runtime: LocalRuntime) -> list[Any]:
    assert runtime.simulator is not None
    return list(runtime.simulator.records)


def not_final(expected: int) -> int:
    """How many of the carrier's messages have no final status yet (or are not yet in the table)."""
    import boto3

    table = boto3.resource("dynamodb").Table(os.environ["MESSAGES_TABLE"])
    final = 0
    scan: dict[str, Any] = {"ProjectionExpression": "#s", "ExpressionAttributeNames": {"#s": "status"}}
    while True:
        page = table.scan(**scan)
        final += sum(1 for item in page["Items"] if item["status"] in ("Delivered", "Failed"))
        if "LastEvaluatedKey" not in page:
            return max(0, expected - final)
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def ready_times() -> dict[str, float]:
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


# ---- DynamoDB write units of the Messages table, from its stream's images ----


def _size(value: dict[str, Any]) -> int:
    """DynamoDB's size of an attribute value (wire format), as its pricing counts it."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return len(inner.lstrip("-").replace(".", "")) // 2 + 2
    if kind == "BOOL" or kind == "NULL":
        return 1
    if kind == "M":
        return 3 + sum(len(name.encode()) + _size(item) for name, item in inner.items())
    if kind == "L":
        return 3 + sum(1 + _size(item) for item in inner)
    return len(str(inner))


def item_size(image: dict[str, Any] | None, names: set[str] | None = None) -> int:
    if not image:
        return 0
    return sum(
        len(name.encode()) + _size(value) for name, value in image.items() if names is None or name in names
    )


def units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def messages_write_units(runtime: LocalRuntime, requests: Requests) -> tuple[Counter[str], int]:
    """Write units of every Messages write while measuring: the table and each index (puts, deletes, key moves)."""
    import boto3

    client = boto3.client("dynamodb")
    streams = boto3.client("dynamodbstreams")
    table = os.environ["MESSAGES_TABLE"]
    (props,) = [p for lid, p in runtime.topology.tables.items() if runtime.provisioned.refs[lid] == table]
    table_keys = {key["AttributeName"] for key in props["KeySchema"]}
    indexes = []
    for index in props["GlobalSecondaryIndexes"]:
        keys = [key["AttributeName"] for key in index["KeySchema"]]
        projection = index["Projection"]
        kind = projection["ProjectionType"]
        names = (
            None if kind == "ALL" else set(keys) | table_keys | set(projection.get("NonKeyAttributes", []))
        )
        indexes.append((index["IndexName"], keys, names))
    arn = client.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    found: Counter[str] = Counter()
    writes = 0
    images: dict[str, dict[str, Any]] = {}
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]  # fmt: skip
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            if not page["Records"]:
                break
            for record in page["Records"]:
                change = record["dynamodb"]
                key = json.dumps(change["Keys"], sort_keys=True)
                new = change.get("NewImage")
                old = images.get(key)
                images[key] = new or {}
                writes += 1
                found["table"] += units(max(item_size(old), item_size(new)))
                for name, keys, names in indexes:
                    was = old is not None and all(k in old for k in keys)
                    now = new is not None and all(k in new for k in keys)
                    if not was and not now:
                        continue
                    moved = was and now and any(old[k] != new[k] for k in keys)  # type: ignore[index]
                    if was and not now:
                        found[name] += units(item_size(old, names))  # a delete
                    elif now and not was:
                        found[name] += units(item_size(new, names))  # a put
                    elif moved:
                        found[name] += units(item_size(old, names)) + units(item_size(new, names))
                    elif names is None or any(old.get(n) != new.get(n) for n in names):  # type: ignore[union-attr]
                        found[name] += units(max(item_size(old, names), item_size(new, names)))
            iterator = page.get("NextShardIterator")
    # A write inside a transaction costs twice: add the table's units once more for those writes.
    if writes:
        found["table (transactions, 2x)"] = round(found["table"] / writes * requests.messages_in_transactions)
    return found, writes


def report(runtime, codes, jobs, triggered, lone, requests, durations, outcomes, started, confirmed, drained,  # type: ignore[no-untyped-def]
           api_calls, args) -> None:  # fmt: skip
    records = runtime.simulator.records
    ready = ready_times()
    print(f"\n{len(records)} messages sent, drained in {drained - started:.1f} s; carrier throttled "
          f"{runtime.simulator.throttled}; dispatcher outcomes {dict(outcomes.counts)}\n")  # fmt: skip
    print(f"{'code':<14}{'limit':>6}{'msgs':>6}{'parts':>7}{'busiest 1 s':>13}{'violations':>11}"
          f"{'utilization':>12}{'drain/ideal':>12}{'first ready':>12}{'first send':>11}")  # fmt: skip
    job_ids = {number: job["id"] for number, job in jobs}
    for number, limit in codes.items():
        limit = float(limit)
        mine = [r for r in records if r.origination == number and r.context["message_id"].startswith(
            f"msg_{job_ids[number].removeprefix('job_')}")]  # fmt: skip
        windows = busiest_windows(mine, number, limit)
        first_ready = min(ready[r.context["message_id"]] for r in mine)
        last = max(mine, key=lambda r: r.at)
        # The code is busy until its last send's parts have had their time at the limit; what it
        # sent meanwhile counts, the triggered messages on it too.
        busy_until = last.at + last.parts / limit
        sent = sum(r.parts for r in records if r.origination == number and first_ready <= r.at <= last.at)
        utilization = sent / (limit * (busy_until - first_ready))
        drain = busy_until - confirmed[number]
        ideal = (
            sum(r.parts for r in records if r.origination == number and confirmed[number] <= r.at <= last.at)
            / limit
        )
        every = busiest_windows(records, number, limit)
        print(f"{number:<14}{limit:>6g}{len(mine):>6}{windows.parts:>7}{every.busiest:>8} / {limit:<4g}"
              f"{every.violations:>11}{utilization:>11.1%}{drain / ideal:>12.3f}"
              f"{first_ready - confirmed[number]:>11.2f}s{min(r.at for r in mine) - confirmed[number]:>10.2f}s")  # fmt: skip
    at = {r.context["message_id"]: r.at for r in records}
    latencies = [at[message_id] - asked for asked, message_id, *_ in triggered]
    if latencies:
        answering = [answered - asked for asked, _, answered, _ in triggered]
        claiming = [claimed - answered for _, _, answered, claimed in triggered]
        sending = [at[message_id] - claimed for _, message_id, _, claimed in triggered]
        print(f"\ntriggered every 5 s on {codes and max(codes, key=lambda n: codes[n])} during the backlog: "
              f"{len(latencies)}, request to carrier p50 {statistics.median(latencies):.2f} s, "
              f"p99 {percentile(latencies, 0.99):.2f} s, max {max(latencies):.2f} s; of which the API's "
              f"answer p50 {statistics.median(answering):.2f} s, max {max(answering):.2f} s; from the "
              f"answer to the claim p50 {statistics.median(claiming):.2f} s, max {max(claiming):.2f} s; from "
              f"the claim to the carrier p50 {statistics.median(sending):.2f} s, max {max(sending):.2f} s")  # fmt: skip
    print(
        f"a lone triggered message on an idle code: {at[lone[1]] - lone[0]:.3f} s from request to carrier "
        f"(the API answered in {lone[2] - lone[0]:.3f} s)"
    )
    answers = requests.carrier_seconds
    if answers:
        print(f"carrier calls answered in p50 {statistics.median(answers) * 1000:.1f} ms, "
              f"p99 {percentile(answers, 0.99) * 1000:.1f} ms, mean {statistics.fmean(answers) * 1000:.1f} ms "
              "(each call counts until a second after its answer)")  # fmt: skip

    messages = len(records)
    platform = {op: c for op, c in requests.counts.items() if not op.startswith(NOT_THE_PLATFORMS)}
    print("\nAWS requests per message over its whole life (every function), by operation:")
    for op, count in sorted(platform.items()):
        print(f"  {op:<44}{count / messages:>8.3f}")
    print(f"  {'HTTP API (triggers, lists, confirmations)':<44}{api_calls / messages:>8.3f}")
    print(f"  {'Lambda invocations':<44}{sum(durations.invocations.values()) / messages:>8.3f}")
    total_requests = sum(platform.values()) + api_calls
    print(f"  {'total (AWS API calls and HTTP API)':<44}{total_requests / messages:>8.3f}")
    print("\nthe most, by thread and operation (per message):")
    mine = {k: c for k, c in requests.by_thread.items() if not k[1].startswith(NOT_THE_PLATFORMS)}
    for (kind, op), count in sorted(mine.items(), key=lambda item: -item[1])[:16]:
        print(f"  {kind:<22}{op:<38}{count / messages:>8.3f}")

    messages_units, writes = messages_write_units(runtime, requests)
    gb_seconds = sum(durations.seconds[m] * MEMORY_GB.get(m, 0.25) for m in durations.seconds)
    invocations = sum(durations.invocations.values())
    sqs = sum(c for op, c in platform.items() if op.startswith("sqs:"))
    costs = {
        "Lambda requests": invocations * PRICE["lambda_request"],
        "Lambda GB-s (dispatchers: wall time)": durations.seconds["dispatcher"]
        * 0.25
        * PRICE["lambda_gb_second"],
        "Lambda GB-s (others, local wall time)": (gb_seconds - durations.seconds["dispatcher"] * 0.25)
        * PRICE["lambda_gb_second"],
        "SQS": sqs * PRICE["sqs_request"],
        "HTTP API": api_calls * PRICE["api_request"],
        "DynamoDB reads": requests.read_units * PRICE["ddb_read_unit"],
        "DynamoDB writes, other tables": requests.other_write_units * PRICE["ddb_write_unit"],
    }
    for name, count in sorted(messages_units.items()):
        costs[f"DynamoDB writes, Messages {name}"] = count * PRICE["ddb_write_unit"]
    print(f"\nMessages table write units per message ({writes / messages:.2f} item writes per message):")
    for name, count in sorted(messages_units.items()):
        print(f"  {name:<44}{count / messages:>8.2f}")
    print(
        f"  {'other tables (ledger, leases, opt-outs, jobs)':<44}{requests.other_write_units / messages:>8.2f}"
    )
    per_million = {name: cost / messages * 1e6 for name, cost in costs.items()}
    parts = sum(r.parts for r in records)
    sms = parts / messages * PRICE["sms_part"] * 1e6
    print("\ninfrastructure cost per million messages at FACTS.md prices:")
    for name, cost in sorted(per_million.items(), key=lambda item: -item[1]):
        print(f"  {name:<52}${cost:>8.2f}")
    infra = sum(per_million.values())
    print(f"  {'total':<52}${infra:>8.2f}  ({infra / sms:.3%} of the carrier's ${sms:,.0f} for them)")
    print(f"  Lambda invocations: {dict(durations.invocations)}")


if __name__ == "__main__":
    main()
