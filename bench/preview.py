"""A mass message's preview over N contacts, through the local runtime's HTTP API.

    .venv/bin/python bench/preview.py [sizes...] [--workers 2]     default: 100000

Each size starts the local runtime in a fresh process (its moto servers are processes of their
own), imports N generated opted-in contacts of one network site into the demo tenant's Config table
(25 to a BatchWriteItem, as an import would), then asks for an outage notice to that site over HTTP
(`POST /v1/mass-messages`) and follows the job (`GET /v1/mass-messages/{id}`) as a client would,
until it is `previewed`. It prints the time to the answer of the create, to the preview, the
segments the preview job split into, the job's progress as it was seen, and the preview itself.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

NOTICE = {
    "saved_message": "unplanned_outage_no_eta",
    "outage_start": "2026-12-01T02:00:00-05:00",
    "variables": {"company": "Demo Fiber"},
    "filters": {"network_site_ids": ["site-north"]},
}
RUNNING = {"previewing"}
SHOWN = ("recipients", "duplicates_removed", "excluded", "segments_total", "total_micros", "balance_covers")


def call(url: str, method: str, path: str, body: Any = None) -> Any:
    from local.demo import DEMO_API_KEY

    request = urllib.request.Request(
        url + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"authorization": f"Bearer {DEMO_API_KEY}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def one(size: int, workers: int) -> dict[str, Any]:
    import boto3

    from bench.fanout import contacts
    from functions.dal.config import ConfigTable
    from local.runtime import LocalRuntime, RuntimeSettings

    runtime = LocalRuntime(RuntimeSettings(port=0, demo_activity=False, instances={"preview": workers}))
    runtime.start()
    try:
        config = ConfigTable(boto3.resource("dynamodb").Table(os.environ["CONFIG_TABLE"]))
        imported = time.monotonic()
        # Ids spread over their first character as random ids are, so the preview's ranges share them.
        config.put_contacts("demo-isp", [
            contact.model_copy(update={"contact_id": f"{hashlib.sha256(contact.contact_id.encode()).hexdigest()[:6]}-{contact.contact_id}"})
            for contact in contacts(size)
        ])  # fmt: skip
        imported = time.monotonic() - imported
        started = time.monotonic()
        job = call(runtime.url, "POST", "/v1/mass-messages", NOTICE)
        answered = time.monotonic() - started
        seen = []
        while job["status"] in RUNNING:
            progress = job.get("preview_progress") or {}
            seen.append((round(time.monotonic() - started), progress.get("segments_done"),
                         progress.get("segments"), progress.get("records_read")))  # fmt: skip
            time.sleep(1.0)
            job = call(runtime.url, "GET", f"/v1/mass-messages/{job['id']}")
        return {
            "size": size,
            "workers": workers,
            "import_s": round(imported, 1),
            "create_answer_s": round(answered, 2),
            "preview_s": round(time.monotonic() - started, 1),
            "status": job["status"],
            "segments": (job.get("preview_progress") or {}).get("segments"),
            "progress_seen": seen[:: max(1, len(seen) // 8)],
            "preview": {key: (job.get("preview") or {}).get(key) for key in SHOWN},
        }
    finally:
        runtime.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sizes", nargs="*", type=int, default=[100_000])
    parser.add_argument("--workers", type=int, default=2, help="local preview function instances")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one(args.sizes[0], args.workers)))
        return
    for size in args.sizes:
        done = subprocess.run(
            [sys.executable, __file__, str(size), "--workers", str(args.workers), "--child"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        result = json.loads(done.stdout.strip().splitlines()[-1])
        print(json.dumps(result))


if __name__ == "__main__":
    main()
