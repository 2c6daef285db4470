"""One settings model per function, read once from the environment at cold start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from functions.domain.segments import CARRIER_MAX_CHARACTERS, DEFAULT_MAX_SEGMENTS, MessageLimits
from functions.payments.providers import ProviderName


class _FromEnvironment(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        source = os.environ if environ is None else environ
        fields = {
            field.alias or name: source.get(field.alias or name) for name, field in cls.model_fields.items()
        }
        return cls.model_validate({key: value for key, value in fields.items() if value is not None})


class _MessageLimitSettings(_FromEnvironment):
    """The longest message a function creates (the carrier's limit is the ceiling)."""

    max_message_characters: int = Field(
        default=CARRIER_MAX_CHARACTERS, alias="MESSAGE_MAX_CHARACTERS", ge=1, le=CARRIER_MAX_CHARACTERS
    )
    max_message_segments: int = Field(default=DEFAULT_MAX_SEGMENTS, alias="MESSAGE_MAX_SEGMENTS", ge=1, le=50)

    def message_limits(self) -> MessageLimits:
        return MessageLimits(self.max_message_characters, self.max_message_segments)


class AuthorizerSettings(_FromEnvironment):
    config_table: str = Field(alias="CONFIG_TABLE")


def _states(value: object) -> object:
    """THREE_A_DAY_STATES: two-letter codes separated by commas ("FL,OK,MD")."""
    if isinstance(value, str):
        return frozenset(code.strip().upper() for code in value.split(",") if code.strip())
    return value


States = Annotated[frozenset[str], BeforeValidator(_states)]


class ApiSettings(_MessageLimitSettings):
    config_table: str = Field(alias="CONFIG_TABLE")
    messages_table: str = Field(alias="MESSAGES_TABLE")
    opt_outs_table: str = Field(alias="OPT_OUTS_TABLE")
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE")
    jobs_table: str = Field(alias="JOBS_TABLE")
    fanout_queue_url: str = Field(alias="FANOUT_QUEUE_URL")
    # Previews are computed by the preview function; calling lists' files live in the lists bucket.
    preview_queue_url: str = Field(alias="PREVIEW_QUEUE_URL")
    lists_bucket: str = Field(alias="LISTS_BUCKET")
    # The prepaid balance (operator credits, purchases, auto-buy settings, the ledger).
    ledger_table: str = Field(alias="LEDGER_TABLE")
    payment_provider: ProviderName = Field(alias="PAYMENT_PROVIDER")
    # Inbound: carriers' signed webhooks are queued for the inbound function; replies and webhooks.
    inbound_table: str = Field(alias="INBOUND_TABLE")
    inbound_queue_url: str = Field(alias="INBOUND_QUEUE_URL")
    inbound_webhook_secret_id: str = Field(alias="INBOUND_WEBHOOK_SECRET_ID")
    # Plain-http reply webhooks to this host: the local runtime and tests only.
    allow_loopback_webhooks: bool = Field(default=False, alias="REPLY_WEBHOOK_ALLOW_LOOPBACK")
    # The three-a-day rule: each recipient's recent sends per subject, and the states it applies in.
    subject_sends_table: str = Field(alias="SUBJECT_SENDS_TABLE")
    three_a_day_states: States = Field(alias="THREE_A_DAY_STATES")
    # Tenants' status callbacks and their delivery log.
    callbacks_table: str = Field(alias="CALLBACKS_TABLE")


class FanOutSettings(_FromEnvironment):
    config_table: str = Field(alias="CONFIG_TABLE")
    messages_table: str = Field(alias="MESSAGES_TABLE")
    opt_outs_table: str = Field(alias="OPT_OUTS_TABLE")
    jobs_table: str = Field(alias="JOBS_TABLE")
    lists_bucket: str = Field(alias="LISTS_BUCKET")  # a calling list's records file
    fanout_queue_url: str = Field(alias="FANOUT_QUEUE_URL")
    page_size: int | None = Field(default=None, alias="FANOUT_PAGE_SIZE", gt=0)
    # The fan-out pauses while a code's ready messages hold more than this much of its sending.
    backlog_seconds: int = Field(default=180, alias="FANOUT_BACKLOG_SECONDS", gt=0, le=3_600)
    # A cancelled message that was debited before a retry is refunded.
    ledger_table: str = Field(alias="LEDGER_TABLE")
    subject_sends_table: str = Field(alias="SUBJECT_SENDS_TABLE")
    three_a_day_states: States = Field(alias="THREE_A_DAY_STATES")
    # A page's first messages start their code's dispatcher at once (the stream's kick comes later).
    leases_table: str = Field(alias="LEASES_TABLE")
    dispatcher_function: str = Field(alias="DISPATCHER_FUNCTION")


class JobsSettings(_FromEnvironment):
    """The preview, list validation and scheduled-jobs functions: a job's life before its fan-out."""

    config_table: str = Field(alias="CONFIG_TABLE")
    messages_table: str = Field(alias="MESSAGES_TABLE")
    opt_outs_table: str = Field(alias="OPT_OUTS_TABLE")
    jobs_table: str = Field(alias="JOBS_TABLE")
    ledger_table: str = Field(alias="LEDGER_TABLE")  # the balance a preview states
    fanout_queue_url: str = Field(alias="FANOUT_QUEUE_URL")
    preview_queue_url: str = Field(alias="PREVIEW_QUEUE_URL")
    lists_bucket: str = Field(alias="LISTS_BUCKET")
    # The three-a-day rule's counts, which a preview reads.
    subject_sends_table: str = Field(alias="SUBJECT_SENDS_TABLE")
    three_a_day_states: States = Field(alias="THREE_A_DAY_STATES")


class DispatcherSettings(_FromEnvironment):
    messages_table: str = Field(alias="MESSAGES_TABLE")
    jobs_table: str = Field(alias="JOBS_TABLE")
    config_table: str = Field(alias="CONFIG_TABLE")
    leases_table: str = Field(alias="LEASES_TABLE")
    # How long a message may wait (for its turn, or the carrier) before it fails as expired.
    validity_seconds: int = Field(default=4 * 3600, alias="MESSAGE_VALIDITY_SECONDS", gt=0)
    # How long the next holder waits for a receipt of a claim its dispatcher left in flight.
    receipt_wait_seconds: int = Field(default=300, alias="DISPATCH_RECEIPT_WAIT_SECONDS", gt=0)
    # Added to the one-second window after each call's answer, for a carrier that counts a message
    # later than it answers (the answer times alone keep the windows of one that counts on arrival).
    window_margin_ms: float = Field(default=0.0, alias="DISPATCH_WINDOW_MARGIN_MS", ge=0, le=200)
    idle_seconds: float = Field(default=5.0, alias="DISPATCH_IDLE_SECONDS", gt=0, le=120)
    send_threads: int = Field(default=8, alias="DISPATCH_SEND_THREADS", gt=0, le=256)
    configuration_set: str | None = Field(default=None, alias="SMS_CONFIGURATION_SET")
    message_ttl_seconds: int = Field(default=72 * 3600, alias="MESSAGE_TTL_SECONDS", ge=5, le=259_200)
    # The prepaid balance each message is debited from, and who charges auto-buy purchases.
    ledger_table: str = Field(alias="LEDGER_TABLE")
    payment_provider: ProviderName = Field(alias="PAYMENT_PROVIDER")
    # Ready messages are checked against the opt-out list once more just before they are claimed.
    opt_outs_table: str = Field(alias="OPT_OUTS_TABLE")


class StatusEventsSettings(_FromEnvironment):
    callbacks_table: str = Field(alias="CALLBACKS_TABLE")
    callback_queue_url: str = Field(alias="CALLBACK_QUEUE_URL")
    event_bus: str = Field(alias="STATUS_EVENT_BUS")


class CallbackDeliverySettings(_FromEnvironment):
    callbacks_table: str = Field(alias="CALLBACKS_TABLE")
    callback_queue_url: str = Field(alias="CALLBACK_QUEUE_URL")
    callback_dead_letter_url: str = Field(alias="CALLBACK_DLQ_URL")
    # Plain-http callbacks to this host: the local runtime and tests only.
    allow_loopback_webhooks: bool = Field(default=False, alias="REPLY_WEBHOOK_ALLOW_LOOPBACK")


class KickSettings(_FromEnvironment):
    leases_table: str = Field(alias="LEASES_TABLE")
    dispatcher_function: str = Field(alias="DISPATCHER_FUNCTION")


class ReceiptsSettings(_FromEnvironment):
    messages_table: str = Field(alias="MESSAGES_TABLE")


class ReceiptDeadlineSettings(_FromEnvironment):
    messages_table: str = Field(alias="MESSAGES_TABLE")


class ReleaseSettings(_FromEnvironment):
    messages_table: str = Field(alias="MESSAGES_TABLE")
    config_table: str = Field(alias="CONFIG_TABLE")
    leases_table: str = Field(alias="LEASES_TABLE")
    dispatcher_function: str = Field(alias="DISPATCHER_FUNCTION")


class InboundSettings(_MessageLimitSettings):
    config_table: str = Field(alias="CONFIG_TABLE")
    messages_table: str = Field(alias="MESSAGES_TABLE")
    opt_outs_table: str = Field(alias="OPT_OUTS_TABLE")
    inbound_table: str = Field(alias="INBOUND_TABLE")
    event_bus: str = Field(alias="REPLY_EVENT_BUS")
    allow_loopback_webhooks: bool = Field(default=False, alias="REPLY_WEBHOOK_ALLOW_LOOPBACK")
