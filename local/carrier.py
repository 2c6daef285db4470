"""A carrier simulator for AWS End User Messaging SMS, served inside botocore.

It answers ``pinpoint-sms-voice-v2`` ``SendTextMessage`` from the ``before-call`` event, after
botocore has validated and serialized the request, so the sender's real boto3 call is what runs.
It records every accepted message (time, origination identity, parts), refuses with
``ThrottlingException`` when an origination's parts in the last second would exceed its limit,
and later emits delivery events to the configuration set's event destinations. It also plays the
recipients' side: ``receive`` turns a text a recipient sends to one of our numbers into AWS's
two-way SMS payload, published to the inbound topic as each number's two-way channel would.
"""

from __future__ import annotations

import heapq
import itertools
import json
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.handlers import BUILTIN_HANDLERS

from functions.domain.segments import count_segments

SERVICE_EVENT = "before-call.pinpoint-sms-voice-v2"
DEFAULT_PARTS_PER_SECOND = 100.0

# Published event -> (SNS topic ARN, event JSON)
EventSink = Callable[[str, str], None]


@dataclass(frozen=True)
class SentRecord:
    at: float  # epoch seconds
    origination: str
    destination: str
    body: str
    parts: int
    carrier_message_id: str
    configuration_set: str | None
    context: dict[str, str]


@dataclass
class SimulatorSettings:
    receipt_delay_seconds: float = 1.0
    failure_ratio: float = 0.0  # share of messages that end TEXT_CARRIER_UNREACHABLE instead of delivered
    seed: int = 7
    parts_per_second: dict[str, float] = field(default_factory=dict)
    default_parts_per_second: float = DEFAULT_PARTS_PER_SECOND
    # Destinations with a fixed outcome (an event type such as TEXT_BLOCKED), like AWS's simulator numbers.
    fixed_outcomes: dict[str, str] = field(default_factory=dict)
    opted_out: set[str] = field(default_factory=set)
    # Destinations whose carrier reports no TEXT_DELIVERED: their last event is TEXT_SUCCESSFUL, final.
    successful_is_final: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class WindowReport:
    """The measure of pacing: the fullest one-second window of an origination's parts."""

    parts: int
    busiest: int  # the most parts in any window [t, t+1 s)
    violations: int  # windows over the limit that hold more than one message


def busiest_windows(records: list[SentRecord], origination: str, limit: float) -> WindowReport:
    """Slide a one-second window over every send; a lone message over the limit is what it must be."""
    sends = sorted((record.at, record.parts) for record in records if record.origination == origination)
    busiest = violations = 0
    end = 0
    in_window = 0
    for start, (at, _) in enumerate(sends):
        while end < len(sends) and sends[end][0] < at + 1.0:
            in_window += sends[end][1]
            end += 1
        busiest = max(busiest, in_window)
        if in_window > limit and end - start > 1:
            violations += 1
        in_window -= sends[start][1]
    return WindowReport(sum(parts for _, parts in sends), busiest, violations)


def sns_publisher(sns: Any) -> EventSink:
    """Deliver events as AWS End User Messaging does: published to the destination's SNS topic."""

    def publish(topic_arn: str, event: str) -> None:
        sns.publish(TopicArn=topic_arn, Message=event)

    return publish


class CarrierSimulator:
    def __init__(
        self,
        settings: SimulatorSettings | None = None,
        destinations: dict[str, list[tuple[str, list[str]]]] | None = None,
        sink: EventSink | None = None,
    ) -> None:
        """``destinations``: configuration set name -> [(SNS topic ARN, matching event types)]."""
        self.settings = settings or SimulatorSettings()
        self._destinations = destinations or {}
        self._sink = sink
        self._lock = threading.RLock()  # schedule_event runs inside send_text_message and alone
        self._random = random.Random(self.settings.seed)
        self._windows: dict[str, deque[tuple[float, int]]] = {}
        self._pending: list[tuple[float, int, str, dict[str, Any]]] = []
        self._sequence = itertools.count()
        self.records: list[SentRecord] = []
        self.throttled = 0
        self._inbound_topic: str | None = None
        self.inbound: list[dict[str, Any]] = []  # every inbound payload published

    # ---- wiring ----

    def install(self) -> None:
        """Serve the SMS API in every botocore session created from now on (moto hooks in the same way).

        Global rather than per session: moto replaces boto3's default session whenever a mock starts.
        """
        if not any(entry[1] == self._before_call for entry in BUILTIN_HANDLERS):
            BUILTIN_HANDLERS.append((SERVICE_EVENT, self._before_call))

    def uninstall(self) -> None:
        BUILTIN_HANDLERS[:] = [entry for entry in BUILTIN_HANDLERS if entry[1] != self._before_call]

    def connect(
        self,
        destinations: dict[str, list[tuple[str, list[str]]]],
        sink: EventSink,
        inbound_topic: str | None = None,
    ) -> None:
        """Where delivery events go: configuration set -> [(topic ARN, event types)], published by sink;
        and the SNS topic of every number's two-way channel, for inbound messages."""
        self._destinations = destinations
        self._sink = sink
        self._inbound_topic = inbound_topic

    def match_codes(self, limits: dict[str, float]) -> None:
        """The carrier enforces what the operator registered (each code's parts per second)."""
        self.settings.parts_per_second = {**limits, **self.settings.parts_per_second}

    def reset(self) -> None:
        with self._lock:
            self.records.clear()
            self.inbound.clear()
            self._windows.clear()
            self._pending.clear()
            self.throttled = 0
            self._random = random.Random(self.settings.seed)

    # ---- the service ----

    def _before_call(
        self, model: Any, params: dict[str, Any], **_: Any
    ) -> tuple[AWSResponse, dict[str, Any]]:
        if model.name != "SendTextMessage":
            return _error(400, "ValidationException", f"the simulator does not implement {model.name}")
        request = json.loads(params["body"] or b"{}")
        return self.send_text_message(request)

    def send_text_message(self, request: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
        destination = request["DestinationPhoneNumber"]
        origination = request.get("OriginationIdentity", "")
        body = request["MessageBody"]
        if not destination.startswith("+") or not destination[1:].isdigit():
            return _error(400, "ValidationException", "invalid destination", reason="INVALID_PARAMETER")
        if destination in self.settings.opted_out:
            return _error(
                409, "ConflictException", "destination opted out", reason="DESTINATION_PHONE_NUMBER_OPTED_OUT"
            )
        parts = count_segments(body).segments
        now = time.time()
        with self._lock:
            if not self._admit(origination, parts, now):
                self.throttled += 1
                return _error(400, "ThrottlingException", f"{origination} is over its parts per second")
            record = SentRecord(
                at=now,
                origination=origination,
                destination=destination,
                body=body,
                parts=parts,
                carrier_message_id=str(uuid.uuid4()),
                configuration_set=request.get("ConfigurationSetName"),
                context=dict(request.get("Context", {})),
            )
            self.records.append(record)
            self._schedule_receipt(record)
        return _ok({"MessageId": record.carrier_message_id})

    def _admit(self, origination: str, parts: int, now: float) -> bool:
        limit = self.settings.parts_per_second.get(origination, self.settings.default_parts_per_second)
        window = self._windows.setdefault(origination, deque())
        while window and window[0][0] <= now - 1.0:
            window.popleft()
        in_window = sum(count for _, count in window)
        # A message longer than the limit may go alone into an empty window.
        if in_window and in_window + parts > limit:
            return False
        window.append((now, parts))
        return True

    # ---- delivery events ----

    def _outcome(self, destination: str) -> str:
        fixed = self.settings.fixed_outcomes.get(destination)
        if fixed:
            return fixed
        return (
            "TEXT_CARRIER_UNREACHABLE"
            if self._random.random() < self.settings.failure_ratio
            else "TEXT_DELIVERED"
        )

    def _schedule_receipt(self, record: SentRecord) -> None:
        """As AWS reports a message: accepted by the carrier, then delivered (or failed); where the
        destination's carrier sends no delivery receipt, the success is the last event."""
        delay = self.settings.receipt_delay_seconds
        outcome = self._outcome(record.destination)
        if outcome == "TEXT_DELIVERED" and record.destination in self.settings.successful_is_final:
            self.schedule_event(record, "TEXT_SUCCESSFUL", delay, is_final=True)
            return
        self.schedule_event(record, "TEXT_SUCCESSFUL", delay / 2, is_final=False)
        self.schedule_event(record, outcome, delay)

    def schedule_event(
        self, record: SentRecord, event_type: str, delay_seconds: float = 0.0, is_final: bool | None = None
    ) -> None:
        """A delivery event for a message sent, due ``delay_seconds`` after it was sent (tests send
        late, repeated and out-of-order events through this). ``is_final`` defaults by type."""
        event = {
            "eventType": event_type,
            "eventVersion": "1.0",
            "eventTimestamp": int((record.at + delay_seconds) * 1000),
            "isFinal": event_type not in _INTERIM_EVENTS if is_final is None else is_final,
            "originationPhoneNumber": record.origination,
            "destinationPhoneNumber": record.destination,
            "isoCountryCode": "US",
            "isInternationalSend": False,
            "messageId": record.carrier_message_id,
            "messageRequestTimestamp": int(record.at * 1000),
            "messageEncoding": count_segments(record.body).encoding.value,
            "messageType": "TRANSACTIONAL",
            "messageStatus": event_type.removeprefix("TEXT_"),
            "messageStatusDescription": _DESCRIPTIONS.get(event_type, event_type),
            "context": record.context,
            "totalMessageParts": record.parts,
        }
        due = record.at + delay_seconds
        with self._lock:
            heapq.heappush(self._pending, (due, next(self._sequence), record.configuration_set or "", event))

    def pump(self, now: float | None = None) -> int:
        """Publish every delivery event due by ``now`` (default: the current time); returns how many."""
        cutoff = time.time() if now is None else now
        due: list[tuple[str, dict[str, Any]]] = []
        with self._lock:
            while self._pending and self._pending[0][0] <= cutoff:
                _, _, configuration_set, event = heapq.heappop(self._pending)
                due.append((configuration_set, event))
        for configuration_set, event in due:
            for topic_arn, event_types in self._destinations.get(configuration_set, []):
                if self._sink and (event["eventType"] in event_types or "ALL" in event_types):
                    self._sink(topic_arn, json.dumps(event))
        return len(due)

    def pending_receipts(self) -> int:
        with self._lock:
            return len(self._pending)

    # ---- inbound messages ----

    def receive(self, from_number: str, to_number: str, body: str) -> dict[str, Any]:
        """A recipient texts one of our numbers: publish AWS's two-way payload; returns it."""
        if self._sink is None or self._inbound_topic is None:
            raise RuntimeError("the simulator has no inbound topic to publish to")
        answered = next(
            (
                r
                for r in reversed(self.records)
                if r.origination == to_number and r.destination == from_number
            ),
            None,
        )
        payload: dict[str, Any] = {
            "originationNumber": from_number,
            "destinationNumber": to_number,
            "messageKeyword": "KEYWORD_123456789012",
            "messageBody": body,
            "inboundMessageId": str(uuid.uuid4()),
        }
        if answered is not None:
            payload["previousPublishedMessageId"] = answered.carrier_message_id
        self._sink(self._inbound_topic, json.dumps(payload))
        with self._lock:
            self.inbound.append(payload)
        return payload


# Events that report progress, not an outcome.
_INTERIM_EVENTS = frozenset({"TEXT_QUEUED", "TEXT_PENDING", "TEXT_SUCCESSFUL"})
_DESCRIPTIONS = {
    "TEXT_DELIVERED": "Message has been accepted by phone",
    "TEXT_SUCCESSFUL": "Message has been accepted by phone carrier",
    "TEXT_CARRIER_UNREACHABLE": "The destination carrier is unreachable",
    "TEXT_BLOCKED": "The message was blocked by the carrier",
    "TEXT_SPAM": "The carrier flagged the message as spam",
    "TEXT_TTL_EXPIRED": "The message expired before delivery",
}


def _response(status: int) -> AWSResponse:
    return AWSResponse(url="https://sms-voice.simulator", status_code=status, headers=HTTPHeaders(), raw=None)


def _metadata(status: int) -> dict[str, Any]:
    return {"RequestId": str(uuid.uuid4()), "HTTPStatusCode": status, "HTTPHeaders": {}, "RetryAttempts": 0}


def _ok(body: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    return _response(200), {**body, "ResponseMetadata": _metadata(200)}


def _error(
    status: int, code: str, message: str, reason: str | None = None
) -> tuple[AWSResponse, dict[str, Any]]:
    parsed: dict[str, Any] = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": _metadata(status),
    }
    if reason:
        parsed["Reason"] = reason
    return _response(status), parsed
