"""Work around a moto cost that grows with queue depth, so local runs and benchmarks measure us, not moto.

moto's SQS reads ``queue.attributes.get("ContentBasedDeduplication")`` on every SendMessage, and the
``attributes`` property counts every message in the queue (visible, delayed, in flight) to build
the whole dict: sending N messages into one queue costs O(N^2). The fix answers that one key
without the counts and builds the full dict only when something asks for another key.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from moto.sqs.models import Queue

_ORIGINAL = Queue.attributes
_CHEAP_KEY = "ContentBasedDeduplication"


class _LazyAttributes(Mapping[str, Any]):
    def __init__(self, queue: Queue) -> None:
        self._queue = queue
        self._full: dict[str, Any] | None = None

    def _all(self) -> dict[str, Any]:
        if self._full is None:
            self._full = _ORIGINAL.fget(self._queue)  # type: ignore[attr-defined]
        return self._full

    def get(self, key: str, default: Any = None) -> Any:
        if key == _CHEAP_KEY:
            if not self._queue.fifo_queue:
                return default  # moto lists it for FIFO queues only
            value = getattr(self._queue, "content_based_deduplication", False)  # set from the attributes
            return str(value).lower() if isinstance(value, bool) else value
        return self._all().get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self._all()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


def apply() -> None:
    Queue.attributes = property(lambda queue: _LazyAttributes(queue))  # type: ignore[assignment,method-assign]
