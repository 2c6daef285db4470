"""Start the local runtime as a user does (python -m local), in its own process, and talk HTTP to it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO_KEY = "sms_local_demo_key_for_the_local_runtime_only"
OPERATOR_KEY = "sms_local_operator_key_for_the_local_runtime_only"
STARTUP_SECONDS = 120  # the first run synthesizes the template


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class LocalService:
    url: str
    process: subprocess.Popen[str]

    def call(
        self, method: str, path: str, body: Any = None, key: str | None = DEMO_KEY, raw: bytes | None = None
    ) -> Response:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("content-type", "application/json")
        if key:
            request.add_header("authorization", f"Bearer {key}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, headers, payload = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            status, headers, payload = error.code, dict(error.headers), error.read()
        return Response(
            status, {k.lower(): v for k, v in headers.items()}, json.loads(payload) if payload else None
        )


def onboard_tenant(
    service: LocalService,
    tenant_id: str,
    sending_number: str,
    department: dict[str, str],
    contact: dict[str, Any],
) -> tuple[str, str]:
    """A tenant set up over HTTP as its operator and admin would: an API key, a department and its
    default triggered signature, one contact, SMS on and $1 of balance. Its key and the contact's id.
    """
    operator = OPERATOR_KEY
    assert service.call("POST", "/v1/operator/tenants", {
        "tenant_id": tenant_id, "name": tenant_id.upper(), "sending_numbers": [sending_number],
    }, key=operator).status == 201  # fmt: skip
    key = service.call("POST", f"/v1/operator/tenants/{tenant_id}/api-keys", {
        "name": "e2e", "permissions": ["sms:create", "sms:view", "config:manage"],
    }, key=operator).body["api_key"]  # fmt: skip
    created = service.call("POST", "/v1/departments", {"name": "Care", **department}, key=key).body
    assert service.call("POST", "/v1/signatures", {
        "name": "Care", "department_id": created["department_id"], "text": "Reply STOP to unsubscribe.",
        "default_for_triggered": True,
    }, key=key).status == 201  # fmt: skip
    contact_id = service.call("POST", "/v1/contacts", contact, key=key).body["id"]
    assert service.call("PATCH", "/v1/settings", {"sms_enabled": True}, key=key).status == 200
    credit = {"amount_micros": 1_000_000, "reference": f"{tenant_id}-opening"}
    assert (
        service.call("POST", f"/v1/operator/tenants/{tenant_id}/credits", credit, key=operator).status == 201
    )
    return key, contact_id


@contextmanager
def local_service(*options: str) -> Iterator[LocalService]:
    """python -m local on a free port, with ``options``; stopped with Ctrl-C, which must end it cleanly."""
    process = subprocess.Popen(
        [sys.executable, "-m", "local", "--port", "0", *options],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + STARTUP_SECONDS
    url = None
    seen = []
    while time.monotonic() < deadline and url is None:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if line.startswith("Listening on "):
            url = line.removeprefix("Listening on ").strip()
    if url is None:
        process.kill()
        pytest.fail("the local runtime did not start:\n" + "".join(seen))
    # Keep reading: a full pipe would block every process writing to it (the moto servers too).
    stdout = process.stdout
    reader = threading.Thread(target=lambda: seen.extend(stdout), daemon=True)
    reader.start()
    try:
        yield LocalService(url=url, process=process)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
        reader.join(timeout=5)
    output = "".join(seen)
    assert process.returncode == 0, output
    assert "Stopped." in output


@pytest.fixture(scope="package")  # stopped once the worker's e2e files are done, not at its end
def service() -> Iterator[LocalService]:
    # The tests' receivers of reply webhooks and status callbacks listen on this machine.
    with local_service(
        "--receipt-delay",
        "0.2",
        "--tick-seconds",
        "1",
        "--max-batching-window",
        "0.2",
        "--allow-loopback-webhooks",
    ) as running:
        yield running


@contextmanager
def post_receiver(
    path: str, status: int = 204, answer: bytes = b""
) -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """An endpoint on this machine that records every post (its headers, lowercased, and body) and
    answers ``status`` with ``answer``: the URL to register, and the posts as they come."""
    posts: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(status)
            if answer:
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{path}", posts
    finally:
        server.shutdown()
