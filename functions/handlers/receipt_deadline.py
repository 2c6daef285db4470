"""Every hour (EventBridge Scheduler): a message still Sent when the carrier's event window passed fails."""

from __future__ import annotations

import functools
from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.dal.messages import MessagesTable
from functions.domain.messages import RejectReason
from functions.logic.receipts import Receipts
from functions.metrics_catalog import MESSAGES_FAILED, REASON_DIMENSION
from functions.observability import count_by_dimension, logger, metrics, tracer
from functions.settings import ReceiptDeadlineSettings

STOP_BEFORE_TIMEOUT_MS = 5_000  # the next hourly run carries on from where this one stopped


@functools.cache
def receipts() -> Receipts:
    settings = ReceiptDeadlineSettings.from_env()
    return Receipts(MessagesTable(boto3.resource("dynamodb").Table(settings.messages_table)))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    ended = receipts().expire_unanswered(
        stop_before=lambda: context.get_remaining_time_in_millis() < STOP_BEFORE_TIMEOUT_MS
    )
    count_by_dimension(MESSAGES_FAILED, REASON_DIMENSION, {RejectReason.UNKNOWN.value: ended})
    logger.info("receipt deadline run", ended=ended)
    return {"ended": ended}
