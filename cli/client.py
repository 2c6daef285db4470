"""A small client of the HTTP API: JSON in and out, problem documents raised as ApiError."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

TIMEOUT_SECONDS = 30.0


class ApiError(Exception):
    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        detail = problem.get("detail") or problem.get("message") or "request refused"
        field = f" [{problem['field']}]" if problem.get("field") else ""
        super().__init__(f"{status} {problem.get('title', 'Error')}: {detail}{field}")


class Unreachable(Exception):
    """The API did not answer (wrong URL, service down)."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: Any  # parsed JSON, or text for other content types


def path_part(value: str) -> str:
    """One path segment, escaped ('+1800...' keeps its plus as %2B)."""
    return quote(value, safe="")


class ApiClient:
    def __init__(self, base_url: str, api_key: str, timeout: float = TIMEOUT_SECONDS) -> None:
        self._base = base_url.rstrip("/")
        self._key = api_key
        self._timeout = timeout

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        given = {name: value for name, value in (query or {}).items() if value not in (None, "")}
        url = self._base + path + (f"?{urlencode(given)}" if given else "")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - the operator's URL
        request.add_header("Authorization", f"Bearer {self._key}")
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                return _answer(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as error:
            answer = _answer(error.code, dict(error.headers or {}), error.read())
            problem = answer.body if isinstance(answer.body, dict) else {"detail": str(answer.body)}
            raise ApiError(error.code, problem) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            raise Unreachable(f"{url}: {getattr(error, 'reason', error)}") from None

    def get(self, path: str, **query: Any) -> Any:
        return self.call("GET", path, query=query).body

    def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self.call("POST", path, body if body is not None else {}, headers=headers).body

    def put(self, path: str, body: Any) -> Any:
        return self.call("PUT", path, body).body

    def delete(self, path: str) -> Any:
        return self.call("DELETE", path).body


def _answer(status: int, headers: dict[str, str], payload: bytes) -> Answer:
    lowered = {name.lower(): value for name, value in headers.items()}
    text = payload.decode("utf-8", errors="replace")
    if "json" in lowered.get("content-type", "") and text:
        return Answer(status, lowered, json.loads(text))
    return Answer(status, lowered, text or None)
