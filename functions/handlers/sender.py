"""The sender: SQS batches from both lanes, paced per transport code; partial failures for redelivery."""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import SQSEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from pydantic import ValidationError

from functions.carriers.aws_sms import AwsSmsCarrier
from functions.dal.config import ConfigTable
from functions.dal.jobs import JobsTable
from functions.dal.ledger import LedgerTable
from functions.dal.messages import MessagesTable
from functions.dal.opt_outs import OptOutsTable
from functions.dal.pacing import PacingTable
from functions.dal.send_queue import SQS_BATCH_LIMIT as SEND_BATCH_SIZE
from functions.dal.send_queue import SendQueue, SendWork, parse_work
from functions.domain.pacing import Lane
from functions.logic.ledger import AutoBuyer, LedgerWallet
from functions.logic.pacer import Pacer, PacingSettings
from functions.logic.send import Sender
from functions.metrics_catalog import (
    MESSAGES_FAILED,
    ORIGINATION_DIMENSION,
    PARTS_SENT,
    REASON_DIMENSION,
    outcome_metric,
)
from functions.observability import count_by_dimension, logger, metrics, tracer
from functions.payments.providers import payment_provider
from functions.settings import SenderSettings


@functools.cache
def sender() -> Sender:
    settings = SenderSettings.from_env()
    # Sends at their slots run side by side: enough connections that none waits for one.
    pooled = Config(max_pool_connections=SEND_BATCH_SIZE * 2)
    # One attempt per send: a retried SendTextMessage after a lost answer may send twice, and a retried
    # throttle lands outside its slot; the sender's own backoff decides when to try again.
    carrier_config = pooled.merge(Config(retries={"total_max_attempts": 1}))
    carrier = AwsSmsCarrier(
        boto3.client("pinpoint-sms-voice-v2", config=carrier_config),
        settings.configuration_set,
        settings.message_ttl_seconds,
    )
    dynamodb = boto3.resource("dynamodb", config=pooled)
    sqs = boto3.client("sqs", config=pooled)
    pacer = Pacer(
        PacingTable(dynamodb.Table(settings.pacing_table)),
        ConfigTable(dynamodb.Table(settings.config_table)),
        PacingSettings(
            fill=settings.pacing_fill,
            max_sleep_seconds=settings.pacing_max_sleep_seconds,
            lookahead_seconds=settings.pacing_lookahead_seconds,
        ),
    )
    ledger = LedgerTable(dynamodb.Table(settings.ledger_table))
    wallet = LedgerWallet(ledger, AutoBuyer(ledger, payment_provider(settings.payment_provider)))
    return Sender(
        MessagesTable(dynamodb.Table(settings.messages_table)),
        JobsTable(dynamodb.Table(settings.jobs_table)),
        carrier,
        wallet,
        pacer,
        {
            Lane.TRIGGERED: SendQueue(sqs, settings.send_queue_url),
            Lane.BULK: SendQueue(sqs, settings.bulk_queue_url),
        },
        lease=timedelta(seconds=settings.lease_seconds),
        validity=timedelta(seconds=settings.validity_seconds),
        opt_outs=OptOutsTable(dynamodb.Table(settings.opt_outs_table)),
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, list[dict[str, str]]]:
    works: list[SendWork] = []
    record_of: dict[str, str] = {}
    failures: list[dict[str, str]] = []
    for record in SQSEvent(event).records:
        try:
            work = parse_work(record.body)
        except (ValueError, ValidationError):
            logger.exception("unreadable send work", record_id=record.message_id)
            failures.append({"itemIdentifier": record.message_id})  # to the DLQ, where it can be read
            continue
        works.append(work)
        record_of[work.message_id] = record.message_id
    report = sender().process_batch(works)
    for outcome, count in report.outcomes.items():
        metrics.add_metric(name=outcome_metric(outcome), unit=MetricUnit.Count, value=count)
    count_by_dimension(PARTS_SENT, ORIGINATION_DIMENSION, report.parts_sent)
    count_by_dimension(MESSAGES_FAILED, REASON_DIMENSION, report.failed)
    failures += [{"itemIdentifier": record_of[message_id]} for message_id in report.redeliver]
    return {"batchItemFailures": failures}
