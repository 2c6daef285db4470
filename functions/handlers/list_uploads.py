"""The list validation function: an uploaded calling list's arrival (an S3 event on its queue)."""

from __future__ import annotations

import functools
import json
from typing import Any
from urllib.parse import unquote_plus

import boto3
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.s3_event import S3Event
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.dal.list_records import job_of_upload
from functions.handlers.jobs_wiring import JobServices, job_services
from functions.observability import logger, metrics, tracer
from functions.settings import JobsSettings

processor = BatchProcessor(event_type=EventType.SQS)


@functools.cache
def services() -> JobServices:
    return job_services(
        JobsSettings.from_env(), boto3.resource("dynamodb"), boto3.client("sqs"), boto3.client("s3")
    )


def handle_record(record: SQSRecord) -> None:
    body = json.loads(record.body)
    if "Records" not in body:
        return  # S3's test event when the notification is configured
    for s3_record in S3Event(body).records:
        job_id = job_of_upload(unquote_plus(s3_record.s3.get_object.key))
        if job_id is None:
            continue
        outcome = services().calling_lists.validate_upload(job_id)
        logger.info("calling list upload", job_id=job_id, outcome=outcome)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
