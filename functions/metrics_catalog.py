"""The service's CloudWatch metrics: the names the functions emit, which the stack's alarms and
dashboard read. Plain constants (no AWS imports), so the CDK app can import them too.

Dimensions stay few: every metric carries ``service``; ``MessagesFailed`` adds ``Reason`` (the
reject reasons, about ten values) and ``PartsSent`` adds ``OriginationNumber`` (the operator's
transport codes). Tenants are never a dimension: a tenant's id goes into the log line instead.
"""

from __future__ import annotations

NAMESPACE = "OutboundSms"
SERVICE = "outbound-sms"
SERVICE_DIMENSION = "service"
REASON_DIMENSION = "Reason"
ORIGINATION_DIMENSION = "OriginationNumber"

# api: messages a send or a template send queued.
MESSAGES_ACCEPTED = "MessagesAccepted"
# dispatcher: one metric per outcome, Messages<Outcome> (see outcome_metric).
MESSAGES_SENT = "MessagesSent"
MESSAGES_CARRIER_THROTTLED = "MessagesCarrierThrottled"
MESSAGES_INSUFFICIENT_FUNDS = "MessagesInsufficientFunds"
MESSAGES_RECONCILED = "MessagesReconciled"
# release (every minute), per transport code with ready messages: the age of its oldest one. A code
# whose ready messages grow old has no dispatcher running (or its carrier refuses it).
OLDEST_READY_SECONDS = "OldestReadyMessageAge"
# dispatcher, per transport code: message parts handed to the carrier.
PARTS_SENT = "PartsSent"
# receipts: messages the carrier delivered.
MESSAGES_DELIVERED = "MessagesDelivered"
# dispatcher (refused or expired before the carrier) and receipts (a failed delivery), per reason.
MESSAGES_FAILED = "MessagesFailed"
# dispatcher: a tenant's balance, when a dispatcher reads it, is below the tenant's threshold.
BALANCE_BELOW_THRESHOLD = "BalanceBelowThreshold"
AUTO_BUY = "AutoBuy"
AUTO_BUY_FAILED = "AutoBuyFailed"
# status events: status changes read from the Messages stream; callbacks posted and taken.
STATUS_EVENTS = "StatusEvents"
STATUS_CALLBACKS_DELIVERED = "StatusCallbacksDelivered"
STATUS_CALLBACKS_FAILED = "StatusCallbacksFailed"


def outcome_metric(outcome: str) -> str:
    """A dispatch outcome's metric: carrier_throttled -> MessagesCarrierThrottled."""
    return "Messages" + "".join(part.title() for part in outcome.split("_"))
