"""Key and Attr conditions built by many threads through one client, each with its own placeholders.

boto3 turns a request's ``Key``/``Attr`` conditions into expression text with one placeholder
builder per client, reset at the start of every request (``TransformationInjector``). Two threads
sending through one resource's client at once number their placeholders over each other's, and a
request goes out naming the wrong attribute: a query "missed key schema element", or a filter
loses one of its terms. A dispatcher's threads (its control loop, its Sent records, its lease)
share their tables' client, and so do the dispatchers of one process and, in the local runtime,
concurrent invocations of one function. Building a request's expressions is made atomic: one lock
around it, held for the microseconds the text takes.
"""

from __future__ import annotations

import threading
from typing import Any

from boto3.dynamodb.transform import TransformationInjector

_BUILDING = threading.Lock()
_ORIGINAL = TransformationInjector.inject_condition_expressions


def _inject_condition_expressions(
    self: TransformationInjector, params: Any, model: Any, **kwargs: Any
) -> None:
    with _BUILDING:
        _ORIGINAL(self, params, model, **kwargs)


def apply() -> None:
    """Make the condition expressions' building atomic (idempotent)."""
    TransformationInjector.inject_condition_expressions = _inject_condition_expressions  # type: ignore[method-assign]
