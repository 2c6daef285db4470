"""AWS End User Messaging SMS delivery event types, and what each means for a message when it is final.

Every event carries ``isFinal``. ``TEXT_DELIVERED`` and ``TEXT_SUCCESSFUL`` are used interchangeably
depending on the destination: a final one of either is the delivery. ``TEXT_CARRIER_UNREACHABLE`` is
documented as a temporary error (not final unless the event says so).
"""

from __future__ import annotations

from functions.domain.messages import RejectReason

SUCCESS_EVENTS = frozenset({"TEXT_DELIVERED", "TEXT_SUCCESSFUL"})
FAILURE_REASONS: dict[str, RejectReason] = {
    "TEXT_BLOCKED": RejectReason.BLOCKED,
    "TEXT_CARRIER_BLOCKED": RejectReason.BLOCKED,
    "TEXT_PROTECT_BLOCKED": RejectReason.BLOCKED,
    "TEXT_SPAM": RejectReason.SPAM,
    "TEXT_TTL_EXPIRED": RejectReason.EXPIRED,
    "TEXT_UNREACHABLE": RejectReason.UNREACHABLE,
    "TEXT_CARRIER_UNREACHABLE": RejectReason.UNREACHABLE,
    "TEXT_INVALID": RejectReason.INVALID_NUMBER,
    "TEXT_INVALID_MESSAGE": RejectReason.CARRIER_REJECTED,
    "TEXT_UNKNOWN": RejectReason.UNKNOWN,
}
# What an event without ``isFinal`` is taken to be (AWS sets it on every event; others may not).
FINAL_UNLESS_SAID = {"TEXT_DELIVERED"} | (FAILURE_REASONS.keys() - {"TEXT_CARRIER_UNREACHABLE"})
# The configuration set's destination subscribes to the types that can end a message; progress events
# (TEXT_QUEUED, TEXT_PENDING) would cost a delivery and an invocation each and change nothing.
RECEIPT_EVENT_TYPES = sorted(SUCCESS_EVENTS | FAILURE_REASONS.keys())
