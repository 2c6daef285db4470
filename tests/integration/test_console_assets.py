"""The console's files, served by the api function without a key, with a strict content policy."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from functions.handlers.routes.console import CONSOLE_DIR
from tests.integration.conftest import Platform
from tests.integration.test_list_uploads import request_upload


def get(platform: Platform, path: str) -> tuple[int, dict[str, str], str]:
    status, headers, body = platform.gateway.handle("GET", path, {}, b"")
    return status, {name.lower(): value for name, value in headers.items()}, body.decode()


def test_the_page_and_every_file_it_loads_are_served_without_a_key(platform: Platform):
    status, headers, page = get(platform, "/console")
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    policy = headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert "connect-src 'self' " in policy
    assert headers["x-content-type-options"] == "nosniff"

    loaded = set(re.findall(r'(?:src|href)="console/([^"]+)"', page))
    imported = {
        name
        for script in CONSOLE_DIR.glob("*.js")
        for name in re.findall(r'from "\./([^"]+)"', script.read_text())
    }
    assert {"app.js", "console.css", "icon.svg", "money.js"} <= loaded | imported
    types = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
    for name in loaded | imported:
        status, headers, body = get(platform, f"/console/{name}")
        assert status == 200, name
        assert headers["content-type"].startswith(types[name[name.rindex(".") :]])
        assert body == (CONSOLE_DIR / name).read_text()


def test_the_page_may_send_a_calling_list_file_to_its_upload_url_and_nowhere_else(platform: Platform):
    # GIVEN the pre-signed URL a calling list's upload answers with
    address = urlsplit(request_upload(platform)["upload"]["url"])
    # WHEN the page is served THEN it may connect to this API and to that URL's origin only
    _, headers, _ = get(platform, "/console")
    (connect,) = [d for d in headers["content-security-policy"].split("; ") if d.startswith("connect-src")]
    assert connect.split() == ["connect-src", "'self'", f"{address.scheme}://{address.netloc}"]


def test_nothing_else_is_served_and_nothing_comes_from_elsewhere(platform: Platform):
    for path in (
        "/console/missing.js",
        "/console/index.html",
        "/console/..%2Fsettings.py",
        "/console/app.py",
    ):
        status, headers, _ = get(platform, path)
        assert status == 404, path
        assert headers["content-type"] == "application/problem+json"
    for path in CONSOLE_DIR.iterdir():
        text = re.sub(r'xmlns="[^"]*"', "", path.read_text())  # a namespace name, not a download
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text), (
            f"{path.name} loads from elsewhere"
        )


def test_the_api_explorer_is_served_beside_the_openapi_document(platform: Platform):
    # GIVEN no key WHEN the explorer's address is asked for
    status, headers, _ = get(platform, "/v1/docs")

    # THEN it leads to the console's explorer, which reads the document from the same API
    assert status == 302
    assert headers["location"] == "../console#/api"
    assert "default-src 'none'" in headers["content-security-policy"]
    status, _, document = get(platform, "/v1/openapi.json")
    assert status == 200
    assert '"openapi"' in document


def test_requests_at_once_each_get_their_own_answer(platform: Platform):
    # GIVEN the page's files fetched at once, as a browser loads its modules
    names = [*sorted(path.name for path in CONSOLE_DIR.glob("*.js")), "console.css", "icon.svg"]
    answers: dict[tuple[str, int], tuple[int, dict[str, str], str]] = {}

    def fetch(name: str, round_: int) -> None:
        answers[name, round_] = get(platform, f"/console/{name}")

    # WHEN they are asked for on many threads
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        for future in [pool.submit(fetch, name, r) for r in range(25) for name in names]:
            future.result()

    # THEN each answer is its own file, never another request's
    for (name, _), (status, headers, body) in answers.items():
        assert status == 200, name
        assert body == (CONSOLE_DIR / name).read_text(), f"{name} was answered with another file"
        assert headers["content-type"].startswith(
            {"js": "text/javascript", "css": "text/css", "svg": "image/svg+xml"}[name.rsplit(".", 1)[1]]
        )
