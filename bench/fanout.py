"""Benchmark: a mass message to 10,000 and 100,000 recipients, fanned out against moto in-process.

For each size it prints the preview and fan-out wall times, recipients per second, the fan-out's
peak Python memory (tracemalloc) and the AWS requests per recipient by operation. The fan-out is
run the way the fanout function runs it: FanOut.run until the job is queued.

    .venv/bin/python bench/fanout.py [sizes...]
"""

from __future__ import annotations

import os
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path

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

from functions.dal.send_queue import SendQueue  # noqa: E402

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
from local.provision import provision, shared_environment  # noqa: E402
from local.template import load_template  # noqa: E402
from local.topology import read_topology  # noqa: E402

OUTAGE = {
    "company": "Demo Fiber",
    "outage_start": "2026-12-01T02:00:00-05:00",
    "outage_end": "2026-12-01T04:00:00-05:00",
}


class RequestCounter:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.active = False

    def __call__(self, model, **_) -> None:
        if self.active:
            self.counts[f"{model.service_model.service_name}:{model.name}"] += 1


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


def run(size: int, topology) -> dict[str, object]:
    counter = RequestCounter()
    with moto.mock_aws():
        session = boto3.Session()
        session.events.register("before-call.*.*", counter)
        provisioned = provision(
            topology, session.client("dynamodb"), session.client("sqs"), session.client("sns"),
            s3=session.client("s3"),
        )  # fmt: skip
        env = shared_environment(topology, provisioned)
        dynamodb, sqs = session.resource("dynamodb"), session.client("sqs")
        config = ConfigTable(dynamodb.Table(env["CONFIG_TABLE"]))
        seed_demo(config)
        config.put_contacts("demo-isp", contacts(size))
        messages = MessagesTable(dynamodb.Table(env["MESSAGES_TABLE"]))
        opt_outs = OptOutsTable(dynamodb.Table(env["OPT_OUTS_TABLE"]))
        send_queue = SendQueue(sqs, env["SEND_QUEUE_URL"])
        fanout_queue = FanOutQueue(sqs, env["FANOUT_QUEUE_URL"])
        composer = Composer(config, messages, opt_outs, send_queue)
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
        fanout = FanOut(config, jobs, messages, composer, send_queue, fanout_queue, records, opt_outs)
        counter.active = True
        tracemalloc.start()
        started = time.perf_counter()
        invocations = 0
        step_peak = 0
        base, _ = tracemalloc.get_traced_memory()
        while True:
            # One page per step, the peak measured from the step's start: moto keeps the tables in
            # this same heap, so the whole-run peak would count the stored messages, not the fan-out.
            invocations += 1
            before, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            result = fanout.run(FanOutWork(job_id=job.job_id), remaining_ms=lambda: 900_000, max_pages=1)
            step_peak = max(step_peak, tracemalloc.get_traced_memory()[1] - before)
            if result.finished:
                break
        seconds = time.perf_counter() - started
        stored = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.stop()
        counter.active = False
        created = jobs.get(job.job_id).created_messages  # type: ignore[union-attr]
    assert job.preview is not None
    assert created == job.preview.recipients == size, (created, job.preview.recipients, size)
    return {
        "size": size,
        "preview_s": preview_seconds,
        "fanout_s": seconds,
        "per_s": size / seconds,
        "peak_mb": step_peak / 1e6,
        "stored_mb": stored / 1e6,
        "invocations": invocations,
        "requests": {op: n / size for op, n in sorted(counter.counts.items())},
    }


def main(sizes: list[int]) -> None:
    topology = read_topology(load_template())
    rows = [run(size, topology) for size in sizes]
    print("peak MB: the most memory one fan-out page (step) allocated at its peak, moto's share included;")
    print("moto MB: what moto's in-process tables grew by over the whole fan-out (the stored messages).\n")
    print(
        f"{'recipients':>10} {'preview s':>9} {'fan-out s':>9} {'recips/s':>9} {'peak MB':>8} {'moto MB':>8} {'pages':>5}"
    )
    for row in rows:
        print(
            f"{row['size']:>10,} {row['preview_s']:>9.1f} {row['fanout_s']:>9.1f} {row['per_s']:>9,.0f}"
            f" {row['peak_mb']:>8.1f} {row['stored_mb']:>8.1f} {row['invocations']:>5}"
        )
    print("\nAWS requests per recipient during fan-out, by operation:")
    operations = sorted({op for row in rows for op in row["requests"]})  # type: ignore[union-attr]
    print(f"{'operation':<34}" + "".join(f"{row['size']:>12,}" for row in rows))
    for op in operations:
        print(f"{op:<34}" + "".join(f"{row['requests'].get(op, 0):>12.4f}" for row in rows))  # type: ignore[union-attr]
    print(f"{'total':<34}" + "".join(f"{sum(row['requests'].values()):>12.4f}" for row in rows))  # type: ignore[union-attr]


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [10_000, 100_000])
