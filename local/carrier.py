"""A carrier simulator for AWS End User Messaging SMS, served over HTTP on 127.0.0.1.

It speaks the service's own protocol (``pinpoint-sms-voice-v2``: JSON 1.0, ``POST /`` with
``X-Amz-Target: PinpointSMSVoiceV2.SendTextMessage``, errors as ``{"__type", "message"}`` bodies), so
the sender's real boto3 client, its connection pool and the socket stand between the sender and the
measurement: point ``AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2`` at ``url``. It times each request when
it arrives, as a carrier does (after ``latency_ms``, a random delay per call standing for the wire),
records every accepted message (time, origination identity, parts), refuses with
``ThrottlingException`` when an origination's parts in the last second would exceed its limit, with
``ConflictException`` (``DESTINATION_PHONE_NUMBER_OPTED_OUT``) for a number opted out at the carrier
and ``ValidationException`` for a bad request, and later emits delivery events to the configuration
set's event destinations as AWS does: ``TEXT_SUCCESSFUL`` (not final) then ``TEXT_DELIVERED`` (final),
or, for destinations whose carrier sends no delivery receipt, ``TEXT_SUCCESSFUL`` final alone. It
also plays the recipients' side: ``receive`` turns a text a recipient sends to one of our numbers
into AWS's two-way SMS payload, published to the inbound topic as each number's two-way channel would.
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from functions.domain.segments import count_segments

CARRIER_ENDPOINT_ENV = "AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2"  # botocore's endpoint setting for the service
TARGET_PREFIX = "PinpointSMSVoiceV2."
JSON_CONTENT_TYPE = "application/x-amz-json-1.0"
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
    # A random delay per request before it arrives (milliseconds, low and high): the wire, the carrier's edge.
    latency_ms: tuple[float, float] = (0.0, 0.0)


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
        self._server: ThreadingHTTPServer | None = None
        self._latency_random = random.Random(self.settings.seed)

    # ---- wiring ----

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Answer the SMS API over HTTP on ``host`` (an ephemeral port by default); returns the URL."""
        if self._server is None:
            self._server = ThreadingHTTPServer((host, port), _handler_for(self))
            self._server.daemon_threads = True
            self._server.request_queue_size = 128
            thread = threading.Thread(
                target=self._server.serve_forever, name="carrier-simulator", daemon=True
            )
            thread.start()
        return self.url

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulator is not serving")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def shutdown(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

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
            self._latency_random = random.Random(self.settings.seed)

    # ---- the service ----

    def handle(self, target: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """One request of the service's JSON protocol: the HTTP status and the JSON body to answer."""
        low, high = self.settings.latency_ms
        if high > 0:
            with self._lock:
                delay = self._latency_random.uniform(low, high) / 1000
            time.sleep(delay)
        operation = target.removeprefix(TARGET_PREFIX)
        if operation != "SendTextMessage" or not target.startswith(TARGET_PREFIX):
            return _error("UnknownOperationException", f"the simulator does not implement {target!r}")
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return _error("SerializationException", "the body is not JSON")
        if not isinstance(request, dict):
            return _error("SerializationException", "the body is not a JSON object")
        return self.send_text_message(request)

    def send_text_message(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        destination = request.get("DestinationPhoneNumber")
        origination = request.get("OriginationIdentity", "")
        body = request.get("MessageBody")
        now = time.time()  # on arrival, before anything else is decided
        if not isinstance(destination, str) or not isinstance(body, str):
            return _error("ValidationException", "DestinationPhoneNumber and MessageBody are required",
                          Reason="MISSING_PARAMETER")  # fmt: skip
        if not destination.startswith("+") or not destination[1:].isdigit():
            return _error("ValidationException", "invalid destination", Reason="INVALID_PARAMETER")
        if destination in self.settings.opted_out:
            return _error(
                "ConflictException", "destination opted out", Reason="DESTINATION_PHONE_NUMBER_OPTED_OUT",
                ResourceType="opt-out-list", ResourceId=destination,
            )  # fmt: skip
        parts = count_segments(body).segments
        with self._lock:
            if not self._admit(origination, parts, now):
                self.throttled += 1
                return _error("ThrottlingException", f"{origination} is over its parts per second")
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
        return 200, {"MessageId": record.carrier_message_id}

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


def _error(code: str, message: str, **fields: str) -> tuple[int, dict[str, Any]]:
    """An error as the JSON protocol carries it: the type, its message and the shape's other fields."""
    return 400, {"__type": code, "message": message, **fields}


def _handler_for(simulator: CarrierSimulator) -> type[BaseHTTPRequestHandler]:
    class SmsApiHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: the client's pool reuses its connections

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            status, answer = simulator.handle(self.headers.get("X-Amz-Target", ""), body)
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", JSON_CONTENT_TYPE)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            if status != 200:
                self.send_header("x-amzn-ErrorType", str(answer["__type"]))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return  # one line per request would drown the runtime's output

    return SmsApiHandler
