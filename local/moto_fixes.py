"""Work around moto costs that grow with data, so local runs and benchmarks measure us, not moto.

SQS: moto reads ``queue.attributes.get("ContentBasedDeduplication")`` on every SendMessage, and the
``attributes`` property counts every message in the queue (visible, delayed, in flight) to build
the whole dict: sending N messages into one queue costs O(N^2). The fix answers that one key
without the counts and builds the full dict only when something asks for another key.

DynamoDB: ``TransactWriteItems`` deep-copies every table it touches, to roll back if it is
cancelled, so each transaction costs as much as the whole table (the ledger grows by an entry per
message). The fix lets the table stand and snapshots only the items the transaction names; a
cancelled transaction puts exactly those back.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from types import SimpleNamespace
from typing import Any

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
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


_ORIGINAL_TRANSACT = DynamoDBBackend.transact_write_items


def _copy_all_but_tables(value: Any) -> Any:
    return value if isinstance(value, Table) else copy.deepcopy(value)


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    snapshots: list[tuple[str, dict[str, Any], Any]] = []
    for entry in transact_items[:100]:
        operation: dict[str, Any] = next(iter(entry.values()), {})
        name = operation.get("TableName")
        if name not in self.tables:
            continue
        table = self.tables[name]
        key = operation.get("Key")
        if key is None and "Item" in operation:
            names = [n for n in (table.hash_key_attr, table.range_key_attr) if n is not None]
            key = {n: operation["Item"][n] for n in names if n in operation["Item"]}
        if key:
            snapshots.append((name, key, copy.deepcopy(self.get_item(name, key))))
    try:
        _ORIGINAL_TRANSACT(self, transact_items)
    except Exception:
        for name, key, item in reversed(snapshots):
            if item is None:
                if self.get_item(name, key) is not None:
                    self.delete_item(name, key)
            else:
                self.tables[name].put_item(item.to_json()["Attributes"])
        raise


def apply() -> None:
    Queue.attributes = property(lambda queue: _LazyAttributes(queue))  # type: ignore[assignment,method-assign]
    # The original's table copies become no-ops; the wrapper's item snapshots do the rolling back.
    dynamodb_models.copy = SimpleNamespace(deepcopy=_copy_all_but_tables)  # type: ignore[assignment,attr-defined]
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
