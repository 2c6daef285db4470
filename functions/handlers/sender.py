"""The sender: SQS batches of send work, partial batch failures for what must be retried."""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

import boto3
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.carriers.aws_sms import AwsSmsCarrier
from functions.dal.jobs import JobsTable
from functions.dal.ledger import LedgerTable
from functions.dal.messages import MessagesTable
from functions.dal.send_queue import parse_work
from functions.logic.ledger import AutoBuyer, LedgerWallet
from functions.logic.send import Sender, SendOutcome
from functions.observability import logger, metrics, tracer
from functions.payments.providers import payment_provider
from functions.settings import SenderSettings

processor = BatchProcessor(event_type=EventType.SQS)


@functools.cache
def sender() -> Sender:
    settings = SenderSettings.from_env()
    carrier = AwsSmsCarrier(
        boto3.client("pinpoint-sms-voice-v2"), settings.configuration_set, settings.message_ttl_seconds
    )
    dynamodb = boto3.resource("dynamodb")
    messages = MessagesTable(dynamodb.Table(settings.messages_table))
    jobs = JobsTable(dynamodb.Table(settings.jobs_table))
    ledger = LedgerTable(dynamodb.Table(settings.ledger_table))
    wallet = LedgerWallet(ledger, AutoBuyer(ledger, payment_provider(settings.payment_provider)))
    return Sender(messages, jobs, carrier, wallet, lease=timedelta(seconds=settings.lease_seconds))


def handle_record(record: SQSRecord) -> None:
    outcome = sender().process(parse_work(record.body))
    metrics.add_metric(name=f"Messages{outcome.title().replace('_', '')}", unit="Count", value=1)
    if outcome is SendOutcome.SENT:
        logger.debug("sent", message_id=record.message_id)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
