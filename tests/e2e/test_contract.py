"""Schemathesis (every check) against the served OpenAPI document, with a tenant's and the operator's
key: no server error, no answer outside its documented schema, no undocumented status code.

A runtime of its own (the checks change settings, numbers and opt-outs freely), bounded: a few
examples per operation and a time cap per key. bench/contract.py runs the same at a larger bound.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.contract import OPERATOR_KEY, TENANT_KEY, run_schemathesis, summary
from tests.e2e.conftest import LocalService, local_service

pytestmark = pytest.mark.e2e
MAX_EXAMPLES = 3
MAX_SECONDS = 25  # per key: every operation is still reached, with 250 to 300 cases (about 520 at 40 s)


@pytest.fixture(scope="module")
def fresh_service() -> Iterator[LocalService]:
    with local_service("--no-demo-activity") as running:
        yield running


@pytest.mark.parametrize("route", ["/v1/reply-webhook", "/v1/status-callback"])
@pytest.mark.parametrize(
    "url",
    ["https://127.1/", "https://0x7f000001/", "https://2130706433/", "https://[::1]/", "https://localhost/"],
)
def test_the_local_runtime_refuses_a_loopback_url_as_aws_does(
    fresh_service: LocalService, route: str, url: str
):
    # GIVEN the local runtime as started by default (no --allow-loopback-webhooks)
    # WHEN a tenant registers a URL on this machine, in any spelling, for its replies or its statuses
    answer = fresh_service.call("PUT", route, {"url": url}, key=TENANT_KEY)
    # THEN it is refused naming the url, as the deployed stack refuses it, and none is registered
    assert (answer.status, answer.body["field"]) == (400, "url"), answer.body
    assert answer.headers["content-type"] == "application/problem+json"
    assert fresh_service.call("GET", route, key=TENANT_KEY).status == 404


@pytest.mark.parametrize("key", [TENANT_KEY, OPERATOR_KEY], ids=["tenant", "operator"])
def test_the_api_answers_as_its_document_says(fresh_service: LocalService, key: str):
    # WHEN schemathesis drives every documented operation with generated valid and invalid requests
    result = run_schemathesis(
        fresh_service.url, key, max_examples=MAX_EXAMPLES, max_time=MAX_SECONDS, phases="examples,fuzzing"
    )
    # THEN every check passes: no 5xx, every status, content type, header and body as documented
    assert result.returncode == 0, (
        summary(result.stdout) + "\n" + result.stdout[:15000] + result.stderr[-3000:]
    )
