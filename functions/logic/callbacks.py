"""Delivery status callbacks: status changes from the Messages stream, posted to tenants' callbacks.

Two steps, each its own function, so a slow or failing endpoint never slows sending or receipts:

1. ``StatusEvents`` reads the Messages table's stream: each change of a message to ``Sent``,
   ``Delivered``, ``Failed`` or ``Insufficient funds`` becomes a ``StatusEvent``; every event goes to
   the platform's event bus (``SMS status changed``), and the events of tenants with a status
   callback go onto the callback queue, one SQS message each.
2. ``CallbackDelivery`` takes them from the queue and posts each, signed like the reply webhook
   (``X-Timestamp``, ``X-Signature`` = HMAC-SHA256 of ``<timestamp>.<body>``) with the event id in
   ``X-Event-Id``. A failed attempt makes the event visible again after the retry delay
   (``retry_delay_seconds``); one that fails when the change is older than ``GIVE_UP_AFTER`` goes
   to the dead-letter queue. While the tenant's circuit is open its events wait for it, unposted.
   Every attempt is logged.

Delivery is at least once: a stream batch or a queue message may be handled twice, and the event id
lets the receiver drop a repeat; ``sequence`` orders a message's events.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from functions.dal.callback_queue import CallbackQueue
from functions.dal.callbacks import CallbacksTable, DeliveryAttempt, InvalidCursor, StatusCallback
from functions.domain.callbacks import (
    AttemptOutcome,
    Circuit,
    StatusEvent,
    gives_up,
    retry_delay_seconds,
    status_events,
)
from functions.domain.errors import InvalidInput, NotFound
from functions.domain.messages import Message, utc_now
from functions.domain.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from functions.integrations.outbound_url import parse_outbound_url
from functions.integrations.webhooks import PostResult
from functions.observability import logger

STATUS_EVENT_DETAIL_TYPE = "SMS status changed"
EVENT_ID_HEADER = "X-Event-Id"
REGISTRATION_CACHE_SECONDS = 60.0  # how soon a new or removed callback is seen by the stream reader
RESPONSE_EXCERPT = 200  # characters of an answer kept in the delivery log


SECRET_PREFIX = "whsec_"


class StatusCallbacks:
    """A tenant's status callback: register (a new secret each time), read, remove; its delivery log."""

    def __init__(
        self, callbacks: CallbacksTable, allow_loopback: bool = False, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._callbacks = callbacks
        self._allow_loopback = allow_loopback
        self._clock = clock

    def register(self, tenant_id: str, url: str) -> StatusCallback:
        checked = parse_outbound_url(url, self._allow_loopback, "url")
        callback = StatusCallback(
            url=checked.url, secret=SECRET_PREFIX + secrets.token_urlsafe(32), created_at=self._clock()
        )
        self._callbacks.put_callback(tenant_id, callback)
        return callback

    def get(self, tenant_id: str) -> StatusCallback:
        callback = self._callbacks.get_callback(tenant_id)
        if callback is None:
            raise NotFound("no status callback is registered", "url")
        return callback

    def remove(self, tenant_id: str) -> None:
        if not self._callbacks.delete_callback(tenant_id):
            raise NotFound("no status callback is registered", "url")

    def attempts(
        self, tenant_id: str, limit: int, cursor: str | None
    ) -> tuple[list[DeliveryAttempt], str | None]:
        try:
            return self._callbacks.attempts(tenant_id, limit, cursor)
        except InvalidCursor as error:
            raise InvalidInput("cursor", "the cursor is not one this API returned") from error


class EventBus(Protocol):
    def publish_many(self, detail_type: str, details: list[dict[str, object]]) -> None: ...


class CallbackPoster(Protocol):
    def post_for_result(self, url: str, body: bytes, headers: dict[str, str]) -> PostResult: ...


@dataclass
class PublishReport:
    events: int = 0
    queued: int = 0


class StatusEvents:
    def __init__(
        self,
        callbacks: CallbacksTable,
        queue: CallbackQueue,
        bus: EventBus,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._callbacks = callbacks
        self._queue = queue
        self._bus = bus
        self._monotonic = monotonic
        self._registered: dict[str, tuple[float, bool]] = {}

    def publish(self, changes: Iterable[tuple[Message | None, Message]]) -> PublishReport:
        """Publish the events of these (before, after) pairs; the bus first, then the callback queue."""
        events = [event for before, after in changes for event in status_events(before, after)]
        report = PublishReport(events=len(events))
        if not events:
            return report
        self._bus.publish_many(STATUS_EVENT_DETAIL_TYPE, [event.model_dump(mode="json") for event in events])
        wanted = [event for event in events if self._has_callback(event.tenant_id)]
        self._queue.enqueue(wanted)
        report.queued = len(wanted)
        return report

    def _has_callback(self, tenant_id: str) -> bool:
        now = self._monotonic()
        cached = self._registered.get(tenant_id)
        if cached is None or now - cached[0] > REGISTRATION_CACHE_SECONDS:
            cached = (now, self._callbacks.get_callback(tenant_id) is not None)
            self._registered[tenant_id] = cached
        return cached[1]


@dataclass
class QueuedEvent:
    event: StatusEvent
    attempt: int  # 1 for the first receive (SQS's ApproximateReceiveCount)
    receipt_handle: str


class RetryLater(Exception):
    """The event is to be received again after its delay (the batch reports it as failed)."""


@dataclass
class _TenantState:
    callback: StatusCallback | None
    circuit: Circuit


@dataclass
class DeliveryBatch:
    """One invocation's reads, shared by its events: each tenant's callback and circuit read once."""

    tenants: dict[str, _TenantState] = field(default_factory=dict)
    attempts: dict[str, list[DeliveryAttempt]] = field(default_factory=dict)


class CallbackDelivery:
    def __init__(
        self,
        callbacks: CallbacksTable,
        queue: CallbackQueue,
        poster: CallbackPoster,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._callbacks = callbacks
        self._queue = queue
        self._poster = poster
        self._clock = clock

    def deliver(self, queued: QueuedEvent, batch: DeliveryBatch) -> AttemptOutcome:
        """Post one event; raise RetryLater when it must come again (its visibility already set)."""
        event = queued.event
        state = self._state(event.tenant_id, batch)
        now = self._clock()
        if state.callback is None:
            return AttemptOutcome.NO_CALLBACK
        if state.circuit.is_open(now):
            assert state.circuit.open_until is not None
            wait = int((state.circuit.open_until - now).total_seconds()) + 1
            self._queue.retry_in(queued.receipt_handle, wait)
            self._log(batch, queued, AttemptOutcome.CIRCUIT_OPEN, PostResult(None, "circuit open"), 0)
            raise RetryLater(f"the circuit is open for {wait} s")
        body = event.model_dump_json().encode()
        timestamp = int(now.timestamp())
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(state.callback.secret, timestamp, body),
            EVENT_ID_HEADER: event.event_id,
            "User-Agent": "outbound-sms-callbacks/1",
        }
        started = time.monotonic()
        result = self._poster.post_for_result(state.callback.url, body, headers)
        elapsed_ms = int((time.monotonic() - started) * 1000)
        if result.ok:
            if state.circuit.failures:
                self._callbacks.close_circuit(event.tenant_id)
                state.circuit = Circuit()
            self._log(batch, queued, AttemptOutcome.DELIVERED, result, elapsed_ms)
            return AttemptOutcome.DELIVERED
        state.circuit = self._callbacks.record_failure(event.tenant_id, now)
        if gives_up(event, now):
            self._log(batch, queued, AttemptOutcome.GAVE_UP, result, elapsed_ms)
            logger.error("status callback given up", event_id=event.event_id, tenant_id=event.tenant_id)
            self._queue.dead_letter(event)
            return AttemptOutcome.GAVE_UP
        self._log(batch, queued, AttemptOutcome.FAILED, result, elapsed_ms)
        self._queue.retry_in(queued.receipt_handle, retry_delay_seconds(queued.attempt))
        raise RetryLater(f"attempt {queued.attempt} failed: {result.text}")

    def finish(self, batch: DeliveryBatch) -> None:
        """Write the batch's delivery log (one batch write per tenant)."""
        for tenant_id, attempts in batch.attempts.items():
            self._callbacks.log_attempts(tenant_id, attempts)

    def _state(self, tenant_id: str, batch: DeliveryBatch) -> _TenantState:
        state = batch.tenants.get(tenant_id)
        if state is None:
            state = _TenantState(self._callbacks.get_callback(tenant_id), self._callbacks.circuit(tenant_id))
            batch.tenants[tenant_id] = state
        return state

    def _log(
        self, batch: DeliveryBatch, queued: QueuedEvent, outcome: AttemptOutcome, result: PostResult, ms: int
    ) -> None:
        batch.attempts.setdefault(queued.event.tenant_id, []).append(
            DeliveryAttempt(
                event_id=queued.event.event_id,
                message_id=queued.event.message_id,
                attempt=queued.attempt,
                attempted_at=self._clock(),
                outcome=outcome,
                http_status=result.status,
                response=result.text[:RESPONSE_EXCERPT] or None,
                duration_ms=ms if outcome is not AttemptOutcome.CIRCUIT_OPEN else None,
            )
        )


def parse_queued(body: str, attempt: int, receipt_handle: str) -> QueuedEvent:
    return QueuedEvent(StatusEvent.model_validate(json.loads(body)), attempt, receipt_handle)
