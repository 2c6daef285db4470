"""Every minute (EventBridge Scheduler): release held messages whose time has come, and make sure
every code with ready or in-flight messages has its dispatcher (the kicks' safety net)."""

from __future__ import annotations

import functools
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.dal.config import ConfigTable
from functions.dal.leases import LeasesTable
from functions.dal.messages import MessagesTable
from functions.integrations.dispatcher_invoker import dispatcher_invoker
from functions.logic.kick import DispatchWatch, Kicker
from functions.logic.release import Releaser
from functions.metrics_catalog import OLDEST_READY_SECONDS, ORIGINATION_DIMENSION
from functions.observability import logger, metrics, single_value_by_dimension, tracer
from functions.settings import ReleaseSettings


@functools.cache
def _parts() -> tuple[Releaser, DispatchWatch]:
    settings = ReleaseSettings.from_env()
    dynamodb = boto3.resource("dynamodb")
    messages = MessagesTable(dynamodb.Table(settings.messages_table))
    kicker = Kicker(
        LeasesTable(dynamodb.Table(settings.leases_table)),
        dispatcher_invoker(lambda: boto3.client("lambda"), settings.dispatcher_function),
    )
    watch = DispatchWatch(ConfigTable(dynamodb.Table(settings.config_table)), messages, kicker)
    return Releaser(messages), watch


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    releaser, watch = _parts()
    released = releaser.release_due(context.get_remaining_time_in_millis)
    sweep = watch.sweep()
    metrics.add_metric(name="MessagesReleased", unit=MetricUnit.Count, value=released)
    if sweep.oldest_ready_seconds:
        # Per code for the dashboard; the oldest of all for the alarm.
        single_value_by_dimension(OLDEST_READY_SECONDS, ORIGINATION_DIMENSION, sweep.oldest_ready_seconds)
        oldest = max(sweep.oldest_ready_seconds.values())
        metrics.add_metric(name=OLDEST_READY_SECONDS, unit=MetricUnit.Seconds, value=oldest)
    logger.info("release run", released=released, kicked=sweep.kicked)
    return {"released": released, "kicked": sweep.kicked}
