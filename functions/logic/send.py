"""The sender's use case: claim a batch of queued messages, pace them per transport code, send, record.

Per batch: put back, unclaimed, the mass messages whose code is booked beyond the lookahead; claim
each of the others (the guard against sending twice), check the claimed numbers against
the opt-out list in their sending numbers' scopes once more (one BatchGetItem: a number that opted
out after its message was queued is not sent to), debit each price (what the balance cannot pay
becomes ``Insufficient funds`` and is not sent), reserve slots for each transport code in one read
and one conditional write, then send each message at its slot. A message whose
slot is further off than a sender should wait gets a ticket (its reservation) and goes back on the
triggered lane's queue with a delay; it is a new SQS message, so waiting never burns receives
towards the DLQ.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from functions.carriers.base import (
    Carrier,
    CarrierRejected,
    CarrierThrottled,
    CarrierUnavailable,
    OutboundSms,
)
from functions.dal.jobs import JobsTable
from functions.dal.messages import MessagesTable
from functions.dal.opt_outs import scope_key
from functions.dal.pacing import PacingContention
from functions.dal.send_queue import EnqueueFailed, SendQueue, SendWork, Ticket
from functions.domain.inbound import KEYWORD_REPLY_TRIGGER
from functions.domain.mass import JobStatus
from functions.domain.messages import Message, MessageStatus, RejectReason, utc_now
from functions.domain.pacing import MICROS, Deferred, Expired, Lane, SlotRequest
from functions.logic.ledger import LedgerBusy, Payment, Wallet
from functions.logic.pacer import Pacer, epoch_us
from functions.observability import logger

JOB_STATUS_TTL_SECONDS = 2.0  # how stale a cancellation may be seen: bounded, and cheap per batch
MAX_BACKOFF_SECONDS = 900
SEND_ROUNDS = 2  # a message that missed its slot (a slow moment) reserves once more before requeueing


class SendOutcome(StrEnum):
    SENT = "sent"
    REJECTED = "rejected"
    ALREADY_HANDLED = "already_handled"
    INSUFFICIENT_FUNDS = "insufficient_funds"


class RetryLater(Exception):
    """The message went back on its queue (waiting for its slot, or the carrier): it comes again."""


@dataclass
class BatchReport:
    outcomes: Counter[str] = field(default_factory=Counter)
    parts_sent: Counter[str] = field(default_factory=Counter)  # per transport code
    failed: Counter[str] = field(default_factory=Counter)  # per reject reason
    # Work SQS must deliver again (its message could not be put back on a queue).
    redeliver: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Claimed:
    work: SendWork
    message: Message

    @property
    def lane(self) -> Lane:
        return lane_of(self.message)


@dataclass(frozen=True)
class _Slotted:
    item: _Claimed
    at_us: int
    tag: int


@dataclass(frozen=True)
class _Requeue:
    claimed: _Claimed
    delay_seconds: int = 0  # a ticket's delay is counted from its slot when it is queued
    ticket: Ticket | None = None
    attempt: int = 0


class OptOutChecker(Protocol):
    """Which (scope, number) pairs are opted out (the OptOuts table, in one BatchGetItem)."""

    def opted_out_keys(self, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]: ...


def lane_of(message: Message) -> Lane:
    return Lane.BULK if message.job_id else Lane.TRIGGERED


class Sender:
    def __init__(
        self,
        messages: MessagesTable,
        jobs: JobsTable,
        carrier: Carrier,
        wallet: Wallet,
        pacer: Pacer,
        queues: dict[Lane, SendQueue],
        lease: timedelta,
        validity: timedelta,
        clock: Callable[[], datetime] = utc_now,
        now_us: Callable[[], int] = epoch_us,
        sleep: Callable[[float], None] = time.sleep,
        opt_outs: OptOutChecker | None = None,
    ) -> None:
        self._opt_outs = opt_outs
        self._messages = messages
        self._jobs = jobs
        self._job_status: dict[str, tuple[float, JobStatus | None]] = {}
        self._carrier = carrier
        self._wallet = wallet
        self._pacer = pacer
        self._queues = queues
        self._lease = lease
        self._validity = validity
        self._clock = clock
        self._now_us = now_us
        self._sleep = sleep

    # ---- the batch ----

    def process(self, work: SendWork) -> SendOutcome:
        """One message as a batch of one: its outcome, or RetryLater when it went back on a queue."""
        report = self.process_batch([work])
        for outcome in SendOutcome:
            if report.outcomes[outcome.value]:
                return outcome
        raise RetryLater(", ".join(report.outcomes))

    def process_batch(self, works: Sequence[SendWork]) -> BatchReport:
        report = BatchReport()
        requeues: list[_Requeue] = []
        started = self._now_us()
        works = self._wait_for_lookahead(works, report)
        # Claims in parallel: a ticket comes back shortly before its slot, so the batch must be quick.
        with ThreadPoolExecutor(max_workers=max(1, len(works)), thread_name_prefix="claim") as pool:
            claims = list(pool.map(lambda work: self._claim(work, report), works))
        claimed = [c for c in claims if c is not None]
        claimed = self._drop_opted_out(claimed, report)
        claimed = self._pay(claimed, requeues, report)
        scheduled, fresh = self._standing_tickets(claimed, requeues, report)
        if any(item.work.ticket is not None for item in claimed):
            # What a returning ticket needs before its send: it must come back at least this early.
            self._pacer.observe_preparation(self._now_us() - started)
        missed: list[_Slotted] = []
        for _ in range(SEND_ROUNDS):
            # A message that missed its slot gives it back as it reserves again: it keeps its turn.
            scheduled += self._reserve(fresh + [entry.item for entry in missed], requeues, report, missed)
            missed = self._send_all(scheduled, requeues, report)
            fresh, scheduled = [], []
        requeues.extend(_Requeue(entry.item, delay_seconds=0) for entry in missed)
        self._put_back(requeues, report)
        return report

    def _wait_for_lookahead(self, works: Sequence[SendWork], report: BatchReport) -> list[SendWork]:
        """Mass work for a code booked beyond the lookahead goes back on the queue, unclaimed.

        It returns when the code's bookings come within the lookahead, spread over half of it so
        the waiting messages do not all return at once. Costs an SQS message, no write.
        """
        by_code: dict[str, list[SendWork]] = defaultdict(list)
        for work in works:
            if work.code is not None and work.ticket is None and work.attempt == 0:
                by_code[work.code].append(work)
        lookahead_us = int(self._pacer.settings.lookahead_seconds * MICROS)
        spread = max(1, int(self._pacer.settings.lookahead_seconds / 2))
        waiting: list[tuple[SendWork, int]] = []
        for code, fresh in by_code.items():
            booked_until = self._pacer.booked_until_us(code)
            beyond_us = (booked_until or 0) - self._now_us() - lookahead_us
            if beyond_us > 0:
                wait = int(_seconds(beyond_us)) + 1
                waiting += [(work, wait + secrets.randbelow(spread)) for work in fresh]
        if not waiting:
            return list(works)
        try:
            self._queues[Lane.BULK].enqueue_delayed(waiting)
        except EnqueueFailed as error:
            report.redeliver.extend(error.message_ids)  # SQS brings back the originals
        report.outcomes["waiting_unclaimed"] += len(waiting)
        held = {work.message_id for work, _ in waiting}
        return [work for work in works if work.message_id not in held]

    def _claim(self, work: SendWork, report: BatchReport) -> _Claimed | None:
        now = self._clock()
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
            report.outcomes["already_handled"] += 1
            return None
        if message.job_id is not None and self._cancelled(message.job_id):
            self._fail_unsent(message, RejectReason.CANCELLED, None, report)
            return None
        if now > self._valid_until(message):
            self._fail_unsent(message, RejectReason.EXPIRED, "waited longer than the validity period", report)
            return None
        return _Claimed(work, message)

    def _drop_opted_out(self, claimed: list[_Claimed], report: BatchReport) -> list[_Claimed]:
        """Opt-out wins, also over a message queued before it: such a message fails, unsent.

        A keyword reply (the STOP confirmation above all) answers the recipient's own message and goes.
        """
        if self._opt_outs is None:
            return claimed
        keys = {
            item.message.message_id: (
                scope_key(self._pacer.code(item.message.origination_number).opt_out_scope),
                item.message.recipient.phone_number,
            )
            for item in claimed
            if item.message.trigger != KEYWORD_REPLY_TRIGGER
        }
        opted_out = self._opt_outs.opted_out_keys(keys.values()) if keys else set()
        kept = []
        for item in claimed:
            if keys.get(item.message.message_id) in opted_out:
                report.outcomes["opted_out"] += 1
                self._fail_unsent(
                    item.message, RejectReason.OPTED_OUT, "the number opted out after it was queued", report
                )
            else:
                kept.append(item)
        return kept

    def _standing_tickets(
        self, claimed: list[_Claimed], requeues: list[_Requeue], report: BatchReport
    ) -> tuple[list[_Slotted], list[_Claimed]]:
        """Tickets whose reservation still stands keep their slot; the rest reserve again.

        A ticket back long before its slot waits on the queue again, not in a sender: a sleeping
        sender holds one of its lane's few concurrent instances.
        """
        by_code: dict[str, list[_Claimed]] = defaultdict(list)
        fresh: list[_Claimed] = []
        for item in claimed:
            ticket = item.work.ticket
            if ticket is not None and ticket.code == item.message.origination_number:
                by_code[ticket.code].append(item)
            else:
                fresh.append(item)
        scheduled: list[_Slotted] = []
        for code, items in by_code.items():
            standing = self._pacer.standing(code, {item.work.ticket.tag for item in items})  # type: ignore[union-attr]
            for item in items:
                ticket = item.work.ticket
                assert ticket is not None
                early_us = ticket.at_us - self._now_us() - self._pacer.ticket_lead_us()
                if ticket.tag in standing and early_us > self._pacer.settings.max_sleep_seconds * MICROS:
                    report.outcomes["ticket_early"] += 1
                    requeues.append(_Requeue(item, ticket=ticket))
                elif ticket.tag in standing:
                    scheduled.append(_Slotted(item, ticket.at_us, ticket.tag))
                else:
                    report.outcomes["ticket_moved"] += 1
                    fresh.append(item)  # a triggered message took its place
        return scheduled, fresh

    def _reserve(
        self,
        fresh: list[_Claimed],
        requeues: list[_Requeue],
        report: BatchReport,
        missed: Sequence[_Slotted] = (),
    ) -> list[_Slotted]:
        by_code: dict[str, list[_Claimed]] = defaultdict(list)
        for item in fresh:
            by_code[item.message.origination_number].append(item)
        settings = self._pacer.settings
        scheduled: list[_Slotted] = []
        for code, items in by_code.items():
            released = {entry.tag for entry in missed if entry.item.message.origination_number == code}
            requests = [
                SlotRequest(item.message.segments, item.lane, _us(self._valid_until(item.message)))
                for item in items
            ]
            try:
                results, _ = self._pacer.reserve(code, requests, released)
            except PacingContention:
                report.outcomes["pacing_contention"] += len(items)
                requeues.extend(_Requeue(item, delay_seconds=1) for item in items)
                continue
            now = self._now_us()
            for item, result in zip(items, results, strict=True):
                if isinstance(result, Expired):
                    self._wallet.refund(item.message)  # debited for this round
                    self._fail(item.message, RejectReason.EXPIRED, "no slot before the validity ends", report)
                elif isinstance(result, Deferred):
                    report.outcomes["deferred"] += 1
                    wait = _seconds(result.until_us - now) - settings.ticket_lead_seconds
                    requeues.append(_Requeue(item, delay_seconds=max(1, int(wait))))
                elif result.at_us - now <= settings.max_sleep_seconds * MICROS:
                    scheduled.append(_Slotted(item, result.at_us, result.tag))
                else:
                    report.outcomes["ticketed"] += 1
                    ticket = Ticket(code=code, at_us=result.at_us, tag=result.tag)
                    requeues.append(_Requeue(item, ticket=ticket))
        return scheduled

    # ---- sending at the slot ----

    def _send_all(
        self, scheduled: list[_Slotted], requeues: list[_Requeue], report: BatchReport
    ) -> list[_Slotted]:
        """Each message at its own slot, in parallel (one slow call must not make the next late).

        Returns the messages that missed their slot: sending late could crowd the next window.
        """
        if not scheduled:
            return []
        scheduled.sort(key=lambda entry: entry.at_us)
        # A pool per batch: batches running side by side (as locally) never queue behind each other.
        with ThreadPoolExecutor(max_workers=len(scheduled), thread_name_prefix="send") as pool:
            results = list(pool.map(lambda entry: self._send_at(entry.item, entry.at_us), scheduled))
        missed = []
        for entry, result in zip(scheduled, results, strict=True):
            if result is None:
                report.outcomes["slot_missed"] += 1
                missed.append(entry)
            else:
                self._record(entry.item, result, requeues, report)
        return missed

    def _pay(self, claimed: list[_Claimed], requeues: list[_Requeue], report: BatchReport) -> list[_Claimed]:
        """Debit each message's price before it takes a slot: what the balance cannot pay never does.

        In parallel, as the debits are independent transactions. A debit is idempotent per message,
        so a message that comes round again (a ticket, a retry) is never charged twice.
        """
        # A ticket is only ever given to a message already paid for.
        paid = [item for item in claimed if item.work.ticket is not None]
        unpaid = [item for item in claimed if item.work.ticket is None]
        if not unpaid:
            return paid
        with ThreadPoolExecutor(max_workers=len(unpaid), thread_name_prefix="debit") as pool:
            payments = list(pool.map(self._debit, unpaid))
        for item, payment in zip(unpaid, payments, strict=True):
            if payment is Payment.PAID:
                paid.append(item)
            elif payment is Payment.REFUSED:
                self._record(item, Payment.REFUSED, requeues, report)
            else:
                self._record(item, CarrierUnavailable("the balance stayed contended"), requeues, report)
        return paid

    def _debit(self, item: _Claimed) -> Payment | None:
        try:
            return self._wallet.debit(item.message)
        except LedgerBusy:
            return None  # not charged, not sent: retried with a backoff

    def _send_at(self, item: _Claimed, at_us: int) -> str | Exception | None:
        """The carrier's message id, its refusal, or None when the slot was missed."""
        wait = at_us - self._now_us()
        self._pacer.observe_slack(wait)
        if wait > 0:
            self._sleep(wait / MICROS)
        if self._now_us() - at_us > self._pacer.settings.late_tolerance_us:
            return None  # sending now could crowd the next window: take a new slot
        message = item.message
        sms = OutboundSms(
            origination_number=message.origination_number,
            destination_number=message.recipient.phone_number,
            body=message.body,
            message_id=message.message_id,
            tenant_id=message.tenant_id,
        )
        try:
            return self._carrier.send(sms)
        except (CarrierRejected, CarrierThrottled, CarrierUnavailable) as error:
            return error

    def _record(
        self, item: _Claimed, result: str | Exception | Payment, requeues: list[_Requeue], report: BatchReport
    ) -> None:
        """Where a message goes after its debit or its carrier call."""
        message = item.message
        if result is Payment.REFUSED:
            self._messages.move(
                message.message_id,
                MessageStatus.INSUFFICIENT_FUNDS,
                allowed_from=[MessageStatus.IN_PROGRESS],
                at=self._clock(),
            )
            report.outcomes[SendOutcome.INSUFFICIENT_FUNDS.value] += 1
        elif isinstance(result, CarrierRejected):
            self._wallet.refund(message)
            self._fail(message, result.reason, result.detail, report)
        elif isinstance(result, CarrierThrottled | CarrierUnavailable):
            kind = "carrier_throttled" if isinstance(result, CarrierThrottled) else "carrier_unavailable"
            report.outcomes[kind] += 1
            logger.warning("carrier refused for now", kind=kind, message_id=message.message_id)
            attempt = item.work.attempt + 1
            requeues.append(
                _Requeue(item, delay_seconds=min(MAX_BACKOFF_SECONDS, 2**attempt), attempt=attempt)
            )
        elif isinstance(result, str):
            self._messages.move(
                message.message_id,
                MessageStatus.SENT,
                # A fast receipt may already have moved it on; that is fine and final.
                allowed_from=[MessageStatus.IN_PROGRESS],
                at=self._clock(),
                extra={"carrier_message_id": result},
            )
            report.outcomes["sent"] += 1
            report.parts_sent[message.origination_number] += message.segments
        else:
            raise result

    # ---- outcomes ----

    def _fail(self, message: Message, reason: RejectReason, detail: str | None, report: BatchReport) -> None:
        self._messages.move(
            message.message_id,
            MessageStatus.FAILED,
            allowed_from=[MessageStatus.IN_PROGRESS],
            at=self._clock(),
            reason=reason,
            detail=detail,
        )
        report.outcomes["rejected"] += 1
        report.failed[reason.value] += 1

    def _fail_unsent(
        self, message: Message, reason: RejectReason, detail: str | None, report: BatchReport
    ) -> None:
        """Failed before the carrier had it: a debit taken on an earlier round goes back."""
        claims = sum(1 for change in message.history if change.status is MessageStatus.IN_PROGRESS)
        if claims > 1:  # claimed before this round, so it may have been debited then
            self._wallet.refund(message)
        self._fail(message, reason, detail, report)

    def _put_back(self, requeues: list[_Requeue], report: BatchReport) -> None:
        """Back to Pending, then onto a queue as a new SQS message with its delay.

        A ticket goes on the triggered lane's queue whatever its message: it must be picked up the
        moment it is due, not behind a mass send's unticketed backlog on the bulk queue.
        """
        by_lane: dict[Lane, list[tuple[SendWork, int]]] = defaultdict(list)
        for requeue in requeues:
            item = requeue.claimed
            detail = (
                f"waiting for its slot at {_iso(requeue.ticket.at_us)}"
                if requeue.ticket
                else f"retrying in {requeue.delay_seconds} s"
            )
            released = self._messages.move(
                item.message.message_id,
                MessageStatus.PENDING,
                allowed_from=[MessageStatus.IN_PROGRESS],
                at=self._clock(),
                detail=detail,
            )
            if not released:
                continue
            work = SendWork(
                tenant_id=item.work.tenant_id,
                message_id=item.work.message_id,
                ticket=requeue.ticket,
                attempt=requeue.attempt,
            )
            if requeue.ticket:
                by_lane[Lane.TRIGGERED].append((work, self._ticket_delay(requeue.ticket)))
            else:
                by_lane[item.lane].append((work, requeue.delay_seconds))
        for lane, works in by_lane.items():
            try:
                self._queues[lane].enqueue_delayed(works)
            except EnqueueFailed as error:
                # SQS redelivers the original; the record is Pending again, so it is claimed as usual.
                report.redeliver.extend(error.message_ids)

    def _ticket_delay(self, ticket: Ticket) -> int:
        """Counted as the ticket is queued, not as its slot was reserved: the batch's sends came between."""
        return max(0, int(_seconds(ticket.at_us - self._now_us() - self._pacer.ticket_lead_us())))

    def _cancelled(self, job_id: str) -> bool:
        """A job's status, read at most once per JOB_STATUS_TTL per sender instance."""
        now = time.monotonic()
        cached = self._job_status.get(job_id)
        if cached is None or now - cached[0] > JOB_STATUS_TTL_SECONDS:
            cached = (now, self._jobs.status(job_id))
            self._job_status[job_id] = cached
        return cached[1] is JobStatus.CANCELLED

    def _valid_until(self, message: Message) -> datetime:
        """Validity counts from when the message may go: a quiet-hours hold is not waiting."""
        return max(message.created_at, message.release_at or message.created_at) + self._validity


def _us(moment: datetime) -> int:
    return int(moment.timestamp() * MICROS)


def _seconds(micros: int) -> float:
    return micros / MICROS


def _iso(at_us: int) -> str:
    return datetime.fromtimestamp(at_us / MICROS, UTC).isoformat(timespec="milliseconds")
