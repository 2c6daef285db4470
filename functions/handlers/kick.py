"""The Messages table's stream: start the dispatcher of each code that gained a ready message."""

from __future__ import annotations

import functools
from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.dal.leases import LeasesTable
from functions.integrations.dispatcher_invoker import dispatcher_invoker
from functions.logic.kick import Kicker, codes_in_stream
from functions.observability import logger, tracer
from functions.settings import KickSettings


@functools.cache
def kicker() -> Kicker:
    settings = KickSettings.from_env()
    leases = LeasesTable(boto3.resource("dynamodb").Table(settings.leases_table))
    return Kicker(leases, dispatcher_invoker(lambda: boto3.client("lambda"), settings.dispatcher_function))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, list[str]]:
    started = kicker().kick(codes_in_stream(event.get("Records", [])))
    return {"started": started}
