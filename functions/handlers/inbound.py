"""Inbound messages (two-way SMS through SNS, and carriers' webhooks, both raw in the inbound queue)."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.dal.config import ConfigTable
from functions.dal.inbound import InboundTable
from functions.dal.inbound_queue import TwoWaySms, parse_two_way
from functions.dal.messages import MessagesTable
from functions.dal.opt_outs import OptOutsTable
from functions.domain.inbound import AWS_CHANNEL, InboundSms, webhook_channel
from functions.integrations.events import EventBridgePublisher
from functions.integrations.webhooks import HttpWebhookPoster
from functions.logic.inbound import InboundMessages
from functions.observability import logger, metrics, tracer
from functions.settings import InboundSettings

processor = BatchProcessor(event_type=EventType.SQS)


@functools.cache
def inbound() -> InboundMessages:
    settings = InboundSettings.from_env()
    dynamodb = boto3.resource("dynamodb")
    return InboundMessages(
        ConfigTable(dynamodb.Table(settings.config_table)),
        MessagesTable(dynamodb.Table(settings.messages_table)),
        OptOutsTable(dynamodb.Table(settings.opt_outs_table)),
        InboundTable(dynamodb.Table(settings.inbound_table)),
        EventBridgePublisher(boto3.client("events"), settings.event_bus),
        HttpWebhookPoster(allow_loopback=settings.allow_loopback_webhooks),
        limits=settings.message_limits(),
    )


def to_inbound(payload: TwoWaySms, record: SQSRecord) -> InboundSms:
    # When the queue first had it: the same on every redelivery, unlike the time it is processed.
    sent_ms = record.attributes.sent_timestamp
    received_at = datetime.fromtimestamp(int(sent_ms) / 1000, UTC) if sent_ms else datetime.now(UTC)
    return InboundSms(
        channel=webhook_channel(payload.carrier) if payload.carrier else AWS_CHANNEL,
        inbound_id=payload.inbound_message_id,
        from_number=payload.origination_number,
        to_number=payload.destination_number,
        body=payload.message_body,
        received_at=received_at,
        in_reply_to=payload.previous_published_message_id,
    )


def handle_record(record: SQSRecord) -> None:
    sms = to_inbound(parse_two_way(record.body), record)
    outcome = inbound().receive(sms)
    metrics.add_metric(name=f"Inbound{outcome.value.title().replace('_', '')}", unit="Count", value=1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
