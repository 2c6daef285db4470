"""The web console: one HTML page and its static files, served without a key (the page signs in)."""

from __future__ import annotations

import functools
import re
from http import HTTPStatus
from pathlib import Path

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from functions.domain.errors import NotFound
from functions.handlers.contract import PUBLIC, answers
from functions.handlers.routes.common import services
from functions.public_routes import CONSOLE_PATH, EXPLORER_PATH

router = Router()

CONSOLE_DIR = Path(__file__).resolve().parents[2] / "console"
PAGE = "index.html"
# Relative, so it holds wherever the API is mounted: /v1/docs -> /console#/api.
EXPLORER_LOCATION = "../console#/api"
_ASSET_NAME = re.compile(r"^[a-z0-9-]+\.(?:js|css|svg)$")
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
_TEXT = {"schema": {"type": "string"}}
ASSET_CONTENT = {kind.split(";")[0]: _TEXT for suffix, kind in _CONTENT_TYPES.items() if suffix != ".html"}
# Everything the page loads comes from here; it talks only to this API, and sends a calling list's
# file to the lists bucket (the origin of its pre-signed URLs, added where the page is served).
CONTENT_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' {upload_origin}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def security_headers() -> dict[str, str]:
    policy = CONTENT_POLICY.format(upload_origin=services().calling_lists.upload_origin())
    return {"Content-Security-Policy": policy, **SECURITY_HEADERS}


@functools.cache
def _read(name: str) -> str | None:
    path = CONSOLE_DIR / name
    return path.read_text(encoding="utf-8") if path.is_file() else None


def _serve(name: str) -> Response[str]:
    body = _read(name)
    if body is None:
        raise NotFound(f"the console has no file '{name}'", "path")
    content_type = _CONTENT_TYPES[Path(name).suffix]
    return Response(status_code=200, content_type=content_type, body=body, headers=security_headers())


@router.get(
    CONSOLE_PATH,
    summary="The web console (it signs in with an API key)",
    responses=answers(HTTPStatus.OK, "The page", public=True, content={"text/html": _TEXT}),
    security=PUBLIC,
)
def console_page() -> Response[str]:
    return _serve(PAGE)


@router.get(
    f"{CONSOLE_PATH}/<asset>",
    summary="The console's scripts, stylesheet and icon",
    responses=answers(HTTPStatus.OK, "The file", HTTPStatus.NOT_FOUND, public=True, content=ASSET_CONTENT),
    security=PUBLIC,
)
def console_asset(asset: str) -> Response[str]:
    if not _ASSET_NAME.fullmatch(asset):
        raise NotFound(f"the console has no file '{asset}'", "path")
    return _serve(asset)


@router.get(EXPLORER_PATH, include_in_schema=False)
def api_explorer() -> Response[str]:
    """The API explorer lives in the console (one set of files, one content policy)."""
    headers = {**security_headers(), "Location": EXPLORER_LOCATION}
    return Response(status_code=302, content_type="text/plain; charset=utf-8", body="", headers=headers)
