"""A transport code's dispatcher: invoked (asynchronously) with ``{"code": ...}`` by a kick.

Runs while the code has work and its lease holds; ends when idle, and hands over to a fresh
invocation near its time limit.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from functions.carriers.aws_sms import AwsSmsCarrier
from functions.dal.claims import ClaimsWriter
from functions.dal.config import ConfigTable
from functions.dal.jobs import JobsTable
from functions.dal.leases import LeasesTable
from functions.dal.ledger import LedgerTable
from functions.dal.messages import MessagesTable
from functions.dal.opt_outs import OptOutsTable
from functions.integrations.dispatcher_invoker import dispatcher_invoker
from functions.logic.dispatch import Dispatcher, DispatchReport, DispatchSettings
from functions.logic.ledger import AutoBuyer, LedgerWallet
from functions.metrics_catalog import (
    MESSAGES_FAILED,
    ORIGINATION_DIMENSION,
    PARTS_SENT,
    REASON_DIMENSION,
    outcome_metric,
)
from functions.observability import count_by_dimension, logger, metrics, tracer
from functions.payments.providers import payment_provider
from functions.settings import DispatcherSettings

CARRIER_CONNECT_TIMEOUT_SECONDS = 3
CARRIER_READ_TIMEOUT_SECONDS = 10  # botocore's default is 60


@functools.cache
def _parts() -> dict[str, Any]:
    """What every dispatcher of this process shares: clients, tables, settings (made once)."""
    settings = DispatcherSettings.from_env()
    pooled = Config(max_pool_connections=max(10, 2 * settings.send_threads))
    dynamodb = boto3.resource("dynamodb", config=pooled)
    messages = MessagesTable(dynamodb.Table(settings.messages_table))
    leases = LeasesTable(dynamodb.Table(settings.leases_table))
    ledger = LedgerTable(dynamodb.Table(settings.ledger_table))
    return {
        "settings": settings,
        "messages": messages,
        "leases": leases,
        "ledger": ledger,
        "claims": ClaimsWriter(messages, ledger, leases),
        "config": ConfigTable(dynamodb.Table(settings.config_table)),
        "jobs": JobsTable(dynamodb.Table(settings.jobs_table)),
        "opt_outs": OptOutsTable(dynamodb.Table(settings.opt_outs_table)),
        "carrier": AwsSmsCarrier(
            # One attempt per send: a retried SendTextMessage after a lost answer may send twice, and a
            # retried throttle lands outside its slot; the dispatcher's own backoff decides when to retry.
            # A call counts against its code until a second after its answer (or its timeout), so a
            # hung call holds the code's parts no longer than the read timeout.
            boto3.client(
                "pinpoint-sms-voice-v2",
                config=pooled.merge(
                    Config(
                        retries={"total_max_attempts": 1},
                        connect_timeout=CARRIER_CONNECT_TIMEOUT_SECONDS,
                        read_timeout=CARRIER_READ_TIMEOUT_SECONDS,
                    )
                ),
            ),
            settings.configuration_set,
            settings.message_ttl_seconds,
        ),
        "wallet": LedgerWallet(ledger, AutoBuyer(ledger, payment_provider(settings.payment_provider))),
    }


def dispatcher(code: str, context: LambdaContext) -> Dispatcher:
    parts = _parts()
    settings: DispatcherSettings = parts["settings"]
    return Dispatcher(
        code,
        parts["messages"],
        parts["leases"],
        parts["claims"],
        parts["config"],
        parts["jobs"],
        parts["opt_outs"],
        parts["wallet"],
        parts["carrier"],
        DispatchSettings(
            validity=timedelta(seconds=settings.validity_seconds),
            receipt_wait=timedelta(seconds=settings.receipt_wait_seconds),
            window_margin_ms=settings.window_margin_ms,
            idle_seconds=settings.idle_seconds,
            send_threads=settings.send_threads,
        ),
        remaining_ms=context.get_remaining_time_in_millis,
        invoker=dispatcher_invoker(lambda: boto3.client("lambda"), context.function_name),
    )


def reset() -> None:
    """Forget the shared parts (a test's tables are new)."""
    _parts.cache_clear()


def emit(report: DispatchReport) -> None:
    for outcome, count in report.outcomes.items():
        metrics.add_metric(name=outcome_metric(outcome), unit=MetricUnit.Count, value=count)
    count_by_dimension(PARTS_SENT, ORIGINATION_DIMENSION, {report.code: report.parts_sent})
    count_by_dimension(MESSAGES_FAILED, REASON_DIMENSION, report.failed)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    code = str(event["code"])
    report = dispatcher(code, context).run()
    emit(report)
    logger.info("dispatcher ended", code=code, started=report.started, handed_over=report.handed_over)
    return {"code": code, "started": report.started, "outcomes": dict(report.outcomes)}
