"""Inbound messages: STOP, START and HELP keywords, and replies for the tenant's agents.

Whichever way an inbound message came (AWS two-way SMS through SNS, or a carrier's signed webhook),
it is handled here the same way:

- The transport code that received it gives the opt-out scope: global (every tenant) or its DNC
  group. The tenant is the one whose message to this number from this code is the latest (a code
  may serve several tenants); if there is none, the message is the platform's alone.
- An opt-out keyword records the opt-out in that scope (with an audit line); from then on nothing
  more is sent to the number in that scope, including messages already queued (the sender checks
  again). An opt-in keyword removes it from the same scope. Both are confirmed by a reply, except on
  toll-free numbers, whose carrier sends its own. "Yes" (or START) from a number that is not opted out
  is no opt-in: it is a reply like any other. STOP and START take effect in the order they were sent
  (the time the platform first had them), whatever order they are handled in: one sent before the
  number's latest change is recorded and changes nothing. The STOP confirmation is the one message allowed
  after an opt-out: keyword replies are exempt from the sender's opt-out check.
- HELP and INFO get a reply naming the tenant's department phone and email.
- Anything else is stored against the tenant and the message it answers, published as an
  EventBridge event for routing to agents, and posted to the tenant's reply webhook if it has one.

Keyword replies are platform messages: recorded in the tenant's log with the trigger
``keyword_reply``, priced 0 (never debited), sent from the number that received the keyword, even if
SMS is disabled for the tenant. Every step is keyed by the inbound message, so a redelivered one
changes nothing: an opt-out's audit line, the reply's message id and the stored record derive from
it, and a fully processed message is remembered and skipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from functions.dal.config import ConfigTable
from functions.dal.inbound import InboundTable
from functions.dal.messages import MessagesTable
from functions.dal.opt_outs import (
    ChangeResult,
    OptOut,
    OptOutAction,
    OptOutChange,
    OptOutSource,
    OptOutsTable,
    scope_key,
    scope_name,
)
from functions.domain.errors import InvalidInput
from functions.domain.inbound import (
    KEYWORD_REPLY_TRIGGER,
    InboundRecord,
    InboundSms,
    help_reply,
    opt_in_confirmation,
    opt_out_confirmation,
    short_keyword_reply,
)
from functions.domain.keywords import KeywordFamily, KeywordMatch, classify
from functions.domain.messages import Message, MessageStatus, Recipient, StatusChange, utc_now
from functions.domain.phone import to_e164
from functions.domain.segments import DEFAULT_LIMITS, MessageLimits, count_segments
from functions.domain.signatures import display_phone
from functions.domain.signing import sign
from functions.domain.tenants import Tenant
from functions.domain.transport import CodeKind, TransportCode, default_code, normalize_code_number
from functions.observability import logger

PLATFORM_TENANT = "-"  # whose log holds the replies to a number no tenant ever messaged
REPLY_RECEIVED = "SMS reply received"
OPT_OUT_CHANGED = "SMS opt-out changed"


class InboundOutcome(StrEnum):
    OPTED_OUT = "opted_out"
    ALREADY_OPTED_OUT = "already_opted_out"
    OPTED_IN = "opted_in"
    SUPERSEDED = "superseded"  # a STOP or START sent before the latest change of that number: void
    HELP = "help"
    REPLY = "reply"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"  # not a message the platform can act on (a number outside US and Canada)


class EventPublisher(Protocol):
    """Publishes one event (EventBridge in the stack)."""

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


class WebhookPoster(Protocol):
    """POSTs a signed body to a tenant's URL; returns "delivered" or "failed: <why>", never raises."""

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> str: ...


class InboundMessages:
    def __init__(
        self,
        config: ConfigTable,
        messages: MessagesTable,
        opt_outs: OptOutsTable,
        inbound: InboundTable,
        events: EventPublisher,
        webhooks: WebhookPoster,
        clock: Callable[[], datetime] = utc_now,
        limits: MessageLimits = DEFAULT_LIMITS,
    ) -> None:
        self._limits = limits
        self._config = config
        self._messages = messages
        self._opt_outs = opt_outs
        self._inbound = inbound
        self._events = events
        self._webhooks = webhooks
        self._clock = clock

    def receive(self, sms: InboundSms) -> InboundOutcome:
        if self._inbound.seen(sms.key):
            return InboundOutcome.DUPLICATE
        try:
            sms = sms.model_copy(
                update={
                    "from_number": to_e164(sms.from_number, "originationNumber"),
                    "to_number": normalize_code_number(sms.to_number, "destinationNumber"),
                }
            )
        except InvalidInput as error:
            logger.warning("inbound message ignored", inbound=sms.key, reason=error.detail)
            return InboundOutcome.IGNORED
        code = self._config.get_transport_code(sms.to_number) or default_code(sms.to_number)
        answered = self._messages.latest_to(code.number, sms.from_number)
        tenant = self._config.get_tenant(answered.tenant_id) if answered else None
        match = classify(sms.body)
        record = InboundRecord(
            inbound_key=sms.key,
            tenant_id=tenant.tenant_id if tenant else None,
            channel=sms.channel,
            from_number=sms.from_number,
            to_number=sms.to_number,
            body=sms.body,
            received_at=sms.received_at,
            keyword=match.family,
            matched=match.keyword,
            message_id=answered.message_id if answered else None,
            in_reply_to=sms.in_reply_to,
        )
        if match.family is KeywordFamily.OPT_OUT:
            outcome = self._opt_out(sms, code, tenant, answered, record, match)
        elif match.family is KeywordFamily.OPT_IN:
            outcome = self._opt_in(sms, code, tenant, answered, record)
        elif match.family is KeywordFamily.HELP:
            self._inbound.put_record(record)
            self._answer(sms, code, tenant, answered, KeywordFamily.HELP, self._help_text(tenant))
            outcome = InboundOutcome.HELP
        else:
            outcome = self._reply(record, tenant)
        self._inbound.mark_seen(sms.key, outcome.value, self._clock())
        logger.info("inbound message", inbound=sms.key, outcome=outcome.value, tenant_id=record.tenant_id)
        return outcome

    # ---- keywords ----

    def _opt_out(
        self,
        sms: InboundSms,
        code: TransportCode,
        tenant: Tenant | None,
        answered: Message | None,
        record: InboundRecord,
        match: KeywordMatch,
    ) -> InboundOutcome:
        scope = scope_key(code.opt_out_scope)
        tenant_id = tenant.tenant_id if tenant else None
        result = self._opt_outs.record_opt_out(
            OptOut(
                scope=scope,
                phone_number=sms.from_number,
                opted_out_at=sms.received_at,
                source=OptOutSource.KEYWORD.value,
                actor=sms.key,
                tenant_id=tenant_id,
                note=f"replied {match.keyword!r} to {code.number}",
            ),
            self._change(sms, scope, OptOutAction.OPTED_OUT, tenant_id, f"replied {match.keyword!r}"),
        )
        self._inbound.put_record(record.model_copy(update={"opt_out_scope": scope_name(scope)}))
        if result is ChangeResult.SUPERSEDED:  # a START sent after it was handled first: it stands
            return InboundOutcome.SUPERSEDED
        if result is ChangeResult.APPLIED:
            self._publish_change(record, scope, OptOutAction.OPTED_OUT)
        if code.kind is not CodeKind.TOLL_FREE:  # on toll-free numbers the carrier confirms
            self._answer(
                sms, code, tenant, answered, KeywordFamily.OPT_OUT, opt_out_confirmation(_name(tenant))
            )
        return (
            InboundOutcome.OPTED_OUT
            if result is not ChangeResult.UNCHANGED
            else InboundOutcome.ALREADY_OPTED_OUT
        )

    def _opt_in(
        self,
        sms: InboundSms,
        code: TransportCode,
        tenant: Tenant | None,
        answered: Message | None,
        record: InboundRecord,
    ) -> InboundOutcome:
        scope = scope_key(code.opt_out_scope)
        tenant_id = tenant.tenant_id if tenant else None
        result = self._opt_outs.record_opt_in(
            scope,
            sms.from_number,
            self._change(sms, scope, OptOutAction.OPTED_IN, tenant_id, f"replied to {code.number}"),
        )
        if result is ChangeResult.UNCHANGED:
            # Not opted out: nothing to subscribe again to. "Yes" is an answer for the tenant's agents.
            return self._reply(record.model_copy(update={"keyword": KeywordFamily.NONE}), tenant)
        self._inbound.put_record(record.model_copy(update={"opt_out_scope": scope_name(scope)}))
        if result is ChangeResult.SUPERSEDED:  # a STOP sent after it was handled first: it stands
            return InboundOutcome.SUPERSEDED
        if result is ChangeResult.APPLIED:
            self._publish_change(record, scope, OptOutAction.OPTED_IN)
        if code.kind is not CodeKind.TOLL_FREE:
            self._answer(
                sms, code, tenant, answered, KeywordFamily.OPT_IN, opt_in_confirmation(_name(tenant))
            )
        return InboundOutcome.OPTED_IN

    def _change(
        self, sms: InboundSms, scope: str, action: OptOutAction, tenant_id: str | None, note: str
    ) -> OptOutChange:
        return OptOutChange(
            change_id=sms.derived_id("chg"),
            scope=scope,
            phone_number=sms.from_number,
            action=action,
            at=sms.received_at,
            source=OptOutSource.KEYWORD.value,
            actor=sms.key,
            tenant_id=tenant_id,
            note=note,
        )

    def _help_text(self, tenant: Tenant | None) -> str:
        if tenant is None:
            return help_reply(None, None, None)
        department = None
        for signature_id in (tenant.default_triggered_signature_id, tenant.default_mass_signature_id):
            signature = self._config.get_signature(tenant.tenant_id, signature_id) if signature_id else None
            if signature is not None:
                department = self._config.get_department(tenant.tenant_id, signature.department_id)
                if department is not None:
                    break
        if department is None:
            departments = self._config.list_departments(tenant.tenant_id)
            department = departments[0] if departments else None
        if department is None:
            return help_reply(tenant.name, None, None)
        return help_reply(tenant.name, display_phone(department.phone_number), department.email)

    def _answer(
        self,
        sms: InboundSms,
        code: TransportCode,
        tenant: Tenant | None,
        answered: Message | None,
        family: KeywordFamily,
        body: str,
    ) -> None:
        """A keyword reply from the number that received the keyword, through the normal send path."""
        now = self._clock()
        count = count_segments(body)
        if self._limits.excess(body, count) is not None:  # a long tenant name or email: the short form
            body = short_keyword_reply(family)
            count = count_segments(body)
        recipient = (
            answered.recipient
            if answered is not None
            else Recipient(
                contact_id="",
                name="",
                contact_type="",
                related_entity_type="",
                related_entity_id="",
                related_entity_name="",
                phone_number=sms.from_number,
            )
        )
        message = Message(
            message_id=sms.derived_id("msg"),
            tenant_id=tenant.tenant_id if tenant else PLATFORM_TENANT,
            created_at=now,
            status=MessageStatus.PENDING,
            recipient=recipient.model_copy(update={"phone_number": sms.from_number}),
            origination_number=code.number,
            template_key=f"keyword_reply.{family.value}",
            template_version=1,
            trigger=KEYWORD_REPLY_TRIGGER,
            body=body,
            encoding=count.encoding,
            segments=count.segments,
            price_micros=0,
            history=[StatusChange(status=MessageStatus.PENDING, at=now, detail=f"answers {sms.key}")],
        )
        # Written ready: the code's dispatcher sends it (a redelivered inbound message writes nothing).
        self._messages.put_if_absent(message)

    # ---- replies ----

    def _reply(self, record: InboundRecord, tenant: Tenant | None) -> InboundOutcome:
        self._inbound.put_record(record)  # stored first: a failing webhook or bus loses nothing
        self._events.publish(REPLY_RECEIVED, reply_document(record))
        webhook = self._inbound.get_webhook(tenant.tenant_id) if tenant else None
        if webhook is not None:
            # The poster checks the URL again and the address its name resolves to, then posts there.
            body = json.dumps(reply_document(record)).encode()
            timestamp = int(self._clock().timestamp())
            headers = {
                "Content-Type": "application/json",
                "X-Timestamp": str(timestamp),
                "X-Signature": sign(webhook.secret, timestamp, body),
            }
            outcome = self._webhooks.post(webhook.url, body, headers)
            self._inbound.set_webhook_outcome(record, outcome)
            if outcome != "delivered":
                logger.warning("reply webhook failed", tenant_id=record.tenant_id, outcome=outcome)
        return InboundOutcome.REPLY

    def _publish_change(self, record: InboundRecord, scope: str, action: OptOutAction) -> None:
        self._events.publish(
            OPT_OUT_CHANGED,
            {
                "action": action.value,
                "scope": scope_name(scope),
                "phone_number": record.from_number,
                "tenant_id": record.tenant_id,
                "source": OptOutSource.KEYWORD.value,
                "inbound_id": record.inbound_key,
                "to_number": record.to_number,
                "at": record.received_at.isoformat(),
            },
        )


def reply_document(record: InboundRecord) -> dict[str, Any]:
    """A reply as events, webhooks and the API show it."""
    return {
        "id": record.inbound_key,
        "tenant_id": record.tenant_id,
        "from_number": record.from_number,
        "to_number": record.to_number,
        "body": record.body,
        "received_at": record.received_at.isoformat(),
        "message_id": record.message_id,
        "keyword": record.keyword.value,
    }


def _name(tenant: Tenant | None) -> str | None:
    return tenant.name if tenant else None
