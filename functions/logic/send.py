"""The sender's use case: claim a queued message, hand it to the carrier, record the outcome."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum

from functions.carriers.base import (
    Carrier,
    CarrierRejected,
    CarrierThrottled,
    CarrierUnavailable,
    OutboundSms,
)
from functions.dal.jobs import JobsTable
from functions.dal.messages import MessagesTable
from functions.dal.send_queue import SendWork
from functions.domain.mass import JobStatus
from functions.domain.messages import MessageStatus, RejectReason, utc_now
from functions.logic.ledger import Payment, Wallet
from functions.observability import logger

JOB_STATUS_TTL_SECONDS = 2.0  # how stale a cancellation may be seen: bounded, and cheap per batch


class SendOutcome(StrEnum):
    SENT = "sent"
    REJECTED = "rejected"
    ALREADY_HANDLED = "already_handled"
    INSUFFICIENT_FUNDS = "insufficient_funds"


class RetryLater(Exception):
    """The message stays queued; SQS redelivers it."""


class Sender:
    def __init__(
        self,
        messages: MessagesTable,
        jobs: JobsTable,
        carrier: Carrier,
        wallet: Wallet,
        lease: timedelta,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._messages = messages
        self._jobs = jobs
        self._job_status: dict[str, tuple[float, JobStatus | None]] = {}
        self._carrier = carrier
        self._wallet = wallet
        self._lease = lease
        self._clock = clock

    def _cancelled(self, job_id: str) -> bool:
        """A job's status, read at most once per JOB_STATUS_TTL per sender instance."""
        now = time.monotonic()
        cached = self._job_status.get(job_id)
        if cached is None or now - cached[0] > JOB_STATUS_TTL_SECONDS:
            cached = (now, self._jobs.status(job_id))
            self._job_status[job_id] = cached
        return cached[1] is JobStatus.CANCELLED

    def process(self, work: SendWork) -> SendOutcome:
        now = self._clock()
        # The claim is the guard against sending twice: only one sender moves Pending to In Progress.
        message = self._messages.transition(
            work.message_id,
            MessageStatus.IN_PROGRESS,
            allowed_from=[MessageStatus.PENDING],
            at=now,
            extra={"lease_until": (now + self._lease).isoformat()},
            lease_expired_before=now,
        )
        if message is None:
            logger.info("message already handled", message_id=work.message_id)
            return SendOutcome.ALREADY_HANDLED
        if message.job_id is not None and self._cancelled(message.job_id):
            self._messages.transition(
                message.message_id,
                MessageStatus.FAILED,
                allowed_from=[MessageStatus.IN_PROGRESS],
                at=self._clock(),
                reason=RejectReason.CANCELLED,
            )
            return SendOutcome.REJECTED
        sms = OutboundSms(
            origination_number=message.origination_number,
            destination_number=message.recipient.phone_number,
            body=message.body,
            message_id=message.message_id,
            tenant_id=message.tenant_id,
        )
        # The price is taken just before the carrier; what the balance cannot pay is not sent.
        if self._wallet.debit(message) is Payment.REFUSED:
            self._messages.transition(
                message.message_id,
                MessageStatus.INSUFFICIENT_FUNDS,
                allowed_from=[MessageStatus.IN_PROGRESS],
                at=self._clock(),
            )
            return SendOutcome.INSUFFICIENT_FUNDS
        try:
            carrier_message_id = self._carrier.send(sms)
        except CarrierRejected as rejection:
            self._wallet.refund(message)
            self._messages.transition(
                message.message_id,
                MessageStatus.FAILED,
                allowed_from=[MessageStatus.IN_PROGRESS],
                at=self._clock(),
                reason=rejection.reason,
                detail=rejection.detail,
            )
            return SendOutcome.REJECTED
        except (CarrierThrottled, CarrierUnavailable) as error:
            self._messages.transition(
                message.message_id,
                MessageStatus.PENDING,
                allowed_from=[MessageStatus.IN_PROGRESS],
                at=self._clock(),
                detail=f"retrying: {error}",
            )
            raise RetryLater(str(error)) from error
        self._messages.transition(
            message.message_id,
            MessageStatus.SENT,
            # A fast receipt may already have moved it on; that is fine and final.
            allowed_from=[MessageStatus.IN_PROGRESS],
            at=self._clock(),
            extra={"carrier_message_id": carrier_message_id},
        )
        return SendOutcome.SENT
