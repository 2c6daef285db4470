"""The preview function: SQS work items, each one segment of a job's preview computation."""

from __future__ import annotations

import functools
from typing import Any

import boto3
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.dal.preview_queue import parse_preview_work
from functions.handlers.jobs_wiring import JobServices, job_services
from functions.observability import logger, metrics, tracer
from functions.settings import JobsSettings

processor = BatchProcessor(event_type=EventType.SQS)


@functools.cache
def services() -> JobServices:
    return job_services(
        JobsSettings.from_env(), boto3.resource("dynamodb"), boto3.client("sqs"), boto3.client("s3")
    )


def handle_record(record: SQSRecord, lambda_context: LambdaContext) -> None:
    work = parse_preview_work(record.body)
    finished = services().previews.step(work, lambda_context.get_remaining_time_in_millis)
    logger.info("preview step", job_id=work.job_id, generation=work.generation, segment=work.segment,
                segment_finished=finished)  # fmt: skip


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
