"""The HTTP API's Lambda authorizer (simple responses): an API key in, a tenant and permissions out."""

from __future__ import annotations

import functools
from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.dal.config import ConfigTable
from functions.logic.auth import Authenticator
from functions.observability import logger
from functions.settings import AuthorizerSettings


@functools.cache
def authenticator() -> Authenticator:
    settings = AuthorizerSettings.from_env()
    return Authenticator(ConfigTable(boto3.resource("dynamodb").Table(settings.config_table)))


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    try:
        found = authenticator().authenticate(headers.get("authorization"))
    except Exception:  # a dependency failed: API Gateway answers 500; the stack is in the log
        logger.exception("the API key could not be checked")
        raise
    if found is None:
        return {"isAuthorized": False}
    return {"isAuthorized": True, "context": found.to_context()}
