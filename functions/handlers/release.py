"""Every minute (EventBridge Scheduler): put held messages whose time has come on the send queue."""

from __future__ import annotations

import functools
from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.dal.messages import MessagesTable
from functions.dal.send_queue import SendQueue
from functions.logic.release import Releaser
from functions.observability import logger, metrics, tracer
from functions.settings import ReleaseSettings


@functools.cache
def releaser() -> Releaser:
    settings = ReleaseSettings.from_env()
    messages = MessagesTable(boto3.resource("dynamodb").Table(settings.messages_table))
    return Releaser(messages, SendQueue(boto3.client("sqs"), settings.send_queue_url))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    released = releaser().release_due(context.get_remaining_time_in_millis)
    metrics.add_metric(name="MessagesReleased", unit="Count", value=released)
    logger.info("release run", released=released)
    return {"released": released}
