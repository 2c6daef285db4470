"""EventBridge: inbound replies and opt-out changes as events on the platform's bus."""

from __future__ import annotations

import json
from typing import Any, Protocol

EVENT_SOURCE = "outbound-sms"
PUT_EVENTS_LIMIT = 10


class PutEventsClient(Protocol):
    def put_events(self, *, Entries: list[dict[str, Any]]) -> Any: ...


class EventPublishFailed(Exception):
    """EventBridge refused the event; the caller's work is retried (it is idempotent)."""


class EventBridgePublisher:
    def __init__(self, client: PutEventsClient, bus_name: str, source: str = EVENT_SOURCE) -> None:
        self._client = client
        self._bus_name = bus_name
        self._source = source

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        response = self._client.put_events(
            Entries=[
                {
                    "EventBusName": self._bus_name,
                    "Source": self._source,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail),
                }
            ]
        )
        if response.get("FailedEntryCount"):
            (entry,) = response["Entries"]
            raise EventPublishFailed(f"{entry.get('ErrorCode')}: {entry.get('ErrorMessage')}")

    def publish_many(self, detail_type: str, details: list[dict[str, Any]]) -> None:
        """Publish events of one type, ten entries a request (PutEvents' limit)."""
        for start in range(0, len(details), PUT_EVENTS_LIMIT):
            entries = [
                {
                    "EventBusName": self._bus_name,
                    "Source": self._source,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail, default=str),
                }
                for detail in details[start : start + PUT_EVENTS_LIMIT]
            ]
            response = self._client.put_events(Entries=entries)
            if response.get("FailedEntryCount"):
                failed = [entry for entry in response["Entries"] if entry.get("ErrorCode")]
                raise EventPublishFailed(f"{len(failed)} events refused: {failed[0].get('ErrorCode')}")
