"""Inbound messages: what a recipient sent to one of our numbers, and the platform's keyword replies."""

from __future__ import annotations

import hashlib
from datetime import datetime

from pydantic import BaseModel

from functions.domain.keywords import KeywordFamily

AWS_CHANNEL = "aws"  # AWS End User Messaging two-way SMS, through the inbound SNS topic
KEYWORD_REPLY_TRIGGER = "keyword_reply"  # the trigger recorded on the platform's keyword replies
HELP_FALLBACK = "Reply STOP to unsubscribe."


def webhook_channel(carrier: str) -> str:
    return f"webhook:{carrier}"


class InboundSms(BaseModel):
    channel: str  # AWS_CHANNEL, or webhook:<carrier>
    inbound_id: str  # the carrier's id for it, unique within its channel
    from_number: str  # the recipient who wrote, E.164
    to_number: str  # our transport code that received it
    body: str
    received_at: datetime
    in_reply_to: str | None = None  # the carrier's id of the message it answers, when it says

    @property
    def key(self) -> str:
        """Unique across channels: what makes a redelivered inbound message recognizable."""
        return f"{self.channel}:{self.inbound_id}"

    def derived_id(self, prefix: str) -> str:
        """An id that is the same each time this inbound message is processed: retries make nothing twice."""
        return f"{prefix}_{hashlib.sha256(self.key.encode()).hexdigest()[:24]}"


class InboundRecord(BaseModel):
    """An inbound message as stored against its tenant (every one, keyword or reply)."""

    inbound_key: str
    tenant_id: str | None = None  # None: no tenant ever messaged this number from this code
    channel: str
    from_number: str
    to_number: str
    body: str
    received_at: datetime
    keyword: KeywordFamily
    matched: str | None = None  # the keyword or phrase that decided it
    message_id: str | None = None  # the platform's message it answers (the latest sent to this number)
    in_reply_to: str | None = None
    opt_out_scope: str | None = None  # for opt-out and opt-in keywords: the scope changed
    webhook: str | None = None  # the tenant's reply webhook: "delivered", "failed: ..." or None


class ReplyWebhook(BaseModel):
    """Where a tenant wants its replies posted, and the secret the posts are signed with."""

    url: str
    secret: str
    created_at: datetime


def opt_out_confirmation(sender_name: str | None) -> str:
    return (
        f"{_prefix(sender_name)}You are unsubscribed and will receive no more messages from us. "
        "Reply START to resubscribe."
    )


def opt_in_confirmation(sender_name: str | None) -> str:
    return (
        f"{_prefix(sender_name)}You are subscribed again and will receive our messages. "
        "Reply HELP for help, STOP to unsubscribe."
    )


def help_reply(sender_name: str | None, phone: str | None, email: str | None) -> str:
    contact = " ".join(
        part for part in (f"Call {phone}." if phone else "", f"Email {email}." if email else "") if part
    )
    details = f"For help: {contact} " if contact else ""
    return f"{_prefix(sender_name)}{details}Msg&data rates may apply. {HELP_FALLBACK}"


def short_keyword_reply(family: KeywordFamily) -> str:
    """The answer to a keyword without the sender's name or contact details: always one short part."""
    if family is KeywordFamily.OPT_OUT:
        return opt_out_confirmation(None)
    if family is KeywordFamily.OPT_IN:
        return opt_in_confirmation(None)
    return help_reply(None, None, None)


def _prefix(sender_name: str | None) -> str:
    return f"{sender_name}: " if sender_name else ""
