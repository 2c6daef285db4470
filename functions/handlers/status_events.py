"""The Messages table's stream: each status change to a published status becomes a status event."""

from __future__ import annotations

import functools
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecordEventName
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.dal.callback_queue import CallbackQueue
from functions.dal.callbacks import CallbacksTable
from functions.dal.messages import message_from_item
from functions.domain.messages import Message
from functions.integrations.events import EventBridgePublisher
from functions.logic.callbacks import StatusEvents
from functions.metrics_catalog import STATUS_EVENTS
from functions.observability import logger, metrics, tracer
from functions.settings import StatusEventsSettings


@functools.cache
def status_events() -> StatusEvents:
    settings = StatusEventsSettings.from_env()
    return StatusEvents(
        CallbacksTable(boto3.resource("dynamodb").Table(settings.callbacks_table)),
        CallbackQueue(boto3.client("sqs"), settings.callback_queue_url),
        EventBridgePublisher(boto3.client("events"), settings.event_bus),
    )


def changes(event: dict[str, Any]) -> list[tuple[Message | None, Message]]:
    """Each inserted or updated message with what it was before (None for a new one)."""
    found: list[tuple[Message | None, Message]] = []
    for record in DynamoDBStreamEvent(event).records:
        if record.event_name not in (DynamoDBRecordEventName.INSERT, DynamoDBRecordEventName.MODIFY):
            continue
        stream = record.dynamodb
        if stream is None or not stream.new_image:
            continue
        before = message_from_item(stream.old_image) if stream.old_image else None
        found.append((before, message_from_item(stream.new_image)))
    return found


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    # A failure retries the whole batch: events carry stable ids, so a repeat is harmless.
    report = status_events().publish(changes(event))
    metrics.add_metric(name=STATUS_EVENTS, unit=MetricUnit.Count, value=report.events)
    return {"events": report.events, "queued": report.queued}
