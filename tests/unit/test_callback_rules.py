"""Status events from status changes, the retry schedule and the circuit: pure rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from functions.domain.callbacks import (
    CIRCUIT_MAX_OPEN_SECONDS,
    CIRCUIT_THRESHOLD,
    GIVE_UP_AFTER,
    MAX_RETRY_SECONDS,
    Circuit,
    gives_up,
    retry_delay_seconds,
    status_events,
)
from functions.domain.messages import Message, MessageStatus, Recipient, RejectReason, StatusChange
from functions.domain.segments import Encoding

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def message(*changes: tuple[MessageStatus, RejectReason | None]) -> Message:
    history = [
        StatusChange(status=s, at=T0 + timedelta(seconds=i), reason=r) for i, (s, r) in enumerate(changes)
    ]
    last = history[-1]
    return Message(
        message_id="msg_1",
        tenant_id="t1",
        created_at=T0,
        status=last.status,
        reject_reason=last.reason,
        recipient=Recipient(
            contact_id="c",
            name="N",
            contact_type="Billing",
            related_entity_type="account",
            related_entity_id="a",
            related_entity_name="A",
            phone_number="+14165550123",
        ),
        origination_number="+18005550100",
        template_key="payment_received",
        template_version=1,
        body="hi",
        encoding=Encoding.GSM,
        segments=1,
        price_micros=8000,
        history=history,
    )


P, IP, S, D, F = (
    (MessageStatus.PENDING, None),
    (MessageStatus.IN_PROGRESS, None),
    (MessageStatus.SENT, None),
    (MessageStatus.DELIVERED, None),
    (MessageStatus.FAILED, RejectReason.BLOCKED),
)


def test_each_published_change_is_one_event_numbered_by_its_place_in_the_history():
    (sent,) = status_events(message(P, IP), message(P, IP, S))
    (delivered,) = status_events(message(P, IP, S), message(P, IP, S, D))
    assert (sent.event_id, sent.sequence, sent.status) == ("msg_1:3", 3, MessageStatus.SENT)
    assert (delivered.event_id, delivered.sequence) == ("msg_1:4", 4)
    assert delivered.occurred_at == T0 + timedelta(seconds=3)


def test_one_write_that_reached_two_statuses_is_two_events_and_a_note_is_none():
    # A delivery event that came before the send was recorded: Sent, a note, then Delivered at once
    events = status_events(message(P, IP), message(P, IP, S, S, D))
    assert [(event.sequence, event.status) for event in events] == [
        (3, MessageStatus.SENT),
        (5, MessageStatus.DELIVERED),
    ]
    assert status_events(message(P, IP, S), message(P, IP, S, S)) == []  # a note: no change


def test_a_failure_carries_its_reason_and_unpublished_or_unchanged_statuses_are_silent():
    (failed,) = status_events(message(P, IP, S), message(P, IP, S, F))
    assert failed.reject_reason is RejectReason.BLOCKED
    assert status_events(message(P), message(P, IP)) == []  # In Progress is not published
    assert status_events(message(P, IP, S), message(P, IP, S)) == []  # another attribute changed
    assert status_events(None, message(P)) == []
    (created_failed,) = status_events(None, message(F))  # refused at once: one event
    assert created_failed.sequence == 1


def test_the_same_change_seen_twice_has_the_same_id():
    first = status_events(message(P, IP), message(P, IP, S))
    again = status_events(message(P, IP), message(P, IP, S))
    assert first == again


@given(st.integers(min_value=1, max_value=200))
def test_retries_wait_longer_each_time_up_to_the_cap(attempt):
    delay = retry_delay_seconds(attempt)
    assert 30 <= delay <= MAX_RETRY_SECONDS
    assert retry_delay_seconds(attempt + 1) >= delay


def test_events_are_retried_for_more_than_a_day_of_downtime():
    (event,) = status_events(message(P, IP), message(P, IP, S))
    assert timedelta(hours=24) < GIVE_UP_AFTER
    assert not gives_up(event, event.occurred_at + timedelta(hours=24))
    assert gives_up(event, event.occurred_at + GIVE_UP_AFTER)
    # the schedule really tries across the whole span: attempts until 26 h
    elapsed, attempt = 0, 1
    while elapsed < GIVE_UP_AFTER.total_seconds():
        elapsed += retry_delay_seconds(attempt)
        attempt += 1
    assert attempt > 15


def test_the_circuit_opens_after_consecutive_failures_for_longer_each_time_and_is_bounded():
    circuit = Circuit()
    for _ in range(CIRCUIT_THRESHOLD - 1):
        circuit = circuit.after_failure(T0)
        assert not circuit.is_open(T0)
    circuit = circuit.after_failure(T0)
    assert circuit.is_open(T0)
    assert not circuit.is_open(T0 + timedelta(minutes=1))
    first_open = circuit.open_until
    circuit = circuit.after_failure(T0)
    assert circuit.open_until is not None
    assert first_open is not None
    assert circuit.open_until > first_open
    for _ in range(30):
        circuit = circuit.after_failure(T0)
    assert circuit.open_until == T0 + timedelta(seconds=CIRCUIT_MAX_OPEN_SECONDS)
