"""The fan-out: SQS work items that create and queue a confirmed job's messages, page by page."""

from __future__ import annotations

import functools
from typing import Any

import boto3
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.dal.claims import FailureWriter
from functions.dal.config import ConfigTable
from functions.dal.fanout_queue import FanOutQueue, parse_fanout_work
from functions.dal.jobs import JobsTable
from functions.dal.leases import LeasesTable
from functions.dal.ledger import LedgerTable
from functions.dal.list_records import ListRecords
from functions.dal.messages import MessagesTable
from functions.dal.objects import ObjectStore
from functions.dal.opt_outs import OptOutsTable
from functions.dal.subject_sends import SubjectSendsTable
from functions.integrations.dispatcher_invoker import dispatcher_invoker
from functions.logic.compose import Composer
from functions.logic.fanout import FanOut
from functions.logic.kick import Kicker
from functions.logic.three_a_day import ThreeADay
from functions.observability import logger, metrics, tracer
from functions.settings import FanOutSettings

processor = BatchProcessor(event_type=EventType.SQS)


@functools.cache
def fanout() -> FanOut:
    settings = FanOutSettings.from_env()
    dynamodb = boto3.resource("dynamodb")
    sqs = boto3.client("sqs")
    config = ConfigTable(dynamodb.Table(settings.config_table))
    messages = MessagesTable(dynamodb.Table(settings.messages_table))
    opt_outs = OptOutsTable(dynamodb.Table(settings.opt_outs_table))
    three_a_day = ThreeADay(
        SubjectSendsTable(dynamodb.Table(settings.subject_sends_table)), settings.three_a_day_states
    )
    composer = Composer(config, messages, opt_outs, three_a_day=three_a_day)
    return FanOut(
        config,
        JobsTable(dynamodb.Table(settings.jobs_table)),
        messages,
        composer,
        FanOutQueue(sqs, settings.fanout_queue_url),
        ListRecords(ObjectStore(boto3.client("s3"), settings.lists_bucket)),
        opt_outs,
        page_size=settings.page_size,
        backlog_seconds=settings.backlog_seconds,
        failures=FailureWriter(messages, LedgerTable(dynamodb.Table(settings.ledger_table))),
        kicker=Kicker(
            LeasesTable(dynamodb.Table(settings.leases_table)),
            dispatcher_invoker(lambda: boto3.client("lambda"), settings.dispatcher_function),
        ),
    )


def handle_record(record: SQSRecord, lambda_context: LambdaContext) -> None:
    # Powertools passes the invocation's context to a record handler that asks for it.
    result = fanout().run(parse_fanout_work(record.body), lambda_context.get_remaining_time_in_millis)
    logger.info(
        "fan-out step",
        job_id=record.json_body.get("job_id"),
        pages=result.pages,
        messages_created=result.created,
        messages_queued=result.queued,
        finished=result.finished,
        handed_over=result.handed_over,
        paused=result.paused,
        page_busy=result.busy,
    )
    metrics.add_metric(name="FanOutMessagesCreated", unit="Count", value=result.created)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
