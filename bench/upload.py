"""Calling lists uploaded as files: N generated CSV records through the pre-signed URL.

    .venv/bin/python bench/upload.py [sizes...]        default: 100000 1000000

Each size runs in a fresh process that starts the local runtime (its moto servers are processes of
their own, so their memory is not counted), asks for an upload over HTTP, writes the CSV to a
temporary file (1% of rows with an invalid number, 0.5% missing a field, 0.5% with a bad amount,
0.2% malformed, 2% repeating an earlier number), PUTs it to the URL it was given and waits for the
job. It prints the file's size, the validation's own time (measured inside its one pass) and the
wall time from the PUT to the end of validation, the process's peak memory above its size before
the upload, the refused rows by reason, and the preview's time if it ends within ``--preview-timeout``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import phonenumbers

AREA_CODES = [
    416, 647, 437, 905, 289, 365, 613, 343, 519, 226, 548, 705, 249, 807, 514, 438, 450, 579, 418, 581,
    819, 873, 604, 778, 236, 250, 403, 587, 825, 780, 306, 639, 204, 431, 506, 902, 709, 212, 646, 718,
    917, 347, 312, 773, 213, 310, 323, 415, 510, 408, 650, 617, 202, 305, 404, 678, 713, 832, 214, 972,
    602, 480, 206, 303, 720, 503, 702, 215, 267, 412, 313, 612, 651, 314, 816, 504, 615, 704, 919, 804,
    757, 801, 385, 808, 907, 208, 406, 307, 701, 605, 402, 316, 405, 501, 601, 205, 803, 843, 864, 912,
]  # fmt: skip
KEY = "Bearer sms_local_demo_key_for_the_local_runtime_only"
RUNNING = {"awaiting_upload", "validating"}


def valid_codes() -> list[int]:
    return [
        code for code in AREA_CODES if phonenumbers.is_valid_number(phonenumbers.parse(f"+1{code}5550100"))
    ]


def write_csv(path: Path, size: int, seed: int = 7) -> Counter[str]:
    """The generated list; what its rows were made to be, by kind."""
    rng = random.Random(seed)
    codes = valid_codes()
    made: Counter[str] = Counter()
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("first,cell,quote\n")
        for row in range(size):
            number = f"({codes[row % len(codes)]}) 555-{row // len(codes) % 10_000:04d}"
            roll = rng.random()
            if roll < 0.01:
                out.write(f"Ann{row},+44 20 7183 {row % 10_000:04d},1500\n")
                made["invalid_phone_number"] += 1
            elif roll < 0.015:
                out.write(f"Bo{row},{number},\n")
                made["missing_field"] += 1
            elif roll < 0.02:
                out.write(f"Cy{row},{number},a lot\n")
                made["invalid_value"] += 1
            elif roll < 0.022:
                out.write(f"Di{row},{number}\n")
                made["malformed_row"] += 1
            elif roll < 0.042 and row:
                earlier = rng.randrange(row)
                out.write(
                    f"Ed{row},({codes[earlier % len(codes)]}) 555-{earlier // len(codes) % 10_000:04d},900\n"
                )
                made["repeat"] += 1
            else:
                out.write(f"Fay{row},{number},{1000 + row % 90_000}\n")
                made["valid"] += 1
    return made


def call(url: str, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method=method)
    request.add_header("content-type", "application/json")
    request.add_header("authorization", KEY)
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def one(size: int, preview_timeout: float) -> dict[str, Any]:
    from local.runtime import LocalRuntime, RuntimeSettings

    runtime = LocalRuntime(RuntimeSettings(port=0, demo_activity=False))
    runtime.start()
    try:
        url = runtime.url
        job = call(url, "POST", "/v1/calling-lists", {
            "name": f"bench {size}", "template_id": "tpl-fence-painting", "phone_field": "cell",
            "name_field": "first", "mapping": {"first_name": "first", "quote": "quote"}, "upload": True,
        })  # fmt: skip
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "list.csv"
            made = write_csv(path, size)
            file_bytes = path.stat().st_size
            baseline = rss_mb()
            with path.open("rb") as body:
                put = urllib.request.Request(job["upload"]["url"], data=body, method="PUT")
                put.add_header("Content-Type", "text/csv")
                put.add_header("Content-Length", str(file_bytes))
                started = time.monotonic()
                with urllib.request.urlopen(put, timeout=600) as answer:
                    assert answer.status == 200
        uploaded = time.monotonic()
        while (state := call(url, "GET", f"/v1/calling-lists/{job['id']}"))["status"] in RUNNING:
            time.sleep(0.2)
        validated = time.monotonic()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - baseline
        preview_seconds = None
        deadline = validated + preview_timeout
        while state["status"] == "previewing" and time.monotonic() < deadline:
            time.sleep(0.5)
            state = call(url, "GET", f"/v1/calling-lists/{job['id']}")
        if state["status"] == "previewed":
            preview_seconds = round(time.monotonic() - validated, 1)
        return {
            "size": size,
            "file_mb": round(file_bytes / 2**20, 1),
            "put_s": round(uploaded - started, 1),
            "validation_s": round(state["validation"]["milliseconds"] / 1000, 1),
            "to_validated_s": round(validated - uploaded, 1),
            "peak_mb": round(peak, 1),
            "made": dict(made),
            "validation": state["validation"],
            "status": state["status"],
            "preview_s": preview_seconds,
            "preview": state.get("preview"),
        }
    finally:
        runtime.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("sizes", nargs="*", type=int, default=[100_000, 1_000_000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--preview-timeout", type=float, default=0.0, help="seconds to wait for the preview")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.preview_timeout)))
        return
    print(
        "| records | file | PUT | validation (in its pass) | PUT to validated | peak MB | refused by reason |"
    )
    print("|---:|---:|---:|---:|---:|---:|---|")
    for size in args.sizes:
        command = [
            sys.executable,
            __file__,
            "--one",
            str(size),
            "--preview-timeout",
            str(args.preview_timeout),
        ]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        result = json.loads(output.strip().splitlines()[-1])
        refused = ", ".join(
            f"{reason} {count:,}" for reason, count in sorted(result["validation"]["refused"].items())
        )
        print(
            f"| {size:,} | {result['file_mb']} MB | {result['put_s']} s | {result['validation_s']} s | "
            f"{result['to_validated_s']} s | {result['peak_mb']} | {refused} |"
        )
        print(f"  made: {result['made']}; accepted {result['validation']['accepted']:,}; status {result['status']}",
              file=sys.stderr)  # fmt: skip
        if result["preview"]:
            preview = result["preview"]
            print(f"  preview in {result['preview_s']} s: {preview['recipients']:,} recipients, "
                  f"{preview['duplicates_removed']:,} duplicates", file=sys.stderr)  # fmt: skip


if __name__ == "__main__":
    main()
