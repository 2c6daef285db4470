"""Every minute (EventBridge Scheduler): start the scheduled mass messages and calling lists now due."""

from __future__ import annotations

import functools
from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.handlers.jobs_wiring import JobServices, job_services
from functions.observability import logger, metrics, tracer
from functions.settings import JobsSettings


@functools.cache
def services() -> JobServices:
    return job_services(
        JobsSettings.from_env(), boto3.resource("dynamodb"), boto3.client("sqs"), boto3.client("s3")
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    started = services().mass.start_due()
    logger.info("scheduled jobs run", started=started)
    return {"started": started}
