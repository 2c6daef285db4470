"""Benchmark: a mass message to 10,000 and 100,000 recipients, fanned out against moto.

moto runs as the local runtime runs it, a server in a process of its own (``--in-process``: in this
process, as the tests run it), so this process holds what a fan-out function holds and no tables.

For each size it prints:
- the preview's wall time (the job's create: every contact read, classified and priced);
- the fan-out's wall time and recipients per second, run the way the fanout function runs it
  (``FanOut.run`` one page per step, DynamoDB's 1 MB page of contacts, until the job is queued);
- the peak Python memory one page allocated (tracemalloc, on every ``--sample``-th page only, so
  the tracing does not slow the others; those pages are left out of the rate): with moto in its
  own process, the fan-out's own memory (its page of contacts and messages, boto3's buffers);
- the AWS requests per recipient by operation (a botocore ``before-call`` hook);
- the most writes any one partition key received in one second: every write request's items are
  mapped to the keys they land on (the table's partition key and the partition key of each index
  the item carries), counted per key per wall-clock second.

No dispatcher drains the ready index here, so the fan-out's backlog pause is off: this measures the
fan-out alone, at its own pace.

    .venv/bin/python bench/fanout.py [sizes...] [--sample N] [--in-process]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
    del os.environ[name]
os.environ.update(
    {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
)
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import boto3  # noqa: E402
import moto  # noqa: E402

from local import moto_fixes  # noqa: E402

moto_fixes.apply()

from functions.dal.config import ConfigTable  # noqa: E402
from functions.dal.fanout_queue import FanOutQueue, FanOutWork  # noqa: E402
from functions.dal.list_records import ListRecords  # noqa: E402
from functions.dal.messages import MessagesTable  # noqa: E402
from functions.dal.objects import ObjectStore  # noqa: E402
from functions.dal.opt_outs import OptOutsTable  # noqa: E402
from functions.domain.mass import RecipientFilter  # noqa: E402
from functions.domain.tenants import Contact, ContactPhone, EntityType  # noqa: E402
from functions.handlers.jobs_wiring import job_services  # noqa: E402
from functions.logic import previews as previews_logic  # noqa: E402
from functions.logic.compose import Composer  # noqa: E402
from functions.logic.fanout import FanOut  # noqa: E402
from functions.logic.mass import MassRequest  # noqa: E402
from functions.settings import JobsSettings  # noqa: E402
from local.demo import seed_demo  # noqa: E402
from local.moto_server import MotoServer  # noqa: E402
from local.provision import provision, shared_environment  # noqa: E402
from local.template import load_template  # noqa: E402
from local.topology import Topology, read_topology  # noqa: E402

OUTAGE = {
    "company": "Demo Fiber",
    "outage_start": "2026-12-01T02:00:00-05:00",
    "outage_end": "2026-12-01T04:00:00-05:00",
}
WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})


class Requests:
    """Counts AWS requests by operation, and DynamoDB writes per partition key per second."""

    def __init__(self, keys: dict[str, list[tuple[str, str]]]) -> None:
        # table name -> [(key label, partition key attribute)]: the table's, then each index's
        self.keys = keys
        self.counts: Counter[str] = Counter()
        self.per_key_second: Counter[tuple[str, str, int]] = Counter()
        self.active = False
        self.started = time.perf_counter()

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        if not self.active:
            return
        self.counts[f"{model.service_model.service_name}:{model.name}"] += 1
        if model.service_model.service_name == "dynamodb" and model.name in WRITES:
            second = int(time.perf_counter() - self.started)
            for table, item in _written(model.name, json.loads(params["body"])):
                for label, attribute in self.keys.get(table, []):
                    value = item.get(attribute)
                    if value is not None:
                        self.per_key_second[(label, next(iter(value.values())), second)] += 1

    def hottest(self) -> tuple[int, str]:
        """The most writes one partition key took in one second, and which key (its table or index)."""
        if not self.per_key_second:
            return 0, "-"
        (label, _, _), count = self.per_key_second.most_common(1)[0]
        return count, label

    def hottest_by_key(self) -> dict[str, int]:
        """Per table or index: the most writes one of its partition keys took in one second."""
        best: dict[str, int] = {}
        for (label, _, _), count in self.per_key_second.items():
            best[label] = max(best.get(label, 0), count)
        return best


def _written(operation: str, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(table, item or key) for each item a write request touches (an update: its key only)."""
    if operation == "BatchWriteItem":
        return [
            (table, request.get("PutRequest", {}).get("Item") or request["DeleteRequest"]["Key"])
            for table, requests in body["RequestItems"].items()
            for request in requests
        ]
    if operation == "TransactWriteItems":
        found = []
        for entry in body["TransactItems"]:
            ((_kind, action),) = entry.items()
            found.append((action["TableName"], action.get("Item") or action["Key"]))
        return found
    return [(body["TableName"], body.get("Item") or body["Key"])]


def key_schemas(dynamodb: Any) -> dict[str, list[tuple[str, str]]]:
    keys: dict[str, list[tuple[str, str]]] = {}
    for table in dynamodb.list_tables()["TableNames"]:
        described = dynamodb.describe_table(TableName=table)["Table"]
        short = table.split("-")[-1] if "-" in table else table

        def partition(schema: list[dict[str, str]]) -> str:
            return next(key["AttributeName"] for key in schema if key["KeyType"] == "HASH")

        keys[table] = [(short, partition(described["KeySchema"]))] + [
            (f"{short}.{index['IndexName']}", partition(index["KeySchema"]))
            for index in described.get("GlobalSecondaryIndexes", [])
        ]
    return keys


def contacts(count: int) -> list[Contact]:
    return [
        Contact(
            contact_id=f"c{index:07d}",
            name=f"Subscriber {index}",
            contact_type="Primary",
            related_entity_type=EntityType.NETWORK_SITE,
            related_entity_id="site-north",
            related_entity_name="North",
            phones=[
                ContactPhone(number=f"+1416{2000000 + index:07d}", number_type="Mobile", sms_opt_in=True)
            ],
        )
        for index in range(count)
    ]


@contextlib.contextmanager
def moto_backend(in_process: bool) -> Any:
    if in_process:
        with moto.mock_aws():
            yield
        return
    server = MotoServer()
    server.start()
    os.environ["AWS_ENDPOINT_URL"] = server.url
    try:
        yield
    finally:
        del os.environ["AWS_ENDPOINT_URL"]
        server.stop()


def run(size: int, topology: Topology, sample_every: int, in_process: bool) -> dict[str, Any]:
    with moto_backend(in_process):
        session = boto3.Session()
        provisioned = provision(
            topology, session.client("dynamodb"), session.client("sqs"), session.client("sns"),
            s3=session.client("s3"), events=session.client("events"),
            secrets=session.client("secretsmanager"),
        )  # fmt: skip
        env = shared_environment(topology, provisioned)
        counter = Requests(key_schemas(session.client("dynamodb")))
        session.events.register("before-call.*.*", counter)
        dynamodb, sqs = session.resource("dynamodb"), session.client("sqs")
        config = ConfigTable(dynamodb.Table(env["CONFIG_TABLE"]))
        seed_demo(config)
        config.put_contacts("demo-isp", contacts(size))
        messages = MessagesTable(dynamodb.Table(env["MESSAGES_TABLE"]))
        opt_outs = OptOutsTable(dynamodb.Table(env["OPT_OUTS_TABLE"]))
        fanout_queue = FanOutQueue(sqs, env["FANOUT_QUEUE_URL"])
        composer = Composer(config, messages, opt_outs)
        # The preview in one pass in this process (one segment: the preview function's split and
        # parallel segments are not measured here).
        previews_logic.INLINE_BUDGET_MS = 10**9
        services = job_services(JobsSettings.from_env(env), dynamodb, sqs, session.client("s3"), composer)
        jobs, mass = services.jobs, services.mass
        request = MassRequest(
            saved_message="planned_outage", variables=OUTAGE,
            recipient_filter=RecipientFilter(network_site_ids=["site-north"]),
        )  # fmt: skip

        started = time.perf_counter()
        job = mass.create("demo-isp", request)
        preview_seconds = time.perf_counter() - started
        assert job.confirmation_token is not None
        mass.confirm("demo-isp", job.job_id, job.confirmation_token)

        records = ListRecords(ObjectStore(session.client("s3"), env["LISTS_BUCKET"]))
        fanout = FanOut(config, jobs, messages, composer, fanout_queue, records, opt_outs)
        counter.active, counter.started = True, time.perf_counter()
        steps, page_peaks, timed_seconds, timed_created = 0, [], 0.0, 0
        while True:
            steps += 1
            sampled = steps % sample_every == 0
            if sampled:
                # Traced from the step's start: the peak is what this page held at once (in process,
                # moto's tables too: the page's stored messages count, earlier ones not).
                tracemalloc.start()
            step_started = time.perf_counter()
            result = fanout.run(FanOutWork(job_id=job.job_id), remaining_ms=lambda: 900_000, max_pages=1)
            if sampled:
                page_peaks.append(tracemalloc.get_traced_memory()[1])
                tracemalloc.stop()
            else:
                timed_seconds += time.perf_counter() - step_started
                timed_created += result.created
            if result.finished:
                break
        seconds = time.perf_counter() - counter.started
        counter.active = False
        created = jobs.get(job.job_id).created_messages  # type: ignore[union-attr]
    assert job.preview is not None
    assert created == job.preview.recipients == size, (created, job.preview.recipients, size)
    hottest, hottest_label = counter.hottest()
    return {
        "size": size,
        "preview_s": preview_seconds,
        "fanout_s": seconds,
        "per_s": timed_created / timed_seconds if timed_seconds else float("nan"),
        "page_mb": [peak / 1e6 for peak in page_peaks],
        "pages": steps,
        "requests": {op: n / size for op, n in sorted(counter.counts.items())},
        "hottest": hottest,
        "hottest_label": hottest_label,
        "by_key": counter.hottest_by_key(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[10_000, 100_000])
    parser.add_argument("--sample", type=int, default=2, help="trace memory on every N-th page")
    parser.add_argument("--in-process", action="store_true", help="moto in this process (mock_aws)")
    args = parser.parse_args()
    topology = read_topology(load_template())
    rows = []
    for size in args.sizes:
        rows.append(run(size, topology, args.sample, args.in_process))
        print(f"... {size:,} done", file=sys.stderr, flush=True)
    print("recips/s: fan-out rate over the untraced pages; page MB: peak memory one traced page held")
    print("(min-max over the traced pages); hot key/s: most writes one partition key took in a second.\n")
    print(
        f"{'recipients':>10} {'preview s':>9} {'fan-out s':>9} {'recips/s':>9} {'pages':>5}"
        f" {'page MB':>11} {'hot key/s':>9}  hot key"
    )
    for row in rows:
        peaks = row["page_mb"] or [0.0]
        print(
            f"{row['size']:>10,} {row['preview_s']:>9.1f} {row['fanout_s']:>9.1f} {row['per_s']:>9,.0f}"
            f" {row['pages']:>5} {min(peaks):>5.1f}-{max(peaks):<5.1f} {row['hottest']:>9,}  {row['hottest_label']}"
        )
    print("\nAWS requests per recipient during fan-out, by operation:")
    operations = sorted({op for row in rows for op in row["requests"]})
    print(f"{'operation':<34}" + "".join(f"{row['size']:>12,}" for row in rows))
    for op in operations:
        print(f"{op:<34}" + "".join(f"{row['requests'].get(op, 0):>12.4f}" for row in rows))
    print(f"{'total':<34}" + "".join(f"{sum(row['requests'].values()):>12.4f}" for row in rows))
    print("\nMost writes one partition key took in one second, per table and index:")
    labels = sorted({label for row in rows for label in row["by_key"]})
    print(f"{'table or index':<34}" + "".join(f"{row['size']:>12,}" for row in rows))
    for label in labels:
        print(f"{label:<34}" + "".join(f"{row['by_key'].get(label, 0):>12,}" for row in rows))


if __name__ == "__main__":
    main()
