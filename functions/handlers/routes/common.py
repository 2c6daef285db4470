"""What every route module shares: the use cases (built once per container) and the caller's principal."""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable
from typing import Any

import boto3
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from functions.dal.callbacks import CallbacksTable
from functions.dal.config import ConfigTable
from functions.dal.inbound import InboundTable
from functions.dal.inbound_queue import InboundQueue
from functions.dal.jobs import JobsTable
from functions.dal.ledger import LedgerTable
from functions.dal.messages import MessagesTable
from functions.dal.opt_outs import OptOutsTable
from functions.dal.subject_sends import SubjectSendsTable
from functions.domain.errors import Forbidden, Unauthorized
from functions.handlers.jobs_wiring import job_services
from functions.integrations.secrets import SecretValue
from functions.logic.auth import Authenticator, Permission, Principal
from functions.logic.balances import Balances
from functions.logic.callbacks import StatusCallbacks
from functions.logic.carrier_webhook import CarrierWebhook
from functions.logic.compose import Composed, Composer
from functions.logic.configuration import Configuration
from functions.logic.operator import Operator
from functions.logic.opt_out_list import OptOutList
from functions.logic.sent_messages import SentMessages
from functions.logic.tenant_templates import TenantTemplates
from functions.logic.three_a_day import ThreeADay
from functions.logic.transport_codes import TransportCodes
from functions.logic.triggers import TriggeredMessages, TriggerRequest
from functions.observability import logger
from functions.payments.providers import payment_provider
from functions.settings import ApiSettings

IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600


class Services:
    def __init__(self, settings: ApiSettings) -> None:
        dynamodb = boto3.resource("dynamodb")
        self.config = ConfigTable(dynamodb.Table(settings.config_table))
        self.messages = MessagesTable(dynamodb.Table(settings.messages_table))
        opt_outs = OptOutsTable(dynamodb.Table(settings.opt_outs_table))
        three_a_day = ThreeADay(
            SubjectSendsTable(dynamodb.Table(settings.subject_sends_table)), settings.three_a_day_states
        )
        composer = Composer(
            self.config, self.messages, opt_outs, three_a_day=three_a_day, limits=settings.message_limits()
        )
        self.triggers = TriggeredMessages(composer)
        self.configuration = Configuration(self.config)
        self.operator = Operator(self.config, Authenticator(self.config))
        self.transport_codes = TransportCodes(self.config)
        self.templates = TenantTemplates(self.config, composer)
        self.jobs = JobsTable(dynamodb.Table(settings.jobs_table))
        self.sent_messages = SentMessages(self.messages, self.jobs)
        ledger = LedgerTable(dynamodb.Table(settings.ledger_table))
        self.balances = Balances(ledger, self.config, payment_provider(settings.payment_provider))
        # Mass messages and calling lists: previews (inline, then the preview function), files, schedules.
        jobs = job_services(settings, dynamodb, boto3.client("sqs"), boto3.client("s3"), composer)
        self.mass, self.calling_lists = jobs.mass, jobs.calling_lists
        # Inbound: the opt-out list, replies and reply webhooks, carriers' signed webhooks.
        self.settings = settings
        self.opt_out_list = OptOutList(self.config, opt_outs)
        self.inbound = InboundTable(dynamodb.Table(settings.inbound_table))
        webhook_secret = SecretValue(boto3.client("secretsmanager"), settings.inbound_webhook_secret_id)
        self.carrier_webhook = CarrierWebhook(
            webhook_secret.get, InboundQueue(boto3.client("sqs"), settings.inbound_queue_url)
        )
        self.status_callbacks = StatusCallbacks(
            CallbacksTable(dynamodb.Table(settings.callbacks_table)), settings.allow_loopback_webhooks
        )
        # A retry with the same Idempotency-Key returns the first answer; a different body is refused.
        self.idempotency = IdempotencyConfig(
            event_key_jmespath="[tenant_id, idempotency_key]",
            payload_validation_jmespath="request",
            expires_after_seconds=IDEMPOTENCY_WINDOW_SECONDS,
        )
        self.idempotent_trigger = idempotent_function(
            data_keyword_argument="data",
            persistence_store=DynamoDBPersistenceLayer(
                table_name=settings.idempotency_table, boto3_client=boto3.client("dynamodb")
            ),
            config=self.idempotency,
        )(self._trigger)

    def _trigger(self, data: dict[str, Any]) -> dict[str, Any]:
        composed = self.triggers.send(data["tenant_id"], TriggerRequest.model_validate(data["request"]))
        return composed_to_json(composed)


def composed_to_json(composed: Composed) -> dict[str, Any]:
    return {
        "messages": [message.model_dump(mode="json") for message in composed.messages],
        "skipped": [skipped.model_dump(mode="json") for skipped in composed.skipped],
    }


@functools.cache
def services() -> Services:
    return Services(ApiSettings.from_env())


class _PermissionChecked(Exception):
    """Raised by ``principal`` in place of returning while a route is only being authorized."""


_authorizing_only: contextvars.ContextVar[bool] = contextvars.ContextVar("authorizing_only", default=False)


def principal(router: Router, *any_of: Permission) -> Principal:
    """The caller, as the authorizer described it; Forbidden unless it holds one of ``any_of``.

    Every authorized route calls it first, before it touches its arguments.
    """
    event: APIGatewayProxyEventV2 = router.current_event  # type: ignore[assignment]
    context = event.request_context.authorizer.get_lambda or {}
    found = Principal.from_context(context)
    if found is None:
        raise Unauthorized("a valid API key is required (Authorization: Bearer <key>)")
    if not found.permissions & set(any_of):
        names = " or ".join(f"'{permission.value}'" for permission in any_of)
        raise Forbidden(f"the API key lacks the {names} permission")
    if _authorizing_only.get():
        raise _PermissionChecked
    return found


def authorize_route(route_function: Callable[..., Any]) -> None:
    """Check the caller's permission for a route whose request could not be read (a bad body or
    parameter), so that authorization answers first: a key without the permission is a 403, never
    told what was wrong with its request. The route runs only as far as its ``principal`` call, its
    first statement: that call raises Forbidden, or stops the route once the permission is there.
    """
    token = _authorizing_only.set(True)
    try:
        route_function(**dict.fromkeys(inspect.signature(route_function).parameters))
    except _PermissionChecked:
        return
    except (Forbidden, Unauthorized):
        raise
    except Exception:  # the route does not check first; its request's problem is answered as is
        logger.warning("route did not check its permission first", route=route_function.__name__)
    finally:
        _authorizing_only.reset(token)
