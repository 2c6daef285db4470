"""moto as a server on 127.0.0.1 in a process of its own, with its request handling serialized.

moto's backends are not thread-safe: concurrent conditional writes can both succeed (an
overspent balance). One lock around the dispatcher makes every request atomic, as a real
DynamoDB item is. Its own process gives moto a core of its own: sharing one interpreter with
the functions and their pollers, moto's work and theirs took turns (measured: the functions spent
most of their time waiting for moto while the machine's second core idled).

    python -m local.moto_server [--port 0]    prints its URL on the first line, then serves
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import threading
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from local import moto_fixes

START_TIMEOUT_SECONDS = 60


class SerializedDispatcher:
    def __init__(self) -> None:
        self._app = DomainDispatcherApplication(create_backend_app)
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("REQUEST_METHOD") == "OPTIONS":
            # A browser's CORS preflight of a pre-signed URL carries the URL's query, which moto
            # checks as the request's signature (signed for the PUT, so refused); S3 answers a
            # preflight from the bucket's CORS rules alone.
            environ = {**environ, "QUERY_STRING": ""}
        with self._lock:
            # Materialize the body inside the lock: the backend's work may be lazy.
            return list(self._app(environ, start_response))


class MotoServer:
    """The server as a child process; it ends with its parent (its stdin closes)."""

    def __init__(self, port: int = 0) -> None:
        self._port = port
        self._process: subprocess.Popen[str] | None = None
        self._url = ""

    @property
    def url(self) -> str:
        return self._url

    def start(self) -> None:
        self._process = subprocess.Popen(  # noqa: S603 - this interpreter, a fixed module
            [sys.executable, "-m", "local.moto_server", "--port", str(self._port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().strip()
        if not line.startswith("http://"):
            self.stop()
            raise RuntimeError(f"moto server did not start: {line!r}")
        self._url = line

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None


def _exit_with_parent() -> None:
    sys.stdin.read()  # returns when the parent's end of the pipe closes, however it ended
    os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
    moto_fixes.apply()
    server = make_server(
        args.host, args.port, SerializedDispatcher(), threaded=True, request_handler=MotoRequestHandler
    )
    threading.Thread(target=_exit_with_parent, name="parent-watch", daemon=True).start()
    print(f"http://127.0.0.1:{server.server_port}", flush=True)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # nobody reads the pipe after the first line
    server.serve_forever()


if __name__ == "__main__":
    main()
