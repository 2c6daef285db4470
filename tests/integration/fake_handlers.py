"""Handlers the Lambda emulation tests invoke by dotted path, as the template names real ones."""

from typing import Any

CALLS: list[dict[str, Any]] = []


def fail_every_item(event: dict[str, Any], context: Any) -> dict[str, Any]:
    CALLS.append(event)
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}


def succeed(event: dict[str, Any], context: Any) -> dict[str, Any]:
    CALLS.append(event)
    assert context.get_remaining_time_in_millis() > 0
    return {"batchItemFailures": []}


def raise_error(event: dict[str, Any], context: Any) -> None:
    CALLS.append(event)
    raise RuntimeError("boom")
