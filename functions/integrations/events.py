"""EventBridge: inbound replies and opt-out changes as events on the platform's bus."""

from __future__ import annotations

import json
from typing import Any, Protocol

EVENT_SOURCE = "outbound-sms"


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
