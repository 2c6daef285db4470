"""An HTTP front that does what API Gateway's HTTP API does for the api function.

Each request is matched to the template's routes, checked by the route's Lambda authorizer
(simple responses, identity source Authorization), and turned into a payload 2.0 event. As the HTTP
API does, the path is percent-decoded once before routing: ``rawPath``, ``requestContext.http.path``
and the path parameters carry ``/v1/opt-outs/+14165559145`` for a request to
``/v1/opt-outs/%2B14165559145``; the query string stays as sent in ``rawQueryString`` and decoded in
``queryStringParameters``.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local.lambda_runtime import LocalFunction
from local.topology import RouteSpec, Topology

log = logging.getLogger("local.http")
LocalRoute = Callable[[str, dict[str, Any] | None], tuple[int, Any]]


def api_event(
    method: str,
    raw_path: str,
    headers: dict[str, str],
    body: bytes,
    route_key: str,
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    split = urlsplit(raw_path)
    path = unquote(split.path)
    query: dict[str, str] = {}
    for name, value in parse_qsl(split.query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    now = datetime.now(UTC)
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": split.query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": headers.get("host", "localhost"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": encoded,
    }
    if query:
        event["queryStringParameters"] = query
    if body:
        event["body"] = text
    if route_key.endswith("/{proxy+}"):
        prefix = route_key.split(" ", 1)[1].removesuffix("{proxy+}")
        event["pathParameters"] = {"proxy": path.removeprefix(prefix)}
    elif path_parameters:
        event["pathParameters"] = path_parameters
    return event


class Gateway:
    """Routing, authorization and the payload 2.0 exchange, without a socket (tests use it directly)."""

    def __init__(
        self,
        topology: Topology,
        functions: dict[str, LocalFunction],
        local_routes: dict[str, LocalRoute] | None = None,
    ) -> None:
        self._topology = topology
        self._functions = functions
        self._local_routes = local_routes or {}
        # Lambda runs one request at a time in an instance; here every request shares one process and
        # the handlers' module state (the HTTP resolver holds the current event), so requests take turns.
        self._one_at_a_time = threading.Lock()

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        path = unquote(urlsplit(raw_path).path)
        if path in self._local_routes:
            payload = json.loads(body) if body else None
            status, result = self._local_routes[path](method, payload)
            return status, {"content-type": "application/json"}, json.dumps(result, default=str).encode()
        route = self._topology.route_for(method, path)
        if route is None:
            return _gateway_error(404, "Not Found")
        with self._one_at_a_time:
            return self._invoke(route, method, raw_path, headers, body, path)

    def _invoke(
        self, route: RouteSpec, method: str, raw_path: str, headers: dict[str, str], body: bytes, path: str
    ) -> tuple[int, dict[str, str], bytes]:
        route_key = f"{route.method} {route.path}"
        event = api_event(method, raw_path, headers, body, route_key, route.parameters(path))
        if route.authorizer_function_id is not None:
            identity = headers.get("authorization")
            if not identity:
                return _gateway_error(401, "Unauthorized")
            decision = self._functions[route.authorizer_function_id].invoke(
                {**event, "type": "REQUEST", "routeArn": f"arn:aws:execute-api:local/{route_key}",
                 "identitySource": [identity]}
            )  # fmt: skip
            if not decision.get("isAuthorized"):
                return _gateway_error(403, "Forbidden")
            event["requestContext"]["authorizer"] = {"lambda": decision.get("context", {})}
        try:
            response = self._functions[route.function_id].invoke(event)
        except Exception:
            log.exception("the api function raised")
            return _gateway_error(500, "Internal Server Error")
        return _to_http(response)


class _Server(ThreadingHTTPServer):
    """A thread per connection, and a listen backlog that holds a burst of clients: the default of 5
    resets connections as soon as more arrive at once than the accepting thread takes in."""

    daemon_threads = True
    request_queue_size = 1024


class HttpFront:
    """The gateway on a socket."""

    def __init__(self, gateway: Gateway, host: str = "127.0.0.1", port: int = 0) -> None:
        self._gateway = gateway
        self._server = _Server((host, port), self._handler_class())
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="http-front", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() waits for a serve_forever that was started
            self._server.shutdown()
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        gateway = self._gateway

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = self.headers.get("content-length") or "0"
                if not length.isdigit():
                    self.close_connection = True
                    self._answer(*_gateway_error(400, "Bad Request"))
                    return
                body = self.rfile.read(int(length)) if int(length) else b""
                headers: dict[str, str] = {}
                for name, value in self.headers.items():
                    key = name.lower()
                    headers[key] = f"{headers[key]},{value}" if key in headers else value
                self._answer(*gateway.handle(self.command, self.path, headers, body))

            def _answer(self, status: int, response_headers: dict[str, str], payload: bytes) -> None:
                self.send_response(status)
                for name, value in response_headers.items():
                    if name.lower() not in {"content-length", "connection"}:
                        self.send_header(name, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":  # a HEAD answer has the headers of a GET's, and no body
                    self.wfile.write(payload)

            def __getattr__(self, name: str) -> Any:
                # Every method goes to the gateway (TRACE, QUERY...), which routes it as API Gateway
                # does; the standard library would answer one without a do_ method with a 501 page.
                if name.startswith("do_"):
                    return self._serve
                raise AttributeError(name)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug(format, *args)

        return Handler


def _gateway_error(status: int, message: str) -> tuple[int, dict[str, str], bytes]:
    return status, {"content-type": "application/json"}, json.dumps({"message": message}).encode()


def _to_http(response: Any) -> tuple[int, dict[str, str], bytes]:
    if not isinstance(response, dict) or "statusCode" not in response:
        # Payload 2.0 lets a function return a bare value: API Gateway sends it as JSON with 200.
        return 200, {"content-type": "application/json"}, json.dumps(response).encode()
    headers = {name: str(value) for name, value in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[name] = ",".join(str(value) for value in values)
    body = response.get("body") or ""
    payload = base64.b64decode(body) if response.get("isBase64Encoded") else str(body).encode()
    return int(response["statusCode"]), headers, payload
