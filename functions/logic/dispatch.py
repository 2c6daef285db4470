"""One transport code's dispatcher: while it holds the code's lease, it alone sends the code's messages.

Three parts, in three kinds of thread:

- The control loop (the caller's thread) keeps the lease (renewed every few seconds; a dispatcher
  that cannot renew stops sending at once), claims the next batches whenever less than the lookahead
  of sending is queued (and, with enough queued, reads the triggered lane alone once a second, so a
  triggered message never waits for the bulk queue to run down), records what the carrier accepted
  (one transaction per batch of Sent moves),
  settles what an earlier holder left in flight, and ends when idle or hands over near its time limit.
- The pacer (one thread) sends each queued message at the earliest moment the code's sliding
  window allows (``PartsWindow``: exact, in the dispatcher's own clock), triggered messages first;
  a shorter message may fill a gap a waiting one leaves if that does not delay it.
- The senders (a small pool) make the carrier calls, so the carrier's latency overlaps and never
  slows the pace.

A batch (up to 10 messages of one tenant and lane, whatever their parts) costs one index read,
one opt-out read (BatchGetItem), one claim transaction (lease check, the moves, the balance by the
batch's total, an entry per message) and one Sent transaction. What the balance cannot pay is
``Insufficient funds`` in the same transaction and never takes a slot.

Exactly once: a message is claimed (In Progress, in flight on its code's ready key, with the
claimer's lease token) before its carrier call and marked Sent after it. A dispatcher that dies in
between leaves it in flight; the next holder waits a bounded time for its delivery receipt (the
receipts move it on, which takes it off the index) and only when none came, so the carrier never had
it, sends it again while it is still valid, or fails it (``expired``) and refunds it. It is never
resent blindly. A carrier throttle backs the whole code off (1, 2, 4 ... 60 s) and keeps the message.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from functions.carriers.base import (
    Carrier,
    CarrierRejected,
    CarrierThrottled,
    CarrierUnavailable,
    OutboundSms,
)
from functions.dal.claims import BatchDebit, ClaimsWriter, Commit, CommitResult
from functions.dal.config import ConfigTable
from functions.dal.jobs import JobsTable
from functions.dal.leases import Lease, LeaseLost, LeasesTable
from functions.dal.messages import IN_FLIGHT, MessagesTable, StatusMove, ready_keys
from functions.dal.opt_outs import OptOut, OptOutAction, OptOutChange, OptOutSource, OptOutsTable, scope_key
from functions.domain.dispatch import DispatchOutcome, Lane, ReadyMessage, next_batch
from functions.domain.ledger import EntryKind, LedgerEntry, affordable, debit_id, should_arm
from functions.domain.mass import JobStatus
from functions.domain.messages import MessageStatus, RejectReason
from functions.domain.send_window import DAY_US, MICROS, CallWindow, PartsWindow
from functions.domain.tenants import Tenant
from functions.domain.transport import TransportCode, default_code
from functions.domain.windows import HoldPolicy
from functions.logic.ledger import LedgerWallet, fail_refunded
from functions.observability import logger

BATCH_MESSAGES = 10
BATCHES_PER_PAGE = 3
CLAIM_ATTEMPTS = 8
JOB_STATUS_TTL_SECONDS = 2.0  # how stale a cancellation may be seen
# Queued messages' numbers are read again for opt-outs this often (a slow code's batch spans minutes).
OPT_OUT_REREAD_US = 5_000_000
TENANT_TTL_SECONDS = 30.0  # how stale a tenant's quiet hours may be seen
BACKFILL_DEPTH = 8  # queued messages looked at to fill a gap the next one leaves
# A claim left in doubt (its dispatcher died, or its call failed unexpectedly) is sent again at most
# this often; one that keeps failing ends Failed and is refunded.
MAX_RESENDS = 2
FIRST_BACKOFF_US = 250_000  # a throttled code's first pause; then doubling while faults repeat
# Throttling that repeats means the carrier takes less than the code's registered rate: each such
# episode paces the code at this share of its pace (down to RATE_FLOOR_SHARE of its limit), and after a
# calm spell every answered call takes back a RATE_STEP_SHARE of the limit.
RATE_CUT = 0.7
RATE_FLOOR_SHARE = 20  # the lowest pace: the limit / 20
RATE_STEP_SHARE = 100  # a step back up: the limit / 100
MARGIN_STEP_US = 10_000  # each throttling episode widens the window by this
# A send may take a slot this far in the past (a late wake-up; joining the instant of the sends just
# chosen, which are still starting). The carrier's window checks each call as it starts.
LOOK_BACK_US = 50_000
REPEAT_US = 2_000_000  # an episode this soon after the last pause doubles the pause
MAX_MARGIN_US = 100_000
CALM_US = 10_000_000  # a widened window narrows again after this long without throttling
NARROW_STEP_US = 1_000  # by this much a successful call
# The triggered lane is read this long before the code's next slot opens (or two claims' time, when
# claims are slow): a message claimed then is first in that slot.
TRIGGERED_LEAD_US = 250_000
# Writes of one message's Sent record before it is left to the message's delivery event.
SENT_RECORD_ATTEMPTS = 3
IN_FLIGHT_PAGE = 100  # claims in flight one reconcile reads, the oldest first


@dataclass(frozen=True)
class DispatchSettings:
    lease_seconds: float = 15.0
    renew_seconds: float = 5.0
    # Claim more when less than this much sending is queued (or three claims' time, when claims
    # are slow: the queue never runs dry while the store answers).
    lookahead_seconds: float = 3.0
    # With enough queued, the triggered lane alone is read about this often, just before the code's
    # next slot opens (never while it waits out a long message or its second's sends): a triggered
    # message waits about this long for its claim, whatever the bulk backlog, and a batch of bulk
    # messages can be a full one (10) even on a slow code, for a few requests per message.
    triggered_poll_seconds: float = 1.0
    idle_seconds: float = 5.0  # nothing to do for this long: release the lease and end
    poll_seconds: tuple[float, float] = (0.1, 0.5)  # an empty ready index is read again after this
    handover_seconds: float = 15.0  # with this little time left, stop claiming and hand over
    send_threads: int = 8
    # Added to each send's second in the plan and after each call's answer (see CallWindow): for a
    # carrier that counts a message later than it answers. The answer times alone keep its windows.
    window_margin_ms: float = 0.0
    validity: timedelta = timedelta(hours=4)
    receipt_wait: timedelta = timedelta(minutes=5)  # an earlier holder's claim waits this for a receipt
    reconcile_seconds: float = 10.0
    max_backoff_seconds: float = 60.0
    page_size: int = 30
    far_slot_seconds: float = 60.0  # a slot further off (a spent daily cap) is not waited for
    # Sent records wait this long (or for a batch of 10) to share a write, while the code has more
    # queued or in flight (once it has none, they are written at once). A delivery event that
    # comes first records the Sent itself (functions/logic/receipts.py), so a history still shows
    # Sent before Delivered and a status callback gets both.
    sent_flush_seconds: float = 1.0


class DispatcherInvoker(Protocol):
    """Starts a code's dispatcher elsewhere (an asynchronous Lambda invoke, or a local thread)."""

    def start(self, code: str) -> None: ...


@dataclass
class DispatchReport:
    code: str
    started: bool = False
    handed_over: bool = False
    lease_lost: bool = False
    outcomes: Counter[str] = field(default_factory=Counter)
    parts_sent: int = 0
    failed: Counter[str] = field(default_factory=Counter)  # per reject reason


@dataclass
class _Result:
    message: ReadyMessage
    carrier_id: str | None = None
    error: Exception | None = None
    at: datetime | None = None


def steady_epoch_us() -> Callable[[], int]:
    """Epoch microseconds that never jump: the wall clock when made, advancing with the monotonic clock.

    A dispatcher paces, waits and times out by it, so a wall-clock step (or a frozen clock in a test)
    cannot crowd a window or stall a wait; over one invocation (15 minutes at most) it stays within
    the clock's drift of the wall clock, which dates the records and the daily cap.
    """
    offset = time.time_ns() // 1000 - time.monotonic_ns() // 1000
    return lambda: offset + time.monotonic_ns() // 1000


class _Pacer:
    """Sends queued messages at the window's slots, in order (triggered first), from a thread pool."""

    def __init__(
        self,
        window: PartsWindow,
        send: Callable[[ReadyMessage], None],
        calls: CallWindow,
        pool: ThreadPoolExecutor,
        now_us: Callable[[], int],
        max_backoff_us: int,
        far_us: int,
    ) -> None:
        self.window = window
        self._send = send
        # The calls as the carrier can have counted them, each checked at the moment it starts: the
        # window is the plan, this is the rule (a sender thread that woke late, or a slow answer,
        # never crowds the carrier's window; the call waits for room instead).
        self._calls = calls
        self._call_lock = threading.Condition()
        self._pool = pool
        self._now_us = now_us
        self._max_backoff_us = max_backoff_us
        self._far_us = far_us
        self._queue: deque[ReadyMessage] = deque()
        self._cond = threading.Condition()
        self._stopped = False
        self._backoff_us = 0
        self._pause_end_us = 0
        self._base_window_us = window.window_us
        self._base_extra_us = calls.extra_us
        self._base_limit_millis = window.limit_millis
        self._limit_floor_millis = max(1, window.limit_millis // RATE_FLOOR_SHARE)
        self._widened_us = 0  # what throttling added to both windows
        self._calm_since_us = 0
        self.in_flight = 0
        self._starting = 0  # chosen, not yet cleared to call: the plan waits for them
        self._frame_started_us = 0  # the first start among those of the plan's last instant
        self.stalled = False  # the next slot is further off than worth waiting for

    # ---- the control loop's side ----

    def add(self, batch: list[ReadyMessage]) -> None:
        with self._cond:
            if batch and batch[0].lane is Lane.TRIGGERED:
                # Ahead of queued bulk messages, behind queued triggered ones.
                position = sum(1 for queued in self._queue if queued.lane is Lane.TRIGGERED)
                for offset, message in enumerate(batch):
                    self._queue.insert(position + offset, message)
            else:
                self._queue.extend(batch)
            self._cond.notify_all()

    def queued_us(self) -> int:
        """How long the queued messages take to send at the code's rate (a wait for the window aside:
        the next batch is claimed while the code idles after a long message, and waits its turn)."""
        with self._cond:
            parts = sum(message.segments for message in self._queue)
        return parts * MICROS * 1000 // self.window.limit_millis

    def next_slot_us(self, parts: int) -> int:
        with self._cond:
            return self.window.next_slot(parts, self._now_us()) - self._now_us()

    def cap_left(self) -> int | None:
        """Parts the daily cap still allows today beyond what is queued; None without a cap."""
        with self._cond:
            cap = self.window.daily_cap_parts
            if cap is None:
                return None
            today = self._now_us() // DAY_US
            used = self.window.day_parts if self.window.day == today else 0
            return cap - used - sum(message.segments for message in self._queue)

    def busy(self) -> bool:
        with self._cond:
            return bool(self._queue) or self.in_flight > 0

    def queued(self) -> list[ReadyMessage]:
        with self._cond:
            return list(self._queue)

    def withdraw(self, message_ids: set[str]) -> list[ReadyMessage]:
        """Take these out of the queue, unsent (those already chosen to send are not there any more)."""
        with self._cond:
            taken = [message for message in self._queue if message.message_id in message_ids]
            for message in taken:
                self._queue.remove(message)
            return taken

    def take_queued(self) -> list[ReadyMessage]:
        with self._cond:
            taken = list(self._queue)
            self._queue.clear()
            return taken

    def day(self) -> tuple[int, int]:
        with self._cond:
            return self.window.day, self.window.day_parts

    def recent(self) -> tuple[list[tuple[int, int]], int]:
        with self._call_lock:  # the real calls: what the carrier can have seen
            return self._calls.recent(self._now_us())

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    # ---- the senders' side ----

    def clear_to_call(self, message: ReadyMessage) -> int:
        """Wait until the carrier's window has room for the message, and start its call; its number."""
        with self._call_lock:
            while True:
                now = self._now_us()
                slot = self._calls.next_slot(message.segments, now)
                if slot is not None and slot <= now:
                    number = self._calls.start(message.segments, now)
                    break
                # An answer (notified) or the slot, whichever comes first.
                self._call_lock.wait(0.05 if slot is None else (slot - now) / MICROS)
        with self._cond:
            self._starting -= 1
            if not self._frame_started_us:
                self._frame_started_us = now
            if not self._starting:
                # The plan's last instant is these calls: it moves to when the first of them started,
                # so what the plan chooses next counts from the real calls (the others follow as the
                # carrier's window frees their parts, rather than holding the whole next instant).
                self.window.started_at(self._frame_started_us)
                self._frame_started_us = 0
            self._cond.notify_all()
        return number

    def answered(self, number: int) -> None:
        """A call ended: it counts until a second after now."""
        with self._call_lock:
            self._calls.answered(number, self._now_us())
            self._call_lock.notify_all()

    def _apply_window(self) -> None:
        """The plan's window: a second, the margin and what throttling added; the carrier's: the same
        after each answer. The plan does not wait for the answers: an instant's calls wait for the
        carrier's window each, and each starts as soon as the parts it needs are free. (Planned a
        second and the smoothed answer time apart, an instant began when an average call's parts
        were free, not when its first call's were.)"""
        self.window.window_us = self._base_window_us + self._widened_us
        with self._call_lock:
            self._calls.extra_us = self._base_extra_us + self._widened_us

    def done(self, message: ReadyMessage, refused: DispatchOutcome | None = None) -> None:
        """A carrier call ended; a refusal for now (throttled, or a carrier fault) backs the code off,
        keeping the message at the head of the queue.

        One episode is one pause: the calls already under way when it began may be refused too and
        do not lengthen it. Each episode widens the window's margin by 10 ms (up to 100 ms), as the
        carrier evidently sees the sends closer together than the dispatcher made them. A lone one
        (jitter) pauses 0.25 s. A new episode within 2 s of the last pause's end means more:
        throttling then says the carrier takes less than the code's registered rate, so the code is
        paced at 70% of its pace (down to a twentieth of its limit) and pauses 0.25 s again; a
        fault, or throttling at the lowest pace, doubles the pause instead (up to ``max_backoff``).
        """
        with self._cond:
            self.in_flight -= 1
            if refused is None:
                self._narrow()
            else:
                now = self._now_us()
                if now >= self._pause_end_us:
                    recent = self._backoff_us and now - self._pause_end_us < REPEAT_US
                    slower = (
                        recent
                        and refused is DispatchOutcome.CARRIER_THROTTLED
                        and self.window.limit_millis > self._limit_floor_millis
                    )
                    if slower:
                        self._set_limit(int(self.window.limit_millis * RATE_CUT))
                        logger.info("carrier slower than the code's limit: pacing slower",
                                    parts_per_second=self.window.limit_millis / 1000)  # fmt: skip
                    self._backoff_us = (
                        min(self._max_backoff_us, 2 * self._backoff_us)
                        if recent and not slower
                        else FIRST_BACKOFF_US
                    )
                    self._pause_end_us = now + self._backoff_us
                    self._calm_since_us = self._pause_end_us
                    self._widened_us = min(self._widened_us + MARGIN_STEP_US, MAX_MARGIN_US)
                    self.window.pause_until(self._pause_end_us)
                    with self._call_lock:
                        self._calls.pause_until(self._pause_end_us)
                    self._apply_window()
                self._queue.appendleft(message)
            self._cond.notify_all()

    def _narrow(self) -> None:
        """After a calm spell (no throttling for CALM_US), take a widened window back by a step a call,
        and a slowed pace back by a step a call, to where they began: one bout of jitter or throttling
        does not cost the code its pace for good (a pace still above the carrier's is cut again)."""
        if self._now_us() - self._calm_since_us < CALM_US:
            return
        if self.window.limit_millis < self._base_limit_millis:
            step = max(1, self._base_limit_millis // RATE_STEP_SHARE)
            self._set_limit(min(self._base_limit_millis, self.window.limit_millis + step))
        if self._widened_us:
            self._widened_us = max(0, self._widened_us - NARROW_STEP_US)
            self._apply_window()

    def _set_limit(self, limit_millis: int) -> None:
        """The pace both windows keep (under the pacer's lock)."""
        self.window.limit_millis = max(self._limit_floor_millis, limit_millis)
        with self._call_lock:
            self._calls.limit_millis = self.window.limit_millis

    # ---- the pacer's thread ----

    def _joins(self, at_us: int) -> bool:
        """Whether a send at ``at_us`` may be chosen now: nothing is starting, or it joins their instant
        (else wait, under the lock, for them to start)."""
        if not self._starting or at_us <= self.window.last_us:
            return True
        self._cond.wait(0.05)
        return False

    def run(self) -> None:
        while True:
            with self._cond:
                if self._stopped:
                    return
                chosen = self._choose()
                if chosen is None:
                    continue
                self.in_flight += 1
                self._starting += 1
            self._pool.submit(self._send, chosen)

    def _choose(self) -> ReadyMessage | None:
        """The message to send now, recorded in the window; None after waiting (under the lock).

        While messages chosen are still waiting to start their calls, only one that joins their
        instant may follow them: the plan never runs ahead of the calls, so a triggered message
        arriving meanwhile is the next one chosen.
        """
        if not self._queue:
            self._cond.wait(0.05)
            return None
        head = self._queue[0]
        now = self._now_us()
        since = now - LOOK_BACK_US
        slot = self.window.next_slot(head.segments, now, since)
        if slot <= now:
            if not self._joins(slot):
                return None
            self._queue.popleft()
            self.window.record(head.segments, slot)
            return head
        if slot - now > self._far_us:
            self.stalled = True
            self._cond.wait(0.05)
            return None
        for index in range(1, min(len(self._queue), BACKFILL_DEPTH)):
            candidate = self._queue[index]
            at = self.window.slot_ahead_of(head.segments, candidate.segments, now, since)
            if at is not None:
                if not self._joins(at):
                    return None
                del self._queue[index]
                self.window.record(candidate.segments, at)
                return candidate
        self._cond.wait((slot - now) / MICROS)
        return None


class Dispatcher:
    def __init__(
        self,
        code_number: str,
        messages: MessagesTable,
        leases: LeasesTable,
        claims: ClaimsWriter,
        config: ConfigTable,
        jobs: JobsTable,
        opt_outs: OptOutsTable,
        wallet: LedgerWallet,
        carrier: Carrier,
        settings: DispatchSettings | None = None,
        now_us: Callable[[], int] | None = None,
        remaining_ms: Callable[[], int] = lambda: 900_000,
        invoker: DispatcherInvoker | None = None,
        holder: str | None = None,
    ) -> None:
        self.code_number = code_number
        self._messages = messages
        self._leases = leases
        self._claims = claims
        self._config = config
        self._jobs = jobs
        self._opt_outs = opt_outs
        self._wallet = wallet
        self._carrier = carrier
        self.settings = settings or DispatchSettings()
        self._now_us = now_us or steady_epoch_us()
        self._remaining_ms = remaining_ms
        self._invoker = invoker
        self.holder = holder or uuid.uuid4().hex
        self._results: deque[_Result] = deque()
        self._sent: list[tuple[_Result, datetime]] = []
        self._sent_lock = threading.Lock()
        self._record_failures: Counter[str] = Counter()  # failed writes of a message's Sent record
        self._record_now = threading.Event()  # nothing more is being sent: the Sent records wait no more
        self._recording = 0  # Sent records being written
        self._unsettled: set[str] = set()  # our own claims whose carrier call ended in doubt
        self._job_status: dict[str, tuple[float, JobStatus | None]] = {}
        self._tenants: dict[str, tuple[float, Tenant | None]] = {}
        self._wake = threading.Event()
        self._lease_lost = False
        self._claim_seconds: float | None = None
        self.report = DispatchReport(code_number)
        self.lease: Lease | None = None

    # ---- the run ----

    def run(self) -> DispatchReport:
        settings = self.settings
        lease = self._leases.acquire(self.code_number, self.holder, self._now_ms(), self._lease_ms())
        if lease is None:
            return self.report  # another dispatcher holds the code
        self.lease = lease
        self.report.started = True
        self.code = self._transport_code()
        today = self._now_us() // (86_400 * MICROS)
        window = PartsWindow(
            self.code.limit_millis,
            self.code.daily_cap_parts,
            margin_us=int(settings.window_margin_ms * 1000),
            day_parts=(lease.day, lease.day_parts) if lease.day == today else None,
            recent=lease.recent,
            idle_until_us=lease.idle_until_us,
        )
        pool = ThreadPoolExecutor(
            max_workers=settings.send_threads, thread_name_prefix=f"send-{self.code_number}"
        )
        calls = CallWindow(
            window.limit_millis,
            extra_us=window.window_us - MICROS,
            recent=lease.recent,
            idle_until_us=lease.idle_until_us,
        )
        self._pacer = _Pacer(
            window,
            self._call_carrier,
            calls,
            pool,
            self._now_us,
            int(settings.max_backoff_seconds * MICROS),
            int(settings.far_slot_seconds * MICROS),
        )
        pacer_thread = threading.Thread(target=self._pacer.run, name=f"pacer-{self.code_number}", daemon=True)
        pacer_thread.start()
        self._ending = threading.Event()
        keeper = threading.Thread(target=self._keep_lease, name=f"lease-{self.code_number}", daemon=True)
        keeper.start()
        recorder = threading.Thread(target=self._keep_recording, name=f"sent-{self.code_number}", daemon=True)
        recorder.start()
        try:
            self._control()
        except LeaseLost:
            self.report.lease_lost = True
            logger.warning("lease lost; stopping", code=self.code_number)
        finally:
            self._ending.set()
            self._record_now.set()
            keeper.join()
            recorder.join()
            self._pacer.stop()
            pacer_thread.join()
            pool.shutdown(wait=True)  # calls in progress finish and are recorded
            self._settle_results()
            for _ in range(SENT_RECORD_ATTEMPTS):  # what failed is kept for the next try, up to its cap
                try:
                    self._flush_sent(force=True)
                    break
                except Exception:
                    logger.exception("Sent records failed", code=self.code_number)
            self._hand_back(self._pacer.take_queued(), "handed back unsent when its dispatcher stopped")
            day, parts = self._pacer.day()
            recent, idle_until = self._pacer.recent()
            if not self.report.lease_lost:
                self._leases.release(self.lease or lease, day, parts, recent, idle_until)
        left = self._pacer.cap_left()
        capped = self._pacer.stalled or (left is not None and left <= 0)
        if not self.report.lease_lost and not self.report.handed_over and not capped:
            # A message made ready while this one was ending found its lease still live, and no kick
            # started anyone: look once more after the release, and start the successor if so.
            self.report.handed_over = bool(self._messages.ready_page(self.code_number, 1))
        if self.report.handed_over and self._invoker is not None:
            self._invoker.start(self.code_number)
        return self.report

    def _keep_lease(self) -> None:
        """Renew the lease every few seconds, whatever the control loop is waiting for; if it was
        taken over, stop sending at once (the control loop then ends)."""
        while not self._ending.wait(self.settings.renew_seconds):
            assert self.lease is not None
            day, parts = self._pacer.day()
            try:
                self.lease = self._leases.renew(self.lease, self._now_ms(), self._lease_ms(), day, parts)
            except LeaseLost:
                self._stop_sending()
                return
            except Exception:  # a failed renewal is tried again; the lease outlasts two of them
                logger.exception("lease renewal failed", code=self.code_number)
                if self.lease.expires_at_ms - self._now_ms() < self.settings.renew_seconds * 1000:
                    # Not renewed in time: another dispatcher may take the code when it ends, so
                    # this one stops sending now (what it claimed is reconciled by the next holder).
                    logger.error("lease ends before it could be renewed: stopping", code=self.code_number)
                    self._stop_sending()
                    return

    def _stop_sending(self) -> None:
        self._lease_lost = True
        self._pacer.stop()
        self._wake.set()

    def _control(self) -> None:
        settings = self.settings
        next_reconcile = self._now_us()
        next_opt_out_read = self._now_us() + OPT_OUT_REREAD_US
        idle_since = self._now_us()
        poll_us = int(settings.poll_seconds[0] * MICROS)
        next_poll = self._now_us()
        last_read = self._now_us()
        while True:
            now = self._now_us()
            self._settle_results()
            if self._lease_lost:
                raise LeaseLost(self.code_number)
            stopping = self._remaining_ms() < settings.handover_seconds * 1000
            if stopping:
                # What is queued goes back to ready for the next invocation; calls under way finish.
                self._hand_back(
                    self._pacer.take_queued(), "handed over unsent: its dispatcher's time ran out"
                )
            if self._pacer.stalled:
                logger.info("next slot too far off (daily cap): stopping", code=self.code_number)
                return
            short = self._pacer.queued_us() < self._lookahead_us()
            due = short or self._triggered_read_due(now - last_read)
            if not stopping and now >= next_poll and due:
                if self._pacer.next_slot_us(1) > int(settings.far_slot_seconds * MICROS):
                    self._reconcile()  # claims left in doubt are settled, capped or not
                    return  # the daily cap is spent: the next day's first kick starts again
                last_read = now
                if self._claim_next(triggered_only=not short):
                    idle_since = now
                    poll_us = int(settings.poll_seconds[0] * MICROS)
                    next_poll = now
                else:
                    next_poll = now + poll_us
                    poll_us = min(2 * poll_us, int(settings.poll_seconds[1] * MICROS))
            if now >= next_opt_out_read:
                self._reread_opt_outs()
                next_opt_out_read = now + OPT_OUT_REREAD_US
            if now >= next_reconcile:  # after the claims: a fresh dispatcher's first sends go first
                if self._reconcile():
                    # What it handed back to be sent again is read at once, before any idle time ends.
                    idle_since = next_poll = now
                    poll_us = int(settings.poll_seconds[0] * MICROS)
                next_reconcile = now + int(settings.reconcile_seconds * MICROS)
            with self._sent_lock:
                unrecorded = bool(self._sent)
                recording = unrecorded or self._recording > 0
            sending = self._pacer.busy()
            if unrecorded and not sending:
                self._record_now.set()
            # Our own claims in doubt keep us (to settle them after the receipt wait), but not past
            # the handover: the next holder settles them as it does a dead dispatcher's.
            doubt = bool(self._unsettled) and not stopping
            busy = sending or bool(self._results) or recording or doubt
            if busy:
                idle_since = now
            elif stopping:
                self.report.handed_over = self._messages.has_dispatch_work(self.code_number)
                return
            elif now - idle_since > settings.idle_seconds * MICROS:
                return
            self._wake.wait(0.02)
            self._wake.clear()

    # ---- claiming ----

    def _claim_next(self, triggered_only: bool = False) -> bool:
        """Claim (and pay for) the next batches onto the pacer's queue; False when nothing was ready.

        One page read and one opt-out read serve up to ``BATCHES_PER_PAGE`` batches while the code
        is short of queued sending (a backlog), so a slow store costs fewer round trips per message.
        ``triggered_only`` (enough is queued): a small read of the triggered lane, and its batch.
        """
        started = time.monotonic()
        held = {message.message_id for message in self._pacer.queued()}
        page = [
            m
            for m in (
                self._messages.triggered_page(self.code_number, BATCH_MESSAGES)
                if triggered_only
                else self._messages.ready_page(self.code_number, self.settings.page_size)
            )
            if m.message_id not in held
        ]
        page = self._still_sendable(page)
        if not page:
            return False
        candidates = page[: BATCH_MESSAGES * BATCHES_PER_PAGE]
        checked = [m for m in candidates if m.checks_opt_out]
        scope = scope_key(self.code.opt_out_scope)
        opted_out = self._opt_outs.opted_out(scope, {m.phone_number for m in checked}) if checked else set()
        claimed_any = False
        for _ in range(1 if triggered_only else BATCHES_PER_PAGE):
            if not page or (claimed_any and self._pacer.queued_us() >= self._lookahead_us()):
                break
            cap_left = self._pacer.cap_left()
            if cap_left is not None and cap_left < page[0].segments:
                break  # today's cap is spent: what is ready waits, unclaimed and unpaid
            batch = next_batch(page, BATCH_MESSAGES, cap_left)
            if any(m not in candidates for m in batch):
                break  # its opt-outs were not read
            self._commit_batch(batch, self._refusals(batch, opted_out), self._clock())
            claimed_any = True
            taken = {m.message_id for m in batch}
            page = [m for m in page if m.message_id not in taken]
        if claimed_any:
            # How long a claim takes the store now (smoothed): the lookahead covers three of them.
            took = time.monotonic() - started
            last = self._claim_seconds
            self._claim_seconds = took if last is None else 0.7 * last + 0.3 * took
        return claimed_any

    def _reread_opt_outs(self) -> None:
        """The queued messages' numbers, read again for opt-outs (one batch read): on a slow code a
        batch's last message goes long after its claim read them, and a STOP meanwhile still wins.
        An opted-out one leaves the queue unsent, Failed and refunded."""
        queued = [message for message in self._pacer.queued() if message.checks_opt_out]
        if not queued:
            return
        scope = scope_key(self.code.opt_out_scope)
        opted_out = self._opt_outs.opted_out(scope, {message.phone_number for message in queued})
        if not opted_out:
            return
        at = self._clock()
        for message in self._pacer.withdraw({m.message_id for m in queued if m.phone_number in opted_out}):
            if self._fail_claimed(
                message, RejectReason.OPTED_OUT, "the number opted out after it was queued", at
            ):
                self.report.outcomes[DispatchOutcome.OPTED_OUT.value] += 1
                self.report.failed[RejectReason.OPTED_OUT.value] += 1

    def _still_sendable(self, page: list[ReadyMessage]) -> list[ReadyMessage]:
        """The page less what its tenant's quiet hours or the recipient's calling window now hold: a
        message made ready at 20:59 that waited past 21:00 (a backlog, a throttled carrier, a
        handover) goes back on hold until the window opens, instead of going out in it."""
        now = self._clock()
        sendable = []
        for message in page:
            policy = self._hold_policy(message.tenant_id, mass=message.job_id is not None)
            hold = policy.hold(message.phone_number, now) if policy is not None else None
            if hold is None:
                sendable.append(message)
            elif self._messages.hold_again(message.message_id, hold.release_at, hold.rule):
                self.report.outcomes[DispatchOutcome.HELD.value] += 1
        return sendable

    def _hold_policy(self, tenant_id: str, mass: bool) -> HoldPolicy | None:
        """The tenant's hold rules, read at most every ``TENANT_TTL_SECONDS``."""
        now = time.monotonic()
        cached = self._tenants.get(tenant_id)
        if cached is None or now - cached[0] > TENANT_TTL_SECONDS:
            cached = (now, self._config.get_tenant(tenant_id))
            self._tenants[tenant_id] = cached
        tenant = cached[1]
        return tenant.hold_policy(mass) if tenant is not None else None

    def _triggered_read_due(self, since_read_us: int) -> bool:
        """Whether to read the triggered lane now (enough is queued): the code's next slot (for one
        part) opens within a claim's lead, so a message claimed now is first in it; not while the
        code waits out a long message or its second's sends. The reads come a poll period apart less
        that lead, so they keep ahead of the slots they serve instead of drifting into them."""
        poll = int(self.settings.triggered_poll_seconds * MICROS)
        lead = min(poll // 2, max(TRIGGERED_LEAD_US, int(2 * (self._claim_seconds or 0.0) * MICROS)))
        return since_read_us >= poll - lead and self._pacer.next_slot_us(1) <= lead

    def _lookahead_us(self) -> int:
        slow = 3 * (self._claim_seconds or 0.0)
        return int(max(self.settings.lookahead_seconds, slow) * MICROS)

    def _refusals(
        self, batch: list[ReadyMessage], opted_out: set[str]
    ) -> dict[str, tuple[RejectReason, str | None]]:
        """What in the batch may not go: a cancelled job's, an expired one, an opted-out number's."""
        at = self._clock()
        failures: dict[str, tuple[RejectReason, str | None]] = {}
        for message in batch:
            if message.job_id is not None and self._cancelled(message.job_id):
                failures[message.message_id] = (RejectReason.CANCELLED, None)
            elif at > message.valid_from + self.settings.validity:
                failures[message.message_id] = (
                    RejectReason.EXPIRED,
                    "waited longer than the validity period",
                )
            elif message.checks_opt_out and message.phone_number in opted_out:
                failures[message.message_id] = (
                    RejectReason.OPTED_OUT,
                    "the number opted out after it was queued",
                )
        return failures

    def _commit_batch(
        self, batch: list[ReadyMessage], failures: dict[str, tuple[RejectReason, str | None]], at: datetime
    ) -> None:
        tenant_id = batch[0].tenant_id
        seen = self._wallet.view(tenant_id)
        assert self.lease is not None
        for attempt in range(CLAIM_ATTEMPTS):
            sendable = [m for m in batch if m.message_id not in failures]
            owing = [m for m in sendable if not m.debited and m.price_micros > 0]
            pays = dict(
                zip(
                    [m.message_id for m in owing],
                    affordable(seen.balance_micros, [m.price_micros for m in owing]),
                    strict=True,
                )
            )
            paid = [m for m in sendable if pays.get(m.message_id, True)]
            unpaid = [m for m in sendable if not pays.get(m.message_id, True)]
            entries = [self._debit_entry(m, at) for m in paid if m.message_id in pays]
            total = -sum(entry.amount_micros for entry in entries)
            arm = self._wallet.purchase_for(seen) if entries and should_arm(seen, total) else None
            debit = (
                BatchDebit(tenant_id, entries, seen.auto_buy, arm, seen.balance_micros if unpaid else None)
                if entries
                else None
            )
            # A failing message paid by an earlier claim (handed back) fails with its refund, in one
            # write of its own; the others fail in the claim.
            paid_before = [m for m in batch if m.message_id in failures and m.debited and m.price_micros > 0]
            moves = [self._claim_move(m, at, m.message_id in pays) for m in paid]
            moves += [self._insufficient_move(m, at) for m in unpaid]
            moves += [
                self._fail_move(m, *failures[m.message_id], at)
                for m in batch
                if m.message_id in failures and m not in paid_before
            ]
            commit = (
                self._claims.claim(self.lease, self._now_ms(), moves, debit)
                if moves
                else Commit(CommitResult.COMMITTED)
            )
            if commit.result is CommitResult.COMMITTED:
                for message in paid_before:
                    self._fail_refunded(message, self._fail_move(message, *failures[message.message_id], at))
                self._claimed(batch, paid, unpaid, failures, arm, tenant_id)
                return
            if commit.result is CommitResult.LEASE_LOST:
                raise LeaseLost(self.code_number)
            if commit.result is CommitResult.STALE:
                self.report.outcomes[DispatchOutcome.ALREADY_HANDLED.value] += len(commit.stale)
                batch = [m for m in batch if m.message_id not in commit.stale]
                if not batch:
                    return
            elif commit.result is CommitResult.REFUSED:
                assert commit.balance is not None
                seen = self._wallet.remember(commit.balance)
            else:
                time.sleep(0.01 * 2**attempt)
        logger.warning("a batch stayed contended; it is read again", code=self.code_number)

    def _claimed(
        self,
        batch: list[ReadyMessage],
        paid: list[ReadyMessage],
        unpaid: list[ReadyMessage],
        failures: dict[str, tuple[RejectReason, str | None]],
        arm: object,
        tenant_id: str,
    ) -> None:
        token = self.lease.token if self.lease else None
        self._pacer.add([_with(m, debited=m.debited or m.price_micros > 0, claim_token=token) for m in paid])
        if unpaid:
            self.report.outcomes[DispatchOutcome.INSUFFICIENT_FUNDS.value] += len(unpaid)
            self.report.failed[RejectReason.INSUFFICIENT_FUNDS.value] += len(unpaid)
        outcome_of = {
            RejectReason.CANCELLED: DispatchOutcome.CANCELLED,
            RejectReason.EXPIRED: DispatchOutcome.EXPIRED,
            RejectReason.OPTED_OUT: DispatchOutcome.OPTED_OUT,
        }
        for message in batch:
            if message.message_id in failures:
                reason = failures[message.message_id][0]
                self.report.outcomes[outcome_of[reason].value] += 1
                self.report.failed[reason.value] += 1
        if arm is not None:
            self._wallet.armed(tenant_id, arm)  # type: ignore[arg-type]

    # ---- sending (the pool's threads) ----

    def _call_carrier(self, message: ReadyMessage) -> None:
        sms = OutboundSms(
            origination_number=message.origination_number,
            destination_number=message.phone_number,
            body=message.body,
            message_id=message.message_id,
            tenant_id=message.tenant_id,
        )
        refused: DispatchOutcome | None = None
        number = self._pacer.clear_to_call(message)
        try:
            result = _Result(message, carrier_id=self._carrier.send(sms), at=self._clock())
        except (CarrierThrottled, CarrierUnavailable) as error:
            refused = (
                DispatchOutcome.CARRIER_THROTTLED
                if isinstance(error, CarrierThrottled)
                else DispatchOutcome.CARRIER_UNAVAILABLE
            )
            self.report.outcomes[refused.value] += 1
            logger.warning("carrier refused for now; backing off", code=self.code_number, kind=refused.value)
            result = None
        except Exception as error:  # a refusal, or a call that ended in doubt: the control loop decides
            result = _Result(message, error=error)
        finally:
            self._pacer.answered(number)
            self._pacer.done(message, refused)
        if result is not None:
            self._results.append(result)
        self._wake.set()

    # ---- after the carrier (the control loop) ----

    def _settle_results(self) -> None:
        while self._results:
            result = self._results.popleft()
            message = result.message
            if result.carrier_id is not None:
                with self._sent_lock:
                    self._sent.append((result, self._clock()))
                self.report.parts_sent += message.segments
            elif isinstance(result.error, CarrierRejected):
                self._reject(message, result.error)
            else:
                # Sent or not, nobody knows: reconciled like a dead dispatcher's claim, never resent blindly.
                logger.exception(
                    "carrier call failed",
                    code=self.code_number,
                    message_id=message.message_id,
                    exc_info=result.error,
                )
                self._unsettled.add(message.message_id)

    def _keep_recording(self) -> None:
        """Write the Sent records (one transaction per batch) beside the control loop, which claims."""
        while not self._ending.is_set():
            self._record_now.wait(self.settings.sent_flush_seconds / 2)
            self._record_now.clear()
            try:
                self._flush_sent()
            except Exception:  # written again at the next flush (see _keep_for_retry)
                logger.exception("Sent records failed", code=self.code_number)

    def _flush_sent(self, force: bool = False) -> None:
        while True:
            with self._sent_lock:
                if not self._sent:
                    return
                oldest = self._sent[0][1]
                young = (self._clock() - oldest).total_seconds() < self.settings.sent_flush_seconds
                # A record waits for others to share its write only while more sends are coming.
                if not force and len(self._sent) < BATCH_MESSAGES and young and self._pacer.busy():
                    return
                chunk, self._sent = self._sent[:25], self._sent[25:]
                self._recording += 1
            try:
                self._record_sent(chunk)
            except Exception:
                self._keep_for_retry(chunk)
                raise
            finally:
                with self._sent_lock:
                    self._recording -= 1

    def _keep_for_retry(self, chunk: list[tuple[_Result, datetime]]) -> None:
        """A write of Sent records failed: its records go first in the next, up to SENT_RECORD_ATTEMPTS
        writes each (the carrier has these messages: a record written is a claim not left in doubt).
        One that fails them all is left to its delivery event, which records the Sent itself."""
        again = []
        for record in chunk:
            message_id = record[0].message.message_id
            self._record_failures[message_id] += 1
            if self._record_failures[message_id] < SENT_RECORD_ATTEMPTS:
                again.append(record)
            else:
                logger.error("Sent record not written", code=self.code_number, message_id=message_id)
        with self._sent_lock:
            self._sent[:0] = again

    def _record_sent(self, chunk: list[tuple[_Result, datetime]]) -> None:
        if chunk:
            moves = [
                StatusMove(
                    result.message.message_id,
                    MessageStatus.SENT,
                    (MessageStatus.IN_PROGRESS,),
                    result.at or self._clock(),
                    extra={"carrier_message_id": result.carrier_id},
                )
                for result, _ in chunk
            ]
            self._claims.record(moves)  # one a fast receipt moved on already is left as it is
            self.report.outcomes[DispatchOutcome.SENT.value] += len(chunk)

    def _reject(self, message: ReadyMessage, error: CarrierRejected) -> None:
        at = self._clock()
        self._fail_claimed(message, error.reason, error.detail, at)
        self.report.outcomes[DispatchOutcome.REJECTED.value] += 1
        self.report.failed[error.reason.value] += 1
        if error.reason is RejectReason.OPTED_OUT:
            self._record_carrier_opt_out(message, at)

    def _record_carrier_opt_out(self, message: ReadyMessage, at: datetime) -> None:
        """The carrier holds the number as opted out: so does our list, in the code's scope."""
        scope = scope_key(self.code.opt_out_scope)
        actor = f"carrier refusal of {message.message_id}"
        self._opt_outs.record_opt_out(
            OptOut(
                scope=scope,
                phone_number=message.phone_number,
                opted_out_at=at,
                source=OptOutSource.CARRIER.value,
                actor=actor,
                tenant_id=message.tenant_id,
            ),
            OptOutChange(
                change_id=f"carrier-{message.message_id}",
                scope=scope,
                phone_number=message.phone_number,
                action=OptOutAction.OPTED_OUT,
                at=at,
                source=OptOutSource.CARRIER.value,
                actor=actor,
                tenant_id=message.tenant_id,
            ),
        )

    # ---- what an earlier holder left in flight ----

    def _reconcile(self) -> int:
        """Settle claims whose dispatcher is gone (or whose call ended in doubt): never a blind resend.

        A receipt takes a message that reached the carrier off the index; one still here after the
        receipt wait never got there: it goes again while valid, or fails (expired) and is refunded.
        Returns how many went back to ready to be sent again.
        """
        now = self._clock()
        mine = self.lease.token if self.lease else None
        again = 0
        in_flight = self._messages.in_flight(self.code_number, limit=IN_FLIGHT_PAGE)
        if len(in_flight) < IN_FLIGHT_PAGE:
            # A claim in doubt that is no longer in flight was settled by its delivery event: nothing
            # left to wait for (the dispatcher would otherwise never be idle, nor hand over).
            self._unsettled &= {message.message_id for message in in_flight}
        for message in in_flight:
            if message.claim_token == mine and message.message_id not in self._unsettled:
                continue  # queued here, or being sent
            claimed = message.claimed_at or now
            if now - claimed < self.settings.receipt_wait:
                continue
            self._unsettled.discard(message.message_id)
            if now <= message.valid_from + self.settings.validity and message.resends < MAX_RESENDS:
                self._hand_back(
                    [message], "no receipt came for a claim left in doubt: sent again", resend=True
                )
                again += 1
            else:
                reason, detail = (
                    (
                        RejectReason.EXPIRED,
                        "its claim was left in doubt and no receipt came within its validity",
                    )
                    if message.resends < MAX_RESENDS
                    else (
                        RejectReason.UNKNOWN,
                        f"it could not be sent: {message.resends + 1} attempts failed",
                    )
                )
                if self._fail_claimed(message, reason, detail, now):
                    self.report.failed[reason.value] += 1
            self.report.outcomes[DispatchOutcome.RECONCILED.value] += 1
        return again

    def _hand_back(self, messages: list[ReadyMessage], detail: str, resend: bool = False) -> None:
        """Claimed messages back to ready, unsent; a debit stays with the message (``debited``)."""
        if not messages:
            return
        at = self._clock()
        moves = []
        for message in messages:
            keys: dict[str, object] = dict(
                ready_keys(message.message_id, message.origination_number, message.job_id, message.created_at)
            )
            if resend:
                keys["resends"] = message.resends + 1
            moves.append(
                StatusMove(
                    message.message_id,
                    MessageStatus.PENDING,
                    (MessageStatus.IN_PROGRESS,),
                    at,
                    detail=detail,
                    extra=keys,
                    condition="claim_token = :token",
                    values={":token": message.claim_token},
                    removes=("claim_token", "claimed_at"),
                )
            )
        self._claims.record(moves)

    # ---- helpers ----

    def _claim_move(self, message: ReadyMessage, at: datetime, debit: bool) -> StatusMove:
        """Pending and still ready (not already claimed) -> In Progress, in flight under our token."""
        assert self.lease is not None
        condition = "attribute_exists(ready_key) AND begins_with(ready_sort, :lane)"
        condition += " AND attribute_not_exists(debited)" if debit else ""
        extra: dict[str, object] = {
            "ready_sort": f"{IN_FLIGHT}#{at.isoformat()}#{message.message_id}",
            "claim_token": self.lease.token,
            "claimed_at": at.isoformat(),
        }
        if debit:
            extra["debited"] = True
        return StatusMove(
            message.message_id,
            MessageStatus.IN_PROGRESS,
            (MessageStatus.PENDING,),
            at,
            extra=extra,
            condition=condition,
            values={":lane": f"{message.lane.value}#"},
        )

    def _insufficient_move(self, message: ReadyMessage, at: datetime) -> StatusMove:
        return StatusMove(
            message.message_id,
            MessageStatus.INSUFFICIENT_FUNDS,
            (MessageStatus.PENDING,),
            at,
            RejectReason.INSUFFICIENT_FUNDS,
            "the prepaid balance could not pay it",
            condition="attribute_exists(ready_key)",
        )

    def _fail_move(
        self, message: ReadyMessage, reason: RejectReason, detail: str | None, at: datetime
    ) -> StatusMove:
        return StatusMove(
            message.message_id,
            MessageStatus.FAILED,
            (MessageStatus.PENDING,),
            at,
            reason,
            detail,
            condition="attribute_exists(ready_key)",
        )

    def _debit_entry(self, message: ReadyMessage, at: datetime) -> LedgerEntry:
        return LedgerEntry(
            tenant_id=message.tenant_id,
            entry_id=debit_id(message.message_id),
            kind=EntryKind.DEBIT,
            amount_micros=-message.price_micros,
            at=at,
            message_id=message.message_id,
        )

    def _fail_claimed(
        self, message: ReadyMessage, reason: RejectReason, detail: str | None, at: datetime
    ) -> bool:
        """A message of this claim (In Progress under its token) to Failed with its refund, in one
        write; False if someone else moved it."""
        move = StatusMove(
            message.message_id,
            MessageStatus.FAILED,
            (MessageStatus.IN_PROGRESS,),
            at,
            reason,
            detail,
            condition="claim_token = :token",
            values={":token": message.claim_token},
        )
        return self._fail_refunded(message, move)

    def _fail_refunded(self, message: ReadyMessage, move: StatusMove) -> bool:
        """A paid message to Failed with its refund, in one write; False if someone else moved it."""
        return fail_refunded(self._claims.failures, move, message.tenant_id, message.price_micros)

    def _cancelled(self, job_id: str) -> bool:
        now = time.monotonic()
        cached = self._job_status.get(job_id)
        if cached is None or now - cached[0] > JOB_STATUS_TTL_SECONDS:
            cached = (now, self._jobs.status(job_id))
            self._job_status[job_id] = cached
        return cached[1] is JobStatus.CANCELLED

    def _transport_code(self) -> TransportCode:
        return self._config.get_transport_code(self.code_number) or default_code(self.code_number)

    def _clock(self) -> datetime:
        return datetime.fromtimestamp(self._now_us() / MICROS, UTC)

    def _now_ms(self) -> int:
        return self._now_us() // 1000

    def _lease_ms(self) -> int:
        return int(self.settings.lease_seconds * 1000)


def _with(message: ReadyMessage, **changes: object) -> ReadyMessage:
    return replace(message, **changes)  # type: ignore[arg-type]
