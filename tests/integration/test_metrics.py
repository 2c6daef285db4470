"""The metrics the functions emit (EMF on stdout) are the ones the stack's alarms and dashboard read."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest

from functions.domain.dispatch import DispatchOutcome
from functions.handlers import dispatcher as dispatcher_handler
from functions.metrics_catalog import (
    AUTO_BUY,
    AUTO_BUY_FAILED,
    BALANCE_BELOW_THRESHOLD,
    MESSAGES_ACCEPTED,
    MESSAGES_CARRIER_THROTTLED,
    MESSAGES_DELIVERED,
    MESSAGES_FAILED,
    MESSAGES_INSUFFICIENT_FUNDS,
    MESSAGES_SENT,
    NAMESPACE,
    OLDEST_READY_SECONDS,
    ORIGINATION_DIMENSION,
    PARTS_SENT,
    REASON_DIMENSION,
    outcome_metric,
)
from functions.observability import metrics
from functions.payments.simulator import shared_simulator
from local.demo import DEMO_SENDING_NUMBER, DEMO_TENANT_ID
from local.template import load_template
from tests.integration.balances import start_balance
from tests.integration.conftest import Platform

SECOND_NUMBER = "+18005550101"
BLOCKED = "+12125550187"  # Grace's number: the carrier simulator blocks it here

Emitted = dict[str, set[frozenset[str]]]  # metric name -> the dimension sets it was emitted with


def emitted_metrics(output: str) -> tuple[Emitted, dict[tuple[str, str], float]]:
    """Every EMF document printed: names with their dimension sets, and values by (name, dimension value)."""
    names: Emitted = {}
    values: dict[tuple[str, str], float] = {}
    for line in output.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == NAMESPACE
            dimensions = frozenset(name for names_ in directive["Dimensions"] for name in names_)
            for metric in directive["Metrics"]:
                names.setdefault(metric["Name"], set()).add(dimensions)
                label = "/".join(str(document[d]) for d in sorted(dimensions) if d != "service")
                value = document[metric["Name"]]
                total = sum(value) if isinstance(value, list) else value
                values[(metric["Name"], label)] = values.get((metric["Name"], label), 0) + total
    return names, values


def referenced_metrics(template: dict[str, Any]) -> dict[str, set[frozenset[str]]]:
    """Every metric of our namespace that an alarm or the dashboard reads, with its dimension names."""
    found: dict[str, set[frozenset[str]]] = {}
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::CloudWatch::Alarm" and props.get("Namespace") == NAMESPACE:
            found.setdefault(props["MetricName"], set()).add(
                frozenset(d["Name"] for d in props["Dimensions"])
            )
        if resource["Type"] == "AWS::CloudWatch::Dashboard":
            parts = props["DashboardBody"]["Fn::Join"][1]
            body = json.loads("".join(part if isinstance(part, str) else "token" for part in parts))
            for widget in body["widgets"]:
                for metric in widget["properties"].get("metrics", []):
                    if metric[0] == NAMESPACE:
                        pairs = [item for item in metric[2:] if isinstance(item, str)]
                        found.setdefault(metric[1], set()).add(frozenset(pairs[0::2]))
                    elif isinstance(metric[0], dict) and "SEARCH(" in metric[0].get("expression", ""):
                        expression = metric[0]["expression"]
                        schema = re.search(r"\{([^}]*)\}", expression).group(1).split(",")  # type: ignore[union-attr]
                        name = re.search(r'MetricName="(\w+)"', expression).group(1)  # type: ignore[union-attr]
                        found.setdefault(name, set()).add(frozenset(schema[1:]))
    return found


def dispatch_outcome_metrics() -> set[str]:
    """The metric of every outcome a dispatcher records (some, such as a reconciled claim, are rare)."""
    return {outcome_metric(outcome.value) for outcome in DispatchOutcome}


def test_the_alarms_and_the_dashboard_read_metrics_the_functions_emit(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    metrics.clear_metrics()  # disabled, earlier invocations' metrics were never flushed
    # GIVEN a carrier that blocks Grace's number and takes one part per second on the second code
    platform.simulator.settings.fixed_outcomes[BLOCKED] = "TEXT_BLOCKED"
    platform.simulator.settings.parts_per_second[SECOND_NUMBER] = 1
    capsys.readouterr()

    # WHEN messages are sent, delivered, blocked and throttled
    ada = {"contact_id": "contact-ada", "variables": {"company": "Demo Fiber", "amount": 100}}
    platform.send("/v1/triggers/payment_received", ada)
    platform.send("/v1/triggers/ticket_created", {
        "contact_id": "contact-grace", "variables": {"company": "Demo Fiber", "ticket_number": "7"},
    })  # fmt: skip
    for _ in range(2):
        platform.send("/v1/triggers/payment_received", {**ada, "sending_number": SECOND_NUMBER})
    platform.function("release").invoke({})  # the minute schedule sees the ready messages' ages
    platform.run_dispatchers()
    # The throttled one comes back after its backoff and goes: before the balance below is reset,
    # which would forget the debit it already paid.
    deadline = time.monotonic() + 10
    while len([r for r in platform.simulator.records if r.origination == SECOND_NUMBER]) < 2:
        assert time.monotonic() < deadline, "the throttled message was not retried"
        time.sleep(0.2)
        platform.run_dispatchers()
    platform.deliver_receipts()
    # AND an auto-buy, then one the payment provider declines, leaving the balance below its threshold,
    # and a message the balance cannot pay
    start_balance(platform, 20_000)  # $0.02: two one-part messages and a bit
    auto_buy = {"enabled": True, "threshold_micros": 15_000, "amount_micros": 10_000}
    assert platform.call("PUT", "/v1/balance/auto-buy", auto_buy)[0] == 200
    dispatcher_handler.reset()  # a dispatcher that never saw the old balance (a new container)
    platform.send("/v1/triggers/payment_received", ada)
    platform.run_dispatchers()  # 20,000 - 8,500 crosses 15,000: bought 10,000
    shared_simulator().declined_tenants.add(DEMO_TENANT_ID)
    for _ in range(3):
        platform.send("/v1/triggers/payment_received", ada)
    platform.run_dispatchers()  # one batch: two paid (21,500 crosses again: declined), the third refused
    # AND a dispatcher that reads the balance afresh
    dispatcher_handler.reset()
    platform.send("/v1/triggers/payment_received", ada)
    platform.run_dispatchers()  # refused too: 4,500 left

    # THEN the functions emitted each of these, with the dimensions the dashboard splits by
    names, values = emitted_metrics(capsys.readouterr().out)
    assert values[(MESSAGES_ACCEPTED, "")] == 9
    assert values[(MESSAGES_SENT, "")] == 7  # one of the two on the second code was throttled, then sent
    # each refusal the carrier made (the retry after a 0.25 s pause may be refused again) is counted
    assert platform.simulator.throttled >= 1
    assert values[(MESSAGES_CARRIER_THROTTLED, "")] == platform.simulator.throttled
    assert values[(PARTS_SENT, DEMO_SENDING_NUMBER)] == 5  # one-part messages
    assert values[(PARTS_SENT, SECOND_NUMBER)] == 2
    assert values[(MESSAGES_DELIVERED, "")] == 3
    assert values[(MESSAGES_FAILED, "blocked")] == 1
    assert values[(MESSAGES_INSUFFICIENT_FUNDS, "")] == 2
    assert values[(BALANCE_BELOW_THRESHOLD, "")] >= 1
    assert values[(AUTO_BUY, "")] == 1
    assert values[(AUTO_BUY_FAILED, "")] == 1
    assert names[PARTS_SENT] == {frozenset({"service", ORIGINATION_DIMENSION})}
    assert names[MESSAGES_FAILED] == {frozenset({"service", REASON_DIMENSION})}
    assert values[(MESSAGES_FAILED, "insufficient funds")] == 2
    assert values[(OLDEST_READY_SECONDS, "")] >= 0
    assert names[OLDEST_READY_SECONDS] == {
        frozenset({"service"}),
        frozenset({"service", ORIGINATION_DIMENSION}),
    }

    # AND every metric the alarms and the dashboard read is one of them, with the same dimensions,
    # or a dispatch outcome
    rare = dispatch_outcome_metrics()
    for name, dimension_sets in referenced_metrics(load_template()).items():
        if name in names:
            assert dimension_sets <= names[name], name
        else:
            assert name in rare, f"{name} is read by the stack but nothing emits it"
            assert dimension_sets == {frozenset({"service"})}, name
