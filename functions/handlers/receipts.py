"""Delivery receipts: carrier events (SNS, raw delivery into an SQS queue) settle each message's status."""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any

import boto3
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.dal.messages import MessagesTable
from functions.domain.messages import MessageStatus
from functions.logic.receipts import DeliveryEvent, ReceiptOutcome, Receipts
from functions.metrics_catalog import MESSAGES_DELIVERED, MESSAGES_FAILED, REASON_DIMENSION
from functions.observability import count_by_dimension, logger, metrics, tracer
from functions.settings import ReceiptsSettings

processor = BatchProcessor(event_type=EventType.SQS)


@functools.cache
def receipts() -> Receipts:
    settings = ReceiptsSettings.from_env()
    return Receipts(MessagesTable(boto3.resource("dynamodb").Table(settings.messages_table)))


class _Batch:
    """A batch's events, applied together (a message's events share one write); each record's outcome."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.results: dict[str, ReceiptOutcome | Exception] = {}
        parsed: dict[str, DeliveryEvent] = {}
        for record in records:
            try:
                parsed[record["messageId"]] = DeliveryEvent.model_validate_json(record["body"])
            except ValueError as error:  # reported as this record's failure alone
                self.results[record["messageId"]] = error
        self.events = parsed
        self.results.update(zip(parsed, receipts().apply(list(parsed.values())), strict=True))


def handle_record(record: SQSRecord, batch: _Batch, failed_by_reason: Counter[str]) -> None:
    result = batch.results[record.message_id]
    if isinstance(result, Exception):
        raise result
    event = batch.events[record.message_id]
    logger.info("receipt", event_type=event.event_type, outcome=result.value)
    metrics.add_metric(name="DeliveryEvents", unit="Count", value=1)
    final = event.outcome()
    if result is ReceiptOutcome.APPLIED and final is not None:
        status, reason = final
        if status is MessageStatus.DELIVERED:
            metrics.add_metric(name=MESSAGES_DELIVERED, unit="Count", value=1)
        elif reason is not None:
            failed_by_reason[reason.value] += 1


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    failed_by_reason: Counter[str] = Counter()  # emitted once per invocation, one document per reason
    batch = _Batch(event.get("Records", []))
    try:
        return process_partial_response(
            event=event,
            record_handler=lambda record: handle_record(record, batch, failed_by_reason),
            processor=processor,
            context=context,
        )
    finally:
        count_by_dimension(MESSAGES_FAILED, REASON_DIMENSION, failed_by_reason)
