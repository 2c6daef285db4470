"""Status callbacks: each queued status event posted to its tenant's callback, retried with a backoff."""

from __future__ import annotations

import functools
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.dal.callback_queue import CallbackQueue
from functions.dal.callbacks import CallbacksTable
from functions.domain.callbacks import AttemptOutcome
from functions.integrations.webhooks import HttpWebhookPoster
from functions.logic.callbacks import CallbackDelivery, DeliveryBatch, RetryLater, parse_queued
from functions.metrics_catalog import STATUS_CALLBACKS_DELIVERED, STATUS_CALLBACKS_FAILED
from functions.observability import logger, metrics, tracer
from functions.settings import CallbackDeliverySettings

# A batch whose every event must wait is no error: each comes back after its own delay.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@functools.cache
def delivery() -> CallbackDelivery:
    settings = CallbackDeliverySettings.from_env()
    return CallbackDelivery(
        CallbacksTable(boto3.resource("dynamodb").Table(settings.callbacks_table)),
        CallbackQueue(boto3.client("sqs"), settings.callback_queue_url, settings.callback_dead_letter_url),
        HttpWebhookPoster(allow_loopback=settings.allow_loopback_webhooks),
    )


def handle_record(record: SQSRecord, batch: DeliveryBatch) -> None:
    attempt = int(record.attributes.approximate_receive_count or "1")
    queued = parse_queued(record.body, attempt, record.receipt_handle)
    try:
        outcome = delivery().deliver(queued, batch)
    except RetryLater:  # reported as failed: it comes back after its delay
        metrics.add_metric(name=STATUS_CALLBACKS_FAILED, unit=MetricUnit.Count, value=1)
        raise
    logger.info("status callback", event_id=queued.event.event_id, outcome=outcome.value, attempt=attempt)
    if outcome is AttemptOutcome.DELIVERED:
        metrics.add_metric(name=STATUS_CALLBACKS_DELIVERED, unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    batch = DeliveryBatch()
    try:
        return process_partial_response(
            event=event,
            record_handler=lambda record: handle_record(record, batch),
            processor=processor,
            context=context,
        )
    finally:
        delivery().finish(batch)
