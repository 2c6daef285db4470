"""Work around moto costs that grow with data, so local runs and benchmarks measure us, not moto.

SQS: moto reads single settings through ``queue.attributes`` (``ContentBasedDeduplication`` on every
SendMessage, ``MessageRetentionPeriod`` for every message ReceiveMessage returns), and that property
counts every message in the queue (visible, delayed, in flight) to build the whole dict: sending or
receiving N messages through one queue costs O(N^2). The fix answers a setting without the counts
and counts only when a count is asked for.

DynamoDB: ``TransactWriteItems`` deep-copies every table it touches, to roll back if it is
cancelled, so each transaction costs as much as the whole table (the ledger grows by an entry per
message). The fix lets the table stand and snapshots only the items the transaction names; a
cancelled transaction puts exactly those back. moto also writes a transaction's items one by one,
each with its stream record, before it finds that a later item's condition fails: a cancelled
transaction left records of writes that never happened (and of their undoing), which the stream's
readers took for real changes. As on AWS, a transaction's records now appear only once it commits.

DynamoDB: moto serializes every response through the API's shapes, one attribute-picker call per
member of every AttributeValue of every item (ten members each), so reading a 1 MB page of items
costs seconds. The items a read returns are already in wire form (``{"S": ...}``, ``{"N": ...}``;
binary as bytes), so the fix serializes the rest of the response as moto does and writes the items
as JSON directly, binary values base64-encoded as the service does.

DynamoDB Streams: GetRecords goes through the same serializer, and its records carry a message's
old and new images, so the stream readers (kicks, status events) took a third of the table
server's time. Its records are in wire form too; the fix writes them as JSON directly (the creation
time as epoch seconds, as the service does).

DynamoDB: a Query reads (and sorts) every item of its table to find the ones with its partition key,
on a table or an index, so each Query costs as much as the whole table (a dispatcher reads its code's
ready index many times a second while a job's messages fill the table). The fix keeps, per table,
its items by partition key for each index it was queried by, refreshed for just the items written
since, and lets the original Query see only those. A forward query of one partition, of the table or
of an index with a range key, sees only the run of items its page can hold, in the order moto gives
them (an index's: its range key, then the table's keys), sorted on native values once per change of
the partition: moto sorted a code's whole ready backlog with its typed comparisons on every read.
"""

from __future__ import annotations

import base64
import bisect
import copy
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import moto.dynamodb.models as dynamodb_models
from moto.core.responses import ActionContext, ActionResult
from moto.core.utils import camelcase_to_underscores
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoResult
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
from moto.sqs.models import Queue

_ORIGINAL = Queue.attributes
# The only attributes that count messages; every other one is a field of the queue.
_COUNTED = frozenset(
    (
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesDelayed",
        "ApproximateNumberOfMessagesNotVisible",
    )
)


def _uncounted(queue: Queue) -> dict[str, Any]:
    """What ``Queue.attributes`` holds, but for the counts, built the way moto builds it."""
    names = [name for name in queue.BASE_ATTRIBUTES if name not in _COUNTED]
    if queue.fifo_queue:
        names += queue.FIFO_ATTRIBUTES
    if queue.kms_master_key_id:  # type: ignore[attr-defined]
        names += queue.KMS_ATTRIBUTES
    result = {name: getattr(queue, camelcase_to_underscores(name)) for name in names}
    if queue.policy:
        result["Policy"] = queue.policy
    if queue.redrive_policy:
        result["RedrivePolicy"] = json.dumps(queue.redrive_policy)
    return {key: str(value).lower() if isinstance(value, bool) else value for key, value in result.items()}


class _LazyAttributes(Mapping[str, Any]):
    """Counts messages only when a count is asked for (GetQueueAttributes), not for a setting."""

    def __init__(self, queue: Queue) -> None:
        self._queue = queue
        self._settings: dict[str, Any] | None = None
        self._full: dict[str, Any] | None = None

    def _uncounted(self) -> dict[str, Any]:
        if self._settings is None:
            self._settings = _uncounted(self._queue)
        return self._settings

    def _all(self) -> dict[str, Any]:
        if self._full is None:
            self._full = _ORIGINAL.fget(self._queue)  # type: ignore[attr-defined]
        return self._full

    def __getitem__(self, key: str) -> Any:
        return self._all()[key] if key in _COUNTED else self._uncounted()[key]

    def __contains__(self, key: object) -> bool:
        return key in _COUNTED or key in self._uncounted()

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


_ORIGINAL_TRANSACT = DynamoDBBackend.transact_write_items


def _copy_all_but_tables(value: Any) -> Any:
    return value if isinstance(value, Table) else copy.deepcopy(value)


class _HeldStream:
    """Stands in for a table's stream shard during a transaction: the records wait for its commit."""

    def __init__(self, shard: Any) -> None:
        self.shard = shard
        self.held: list[tuple[Any, Any]] = []

    def add(self, old: Any, new: Any) -> None:
        self.held.append((old, new))


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    operations: list[dict[str, Any]] = [next(iter(entry.values()), {}) for entry in transact_items[:100]]
    names = {operation.get("TableName") for operation in operations}
    streams = {
        name: _HeldStream(self.tables[name].stream_shard)
        for name in names
        if name in self.tables and self.tables[name].stream_shard is not None
    }
    for name, held in streams.items():
        self.tables[name].stream_shard = held  # type: ignore[assignment]
    try:
        _transact_with_snapshots(self, transact_items)
    finally:
        for name, held in streams.items():
            self.tables[name].stream_shard = held.shard
    for held in streams.values():  # committed: its records, in order (a cancelled one has none)
        for old, new in held.held:
            held.shard.add(old, new)


def _transact_with_snapshots(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
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


# The item-carrying members of the responses that can hold many items.
_ITEM_MEMBERS = {"Query": "Items", "Scan": "Items", "GetItem": "Item", "BatchGetItem": "Responses"}
_ORIGINAL_DYNAMO_RESULT = DynamoResult.execute_result


def _wire_bytes(value: object) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _execute_dynamo_result(self: DynamoResult, context: ActionContext) -> Any:
    member = _ITEM_MEMBERS.get(context.operation_model.name)
    result = self.result
    if member is None or not isinstance(result, dict) or member not in result:
        return _ORIGINAL_DYNAMO_RESULT(self, context)
    rest = ActionResult({key: value for key, value in result.items() if key != member})
    status, headers, body = rest.execute_result(context)
    payload = json.loads(body) if body else {}
    payload[member] = result[member]
    encoded = json.dumps(payload, default=_wire_bytes)
    if "Content-Length" in headers:
        headers["Content-Length"] = str(len(encoded.encode()))
    return status, headers, encoded


class _PartitionMaps:
    """One table's items by an index's partition key, kept up to date by marking written keys.

    Each partition's keys are kept sorted (by native values of the item's keys, computed once per
    write: comparing moto's typed values sorts a 100,000-item partition in seconds), and the sorted
    list is reused until a write adds an item to that partition or takes one out of it.
    """

    def __init__(self, table: Table) -> None:
        self._table = table
        self._maps: dict[str, dict[Any, set[Any]]] = {}  # attribute -> value -> item keys
        self._values: dict[str, dict[Any, Any]] = {}  # attribute -> item key -> its value
        self._dirty: dict[str, set[Any]] = {}
        self._sorted: dict[str, dict[Any, list[Any]]] = {}  # attribute -> value -> keys in order
        # (attribute, index range attribute) -> value -> ((its native value, the item's _order), key)
        self._index_sorted: dict[tuple[str, str], dict[Any, list[tuple[tuple[Any, Any], Any]]]] = {}
        self._order: dict[Any, tuple[Any, Any]] = {}  # item key -> its native sort values

    def mark(self, key: Any) -> None:
        for dirty in self._dirty.values():
            dirty.add(key)

    def items_with(self, attribute: str, value: Any) -> list[Any]:
        return [item for key in self._keys(attribute, value) if (item := self._lookup(key)) is not None]

    def table_page(
        self,
        value: Any,
        start: dict[str, Any] | None,
        comparison: str | None,
        bounds: list[Any],
        limit: int | None,
    ) -> list[Any]:
        """What a forward table query of one partition can return: the items after ``start`` that
        meet the key condition, as many as its page can hold (``limit``, or 1 MB) and the next one
        (moto looks at it to end the page as it does). Key conditions select a run of the sorted keys."""
        from moto.dynamodb.models.dynamo_type import DynamoType

        attribute = self._table.hash_key_attr
        keys = self._keys(attribute, value)
        first = 0
        if start and self._table.range_key_attr:
            after = DynamoType(start[self._table.range_key_attr]).cast_value
            first = bisect.bisect_right(keys, after, key=lambda key: self._order[key][1])
        return self._run(keys[first:], lambda item: item.range_key, comparison, bounds, limit)

    def index_page(
        self,
        attribute: str,
        value: Any,
        range_attribute: str,
        start: dict[str, Any] | None,
        comparison: str | None,
        bounds: list[Any],
        limit: int | None,
    ) -> list[Any]:
        """As ``table_page``, for a forward query of one partition of an index: its items in the
        order moto gives an index (its range key, then the table's keys), from the one after
        ``start``, that meet the key condition, as many as the page can hold and the next one."""
        from moto.dynamodb.models.dynamo_type import DynamoType

        entries = self._index_entries(attribute, value, range_attribute)
        first = 0
        if start is not None:
            after = (DynamoType(start[range_attribute]).cast_value, _native(_key_from(self._table, start)))
            first = bisect.bisect_right(entries, after, key=lambda entry: entry[0])
        keys = [key for _, key in entries[first:]]
        return self._run(keys, lambda item: item.attrs[range_attribute], comparison, bounds, limit)

    def _run(
        self,
        keys: list[Any],
        compared: Callable[[Any], Any],
        comparison: str | None,
        bounds: list[Any],
        limit: int | None,
    ) -> list[Any]:
        """The items of ``keys`` (in order) in the run whose ``compared`` value meets the condition,
        as many as a page can hold (``limit``, or 1 MB) and the next one (moto looks at it to end
        the page as it does)."""
        page: list[Any] = []
        size = 0
        for key in keys:
            item = self._lookup(key)
            if item is None:
                continue
            if comparison and not compared(item).compare(comparison, bounds):
                if page:
                    page.append(item)  # past the run the condition selects
                    break
                continue
            page.append(item)
            size += item.size()
            if (limit is not None and len(page) > limit) or size > _RESULT_SIZE_LIMIT:
                break
        return page

    def _index_entries(
        self, attribute: str, value: Any, range_attribute: str
    ) -> list[tuple[tuple[Any, Any], Any]]:
        keys = self._keys(attribute, value)  # brings the partition up to date first
        cached = self._index_sorted.setdefault((attribute, range_attribute), {})
        entries = cached.get(value)
        if entries is None:
            entries = []
            for key in keys:
                item = self._lookup(key)
                ranged = None if item is None else item.attrs.get(range_attribute)
                if ranged is not None:  # an item without the index's range key is not in it
                    entries.append(((ranged.cast_value, self._order[key]), key))
            entries.sort(key=lambda entry: entry[0])
            cached[value] = entries
        return entries

    def _forget(self, attribute: str, value: Any) -> None:
        """A partition changed: its orders are computed again when next read."""
        self._sorted[attribute].pop(value, None)
        for (name, _), cached in self._index_sorted.items():
            if name == attribute:
                cached.pop(value, None)

    def _keys(self, attribute: str, value: Any) -> list[Any]:
        if attribute not in self._maps:
            self._build(attribute)
        for key in self._dirty[attribute]:
            self._refresh(attribute, key)
        self._dirty[attribute] = set()
        keys = self._sorted[attribute].get(value)
        if keys is None:
            keys = sorted(self._maps[attribute].get(value, ()), key=self._order.__getitem__)
            self._sorted[attribute][value] = keys
        return keys

    def _build(self, attribute: str) -> None:
        self._maps[attribute], self._values[attribute], self._dirty[attribute] = {}, {}, set()
        self._sorted[attribute] = {}
        for item in self._table.all_items():
            self._place(attribute, (item.hash_key, item.range_key), item)

    def _refresh(self, attribute: str, key: Any) -> None:
        old = self._values[attribute].pop(key, None)
        if old is not None:
            self._maps[attribute].get(old, set()).discard(key)
            self._forget(attribute, old)
        item = self._lookup(key)
        if item is not None:
            self._place(attribute, key, item)

    def _place(self, attribute: str, key: Any, item: Any) -> None:
        value = item.attrs.get(attribute)
        if value is not None:
            self._values[attribute][key] = value
            self._maps[attribute].setdefault(value, set()).add(key)
            self._forget(attribute, value)
            if key not in self._order:
                self._order[key] = _native(key)

    def _lookup(self, key: Any) -> Any:
        hash_value, range_value = key
        entry = self._table.items.get(hash_value)
        if entry is None:
            return None
        if self._table.range_key_attr:
            return entry.get(range_value)
        return entry


def _native(key: Any) -> tuple[Any, Any]:
    """An item key's native sort values: its hash key's, and its range key's (or ())."""
    hash_value, range_value = key
    return hash_value.cast_value, () if range_value is None else range_value.cast_value


def _maps(table: Table) -> _PartitionMaps:
    maps = table.__dict__.get("_partition_maps")
    if maps is None:
        maps = table.__dict__["_partition_maps"] = _PartitionMaps(table)
    return maps


_ORIGINAL_QUERY = Table.query
_ORIGINAL_PUT = Table.put_item
_ORIGINAL_DELETE = Table.delete_item
_ORIGINAL_UPDATE = DynamoDBBackend.update_item


_RESULT_SIZE_LIMIT = 1_000_000  # moto's page size limit (DynamoDB's 1 MB)
_INDEX_NAME_AT = 6  # query's positional parameters after hash_key: ..., projection_expressions, index_name


def _query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
    index_name = kwargs.get("index_name") or (args[_INDEX_NAME_AT] if len(args) > _INDEX_NAME_AT else None)
    conditions = kwargs.get("hash_key_conditions") or []
    if index_name and len(conditions) == 1:
        attribute, value = conditions[0]
    elif not index_name and hash_key is not None:
        attribute, value = self.hash_key_attr, hash_key
    else:
        return _ORIGINAL_QUERY(self, hash_key, *args, **kwargs)
    forward = (args[4] if len(args) > 4 else kwargs.get("scan_index_forward", True)) is not False
    legacy_filters = set(kwargs) - {"hash_key_conditions", "range_key_conditions"}
    ranges = kwargs.get("range_key_conditions") or []
    plain = (
        not legacy_filters and all(name == self.range_key_attr for name, *_ in ranges) and len(ranges) <= 1
    )
    index_range = _index_range_attribute(self, index_name) if index_name else None
    index_plain = not legacy_filters and len(ranges) <= 1 and all(name == index_range for name, *_ in ranges)
    if not index_name and forward and plain and len(args) >= 4:
        # One partition of the table, forward: only the run of items its page can hold is read.
        comparison, bounds, limit, start = args[0], args[1], args[2], args[3]
        candidates = _maps(self).table_page(value, start, comparison, bounds, limit)
    elif (
        index_range is not None
        and forward
        and index_plain
        and len(args) >= 4
        and _start_within(self, args[3], attribute, value, index_range)
    ):
        # One partition of an index, forward: the same, in the index's order.
        comparison, bounds, limit, start = args[0], args[1], args[2], args[3]
        candidates = _maps(self).index_page(attribute, value, index_range, start, comparison, bounds, limit)
    else:
        candidates = _maps(self).items_with(attribute, value)
    self.__dict__["all_items"] = lambda: candidates  # what the original reads, for this call only
    try:
        return _ORIGINAL_QUERY(self, hash_key, *args, **kwargs)
    finally:
        del self.__dict__["all_items"]


def _start_within(
    table: Table, start: dict[str, Any] | None, attribute: str, value: Any, ranged: str
) -> bool:
    """Whether a query's start key (if any) is a whole key of an item in this index partition; any
    other start is left to moto's own query, which refuses or reads it as it always did."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    if start is None:
        return True
    names = [
        attribute,
        ranged,
        table.hash_key_attr,
        *([table.range_key_attr] if table.range_key_attr else []),
    ]
    return all(name in start for name in names) and DynamoType(start[attribute]) == value


def _index_range_attribute(table: Table, index_name: str) -> str | None:
    """The range key of an index with one hash key and one range key; None for any other index."""
    index = next((index for index in table.all_indexes() if index.name == index_name), None)
    if index is None:
        return None
    kinds = [key["KeyType"] for key in index.schema]
    if kinds != ["HASH", "RANGE"]:
        return None
    return str(index.schema[1]["AttributeName"])


def _key_from(table: Table, attrs: dict[str, Any]) -> Any:
    from moto.dynamodb.models.dynamo_type import DynamoType

    hash_value = DynamoType(attrs[table.hash_key_attr])
    range_value = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
    return hash_value, range_value


def _put_item(self: Table, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
    result = _ORIGINAL_PUT(self, item_attrs, *args, **kwargs)
    _maps(self).mark(_key_from(self, item_attrs))
    return result


def _delete_item(self: Table, hash_value: Any, range_value: Any = None, *args: Any, **kwargs: Any) -> Any:
    result = _ORIGINAL_DELETE(self, hash_value, range_value, *args, **kwargs)
    _maps(self).mark((hash_value, range_value if self.range_key_attr else None))
    return result


def _update_item(
    self: DynamoDBBackend, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any
) -> Any:
    try:
        return _ORIGINAL_UPDATE(self, table_name, key, *args, **kwargs)
    finally:
        table = self.get_table(table_name)
        _maps(table).mark(_key_from(table, key))


class _StreamRecords(ActionResult):
    """GetRecords' answer: the records (already in wire form) written as JSON directly."""

    def execute_result(self, context: ActionContext) -> Any:
        result = dict(self.result)  # type: ignore[call-overload]
        records = result.pop("Records", [])
        status, headers, body = ActionResult(result).execute_result(context)
        payload = json.loads(body) if body else {}
        payload["Records"] = records
        encoded = json.dumps(payload, default=_wire_stream_value)
        if "Content-Length" in headers:
            headers["Content-Length"] = str(len(encoded.encode()))
        return status, headers, encoded


def _wire_stream_value(value: object) -> Any:
    if isinstance(value, datetime):  # ApproximateCreationDateTime: epoch seconds on the wire
        return value.replace(tzinfo=value.tzinfo or UTC).timestamp()
    return _wire_bytes(value)


def _get_records(self: DynamoDBStreamsHandler) -> ActionResult:
    result = _ORIGINAL_GET_RECORDS(self)
    return _StreamRecords(result.result)


_ORIGINAL_GET_RECORDS = DynamoDBStreamsHandler.get_records


def apply() -> None:
    Queue.attributes = property(lambda queue: _LazyAttributes(queue))  # type: ignore[assignment,method-assign]
    # The original's table copies become no-ops; the wrapper's item snapshots do the rolling back.
    dynamodb_models.copy = SimpleNamespace(deepcopy=_copy_all_but_tables)  # type: ignore[assignment,attr-defined]
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
    DynamoResult.execute_result = _execute_dynamo_result  # type: ignore[method-assign,assignment]
    DynamoDBStreamsHandler.get_records = _get_records  # type: ignore[method-assign]
    Table.query = _query  # type: ignore[method-assign]
    Table.put_item = _put_item  # type: ignore[method-assign]
    Table.delete_item = _delete_item  # type: ignore[assignment,method-assign]
    DynamoDBBackend.update_item = _update_item  # type: ignore[method-assign]
