"""The Messages table.

Keys and access patterns:
- ``message_id`` (partition key): get one message; every status change is a conditional
  update on it, so a second claim or a late receipt cannot move a final status.
- GSI ``by_ready`` (``ready_key`` = sending number + ``#`` + shard, ``ready_sort``), sparse, with
  the fields a dispatcher sends from (``READY_FIELDS``): each transport code's messages that may go
  now, and then its messages in flight. ``ready_sort`` is ``0#<created>#<id>`` for a triggered
  message, ``1#<created>#<id>`` for a mass or calling-list one (so a page, read in key order, serves
  every triggered message first, then the oldest), and ``9#<claimed>#<id>`` once a dispatcher claimed
  it (In Progress: sent or about to be), which the next lease holder reconciles if its claimer died.
  A message gets the key when it is created Pending and not held, or when its hold is released;
  reaching Sent or any final status removes it. A code's messages spread over ``READY_SHARDS`` keys
  (a hash of the id; 1 today: one key takes 1,000 index writes a second, and a message costs a code
  about four, so a 100 parts/s short code fits); a dispatcher reads every shard and merges them by
  ``ready_sort``. The fan-out keeps a code's ready backlog to a few minutes of sending (a bounded
  COUNT query on the key), so no key ever holds a million rows; a large job writes one key per code.
- GSI ``by_tenant_log`` (``tenant_shard`` = tenant id + ``#`` + shard, ``created_key`` = created
  ISO time + id), carrying only what the log's filters read (``LOG_FIELDS``, a few hundred bytes): a
  tenant's sent-messages log, newest first, with cursor pagination, a page's rows then read from the
  table in one BatchGetItem; "created between" is a range on ``created_key``. The log's other
  filters (status, phone number, related entity, trigger) are filter expressions within the
  tenant's range: DynamoDB reads the rows they drop, so a request stops after
  ``SEARCH_MAX_EVALUATED`` rows and hands back a cursor. A status change rewrites the index's entry
  (one write unit), not a copy of the whole message.
- GSI ``by_job`` (``job_shard`` = job id + ``#`` + shard, ``status``), sparse, keys only: a mass
  message's or calling list's messages per status, for its progress (a COUNT query per status and
  shard), for cancelling its pending messages, and for the log filtered by job (keys from the index,
  then a batch read of the rows).
- GSI ``by_release`` (``release_shard`` = ``HELD#`` + shard, ``release_at``), sparse: held messages
  whose release time has come, for the release schedule (only held messages carry
  ``release_shard``; releasing removes it and keeps ``release_at``, which the log shows).
  ``release_at`` is stored as fixed-width UTC ISO text so that the key's text order is time order.
- GSI ``by_conversation`` (``conversation`` = sending number + ``#`` + recipient number,
  ``created_key``): the latest message from one of our numbers to a number, newest first, to find
  the tenant and the message an inbound reply answers (a code may serve several tenants). Costs one
  index write per message; the alternative, a "last message" item per pair, costs the same write.
- GSI ``by_awaiting_receipt`` (``receipt_shard``, ``sent_at``), sparse, keys only: messages ``Sent``
  and waiting for their final delivery event. The move to ``Sent`` sets both keys (the shard from the
  message id, ``RECEIPT_SHARDS`` of them so that no index key takes more than its share of a high
  send rate); the move to a final status removes the shard. So the index holds only messages in
  flight, costs one index write when a message is sent and one when it ends, and the hourly query for
  those older than the carrier's 72-hour event window reads only the ones that never got an answer.

Sharding. A DynamoDB partition key takes at most 1,000 writes a second, on a table and on each
index. A large job writes every one of its messages under one tenant and one job, and every held
message on the platform under one release key, so those three index keys are spread over
``TENANT_SHARDS``, ``JOB_SHARDS`` and ``RELEASE_SHARDS`` shards (8 each: 8,000 message writes a
second per tenant, job or the platform's holds), the shard taken from a hash of the message id. Reads
merge the shards: the log queries every shard of the tenant and merges them newest first, reading
further only in the shard whose next row is the newest unread (``_merge_newest_first``), and its
cursor is the last row's ``created_key``, where every shard resumes; a job's messages are read
status by status, shard by shard; the release schedule merges the shards earliest first. So a
tenant's or a job's reads cost a query per shard more than before, and a page of the log at most
``TENANT_SHARDS`` queries more. Which keys a large job writes: ``message_id`` (one item each), its
``by_tenant_log`` and ``by_job`` entries spread over 8 shards each, ``by_conversation`` (one pair each).
"""

from __future__ import annotations

import heapq
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from boto3.dynamodb.conditions import Attr, ConditionBase, Key
from botocore.exceptions import ClientError

from functions.dal import cursors
from functions.domain.dispatch import Lane, ReadyMessage, ready_shard
from functions.domain.message_log import MessageQuery, created_key_ceiling, created_key_floor
from functions.domain.messages import (
    FINAL_STATUSES,
    Message,
    MessageStatus,
    Recipient,
    RejectReason,
    StatusChange,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

BY_TENANT_INDEX = "by_tenant_log"
BY_RELEASE_INDEX = "by_release"
BY_JOB_INDEX = "by_job"
BY_CONVERSATION_INDEX = "by_conversation"
BY_READY_INDEX = "by_ready"
READY_SHARDS = 1
IN_FLIGHT = "9"  # ready_sort's prefix once claimed; ready lanes are "0" and "1"
# What the by_ready index carries besides its keys (infra/storage.py projects exactly these).
READY_FIELDS = (
    "message_id", "tenant_id", "status", "origination_number", "recipient", "body", "segments",
    "price_micros", "created_at", "trigger", "job_id", "release_at", "debited", "claim_token", "claimed_at",
    "resends",
)  # fmt: skip
# What the by_tenant_log index carries besides its keys: what its filters read; a page's rows
# are then read from the table. Small, so that a status change rewrites one write unit of it.
LOG_FIELDS = ("status", "created_at", "recipient", "job_id", "trigger")
HELD_SHARD = "HELD"
TENANT_SHARDS = 8
JOB_SHARDS = 8
RELEASE_SHARDS = 8
BY_AWAITING_RECEIPT_INDEX = "by_awaiting_receipt"
RECEIPT_SHARDS = 16
RECEIPT_SHARD_KEYS = tuple(f"SENT#{shard:02d}" for shard in range(RECEIPT_SHARDS))
SEARCH_MAX_EVALUATED = 2_000  # rows one filtered request may read before it returns a cursor
BATCH_GET_LIMIT = 100
TRANSACTION_ITEMS = 100  # DynamoDB's limit of items in one TransactWriteItems call
TRANSACTION_ATTEMPTS = 8  # a transaction another one held an item of is tried again this often
RETENTION = timedelta(days=400)  # the sent-messages log keeps 13 months, then DynamoDB's TTL removes it


def shard_of(message_id: str, shards: int) -> int:
    """A message's shard of a sharded index key: stable, and even over random ids."""
    return zlib.crc32(message_id.encode()) % shards


def tenant_shard(tenant_id: str, shard: int) -> str:
    return f"{tenant_id}#{shard}"


def job_shard(job_id: str, shard: int) -> str:
    return f"{job_id}#{shard}"


def held_shard(shard: int) -> str:
    return f"{HELD_SHARD}#{shard}"


def release_key(instant: datetime) -> str:
    """Fixed-width UTC text, so comparing keys compares times."""
    return instant.astimezone(UTC).isoformat(timespec="microseconds")


def _to_item(message: Message) -> dict[str, Any]:
    item = message.model_dump(mode="json", exclude_none=True)
    item["created_key"] = f"{item['created_at']}#{message.message_id}"
    item["expires_at"] = int((message.created_at + RETENTION).timestamp())
    item["conversation"] = conversation_key(message.origination_number, message.recipient.phone_number)
    item["tenant_shard"] = tenant_shard(message.tenant_id, shard_of(message.message_id, TENANT_SHARDS))
    if message.job_id is not None:
        item["job_shard"] = job_shard(message.job_id, shard_of(message.message_id, JOB_SHARDS))
    if message.release_at is not None and message.status is MessageStatus.PENDING:
        item["release_at"] = release_key(message.release_at)
        item["release_shard"] = held_shard(shard_of(message.message_id, RELEASE_SHARDS))
    elif message.status is MessageStatus.PENDING:
        item.update(
            ready_keys(message.message_id, message.origination_number, message.job_id, message.created_at)
        )
    return item


def ready_keys(message_id: str, code: str, job_id: str | None, created_at: datetime) -> dict[str, str]:
    """The by_ready keys of a message that may go now."""
    lane = Lane.BULK if job_id else Lane.TRIGGERED
    return {
        "ready_key": f"{code}#{ready_shard(message_id, READY_SHARDS)}",
        "ready_sort": f"{lane.value}#{created_at.astimezone(UTC).isoformat()}#{message_id}",
    }


def _ready_partitions(code: str) -> list[str]:
    return [f"{code}#{shard}" for shard in range(READY_SHARDS)]


_STORAGE_ONLY = frozenset(
    {
        "created_key", "expires_at", "release_shard", "conversation", "ready_key", "ready_sort",
        "debited", "claim_token", "claimed_at", "resends", "tenant_shard", "job_shard", "receipt_shard",
        "sent_at",
    }
)  # fmt: skip


def receipt_shard(message_id: str) -> str:
    """The by_awaiting_receipt partition of a sent message: spread evenly, the same on every retry."""
    return RECEIPT_SHARD_KEYS[shard_of(message_id, RECEIPT_SHARDS)]


def conversation_key(origination_number: str, recipient_number: str) -> str:
    return f"{origination_number}#{recipient_number}"


def _ready_from_item(item: dict[str, Any]) -> ReadyMessage:
    release = item.get("release_at")
    claimed = item.get("claimed_at")
    return ReadyMessage(
        message_id=str(item["message_id"]),
        tenant_id=str(item["tenant_id"]),
        origination_number=str(item["origination_number"]),
        phone_number=str(item["recipient"]["phone_number"]),
        body=str(item["body"]),
        segments=int(item["segments"]),
        price_micros=int(item["price_micros"]),
        created_at=datetime.fromisoformat(str(item["created_at"])),
        trigger=str(item["trigger"]) if item.get("trigger") else None,
        job_id=str(item["job_id"]) if item.get("job_id") else None,
        release_at=datetime.fromisoformat(str(release)) if release else None,
        debited=bool(item.get("debited", False)),
        claim_token=int(item["claim_token"]) if "claim_token" in item else None,
        claimed_at=datetime.fromisoformat(str(claimed)) if claimed else None,
        resends=int(item.get("resends", 0)),
    )


def _from_item(item: dict[str, Any]) -> Message:
    clean = {key: value for key, value in item.items() if key not in _STORAGE_ONLY}
    clean["template_version"] = int(clean["template_version"])
    clean["segments"] = int(clean["segments"])
    clean["price_micros"] = int(clean["price_micros"])
    if "job_page" in clean:
        clean["job_page"] = int(clean["job_page"])
    return Message.model_validate(clean)


def message_from_item(item: dict[str, Any]) -> Message:
    """A message from a stored item as DynamoDB gives it back (a read, or a stream record's image)."""
    return _from_item(item)


def _is_condition_failure(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"


CONDITION_FAILED = "ConditionalCheckFailed"  # a cancelled transaction's reason for an item
TRANSACTION_CONFLICT = "TransactionConflict"


def cancellation_reasons(error: ClientError) -> list[str] | None:
    """A cancelled transaction's reason per item ("None" for an item that was not the cause)."""
    if error.response["Error"]["Code"] != "TransactionCanceledException":
        return None
    return [str(reason.get("Code", "None")) for reason in error.response.get("CancellationReasons", [])]


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    return cursors.encode(key) if key else None


class InvalidCursor(ValueError):
    pass


_TENANT_CURSOR = frozenset({"message_id", "tenant_id", "created_key"})
_JOB_CURSOR = frozenset({"message_id", "tenant_id", "job_id", "status", "shard"})


def decode_cursor(cursor: str, tenant_id: str, keys: frozenset[str] = _TENANT_CURSOR) -> dict[str, Any]:
    decoded = cursors.decode_key(cursor, keys)
    if decoded is None or decoded["tenant_id"] != tenant_id:
        raise InvalidCursor(cursor)
    return dict(decoded)


def _filter_expression(query: MessageQuery) -> ConditionBase | None:
    """The view's filters DynamoDB applies to the tenant's rows (the exact time bounds are checked after)."""
    conditions: list[ConditionBase] = []
    if query.status is not None:
        conditions.append(Attr("status").eq(query.status.value))
    if query.phone_number is not None:
        conditions.append(Attr("recipient.phone_number").eq(query.phone_number))
    if query.entity_id is not None:
        conditions.append(Attr("recipient.related_entity_id").eq(query.entity_id))
    if query.entity_type is not None:
        conditions.append(Attr("recipient.related_entity_type").eq(query.entity_type.value))
    if query.trigger is not None:
        conditions.append(Attr("trigger").eq(query.trigger))
    if not conditions:
        return None
    combined = conditions[0]
    for condition in conditions[1:]:
        combined = combined & condition
    return combined


def _created_range(partition: ConditionBase, query: MessageQuery) -> ConditionBase:
    created = Key("created_key")
    if query.created_from is not None and query.created_to is not None:
        low, high = created_key_floor(query.created_from), created_key_ceiling(query.created_to)
        return partition & created.between(low, high)
    if query.created_from is not None:
        return partition & created.gte(created_key_floor(query.created_from))
    if query.created_to is not None:
        return partition & created.lte(created_key_ceiling(query.created_to))
    return partition


def _in_created_range(created_key: str, query: MessageQuery) -> bool:
    """Whether a cursor's position lies inside the view's key range (DynamoDB refuses one outside)."""
    if query.created_from is not None and created_key < created_key_floor(query.created_from):
        return False
    return query.created_to is None or created_key <= created_key_ceiling(query.created_to)


def _message_id_of(created_key: str) -> str:
    return created_key.rsplit("#", 1)[-1]


@dataclass
class _ShardReader:
    """One shard of a tenant's log, read newest first a page at a time; matches wait in ``found``."""

    request: dict[str, Any]
    found: list[tuple[str, str]] = field(default_factory=list)  # (created_key, message_id) of matches
    position: str | None = None  # the created_key of the last row read (None: nothing read yet)
    done: bool = False


@dataclass(frozen=True)
class StatusMove:
    """A conditional status change: ``to`` if the message is in one of ``allowed_from``.

    Every move appends to the history. Leaving Pending takes the message off the ready and release
    indexes (a claim to In Progress moves it to the in-flight end of its code's ready key instead);
    ``condition`` and ``values`` add to the condition (a claim's "still ready", a hand-back's token).
    """

    message_id: str
    to: MessageStatus
    allowed_from: tuple[MessageStatus, ...]
    at: datetime
    reason: RejectReason | None = None
    detail: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    condition: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    removes: tuple[str, ...] = ()
    notes: tuple[StatusChange, ...] = ()  # history entries that came with the move, before its own

    def expression(self) -> dict[str, Any]:
        change = StatusChange(status=self.to, at=self.at, reason=self.reason, detail=self.detail)
        history = [entry.model_dump(mode="json", exclude_none=True) for entry in (*self.notes, change)]
        names = {"#status": "status", "#history": "history"}
        values: dict[str, Any] = {":to": self.to.value, ":change": history, **self.values}
        sets = ["#status = :to", "#history = list_append(#history, :change)"]
        if self.reason is not None:
            sets.append("reject_reason = :reason")
            values[":reason"] = self.reason.value
        for index, (name, value) in enumerate(self.extra.items()):
            names[f"#x{index}"] = name
            values[f":x{index}"] = value
            sets.append(f"#x{index} = :x{index}")
        placeholders = []
        for index, status in enumerate(self.allowed_from):
            values[f":from{index}"] = status.value
            placeholders.append(f":from{index}")
        condition = f"attribute_exists(message_id) AND #status IN ({', '.join(placeholders)})"
        if self.condition:
            condition += f" AND ({self.condition})"
        removes = list(self.removes)
        if self.to is MessageStatus.SENT:  # now waiting for its delivery event: on by_awaiting_receipt
            names["#receipt_shard"], names["#sent_at"] = "receipt_shard", "sent_at"
            values[":receipt_shard"], values[":sent_at"] = (
                receipt_shard(self.message_id),
                release_key(self.at),
            )
            sets += ["#receipt_shard = :receipt_shard", "#sent_at = :sent_at"]
        elif self.to in FINAL_STATUSES:  # no longer waiting (a no-op for a message never sent)
            removes.append("receipt_shard")
        if self.to is not MessageStatus.PENDING and self.to is not MessageStatus.IN_PROGRESS:
            removes += [
                name for name in ("ready_key", "ready_sort", "release_shard") if name not in self.extra
            ]
        expression = "SET " + ", ".join(sets)
        if removes:
            expression += " REMOVE " + ", ".join(dict.fromkeys(removes))
        return {
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }


@dataclass(frozen=True)
class HistoryNote:
    """Entries appended to the history of a message in status ``while_in``, which stays where it is."""

    message_id: str
    changes: tuple[StatusChange, ...]
    while_in: MessageStatus

    def expression(self) -> dict[str, Any]:
        return {
            "UpdateExpression": "SET #history = list_append(#history, :change)",
            "ConditionExpression": "attribute_exists(message_id) AND #status = :status",
            "ExpressionAttributeNames": {"#history": "history", "#status": "status"},
            "ExpressionAttributeValues": {
                ":change": [change.model_dump(mode="json", exclude_none=True) for change in self.changes],
                ":status": self.while_in.value,
            },
        }


MessageWrite = StatusMove | HistoryNote


class MessagesTable:
    def __init__(self, table: Table) -> None:
        self._table = table

    def put_new(self, message: Message) -> None:
        self._table.put_item(Item=_to_item(message), ConditionExpression="attribute_not_exists(message_id)")

    def put_if_absent(self, message: Message) -> bool:
        """Create unless a message with this id exists (a retried fan-out page, a repeated number)."""
        try:
            self.put_new(message)
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    def put_many(self, messages: Iterable[Message]) -> None:
        """Write messages known to be absent, 25 a request (BatchWriteItem, which overwrites: the caller
        checked, and holds its job's page, so nobody else writes these ids meanwhile)."""
        with self._table.batch_writer() as batch:
            for message in messages:
                batch.put_item(Item=_to_item(message))

    def job_pages_of(self, message_ids: list[str]) -> dict[str, int | None]:
        """Which of the ids exist, with the fan-out page that wrote each: BatchGetItem, 100 a call."""
        client: Any = self._table.meta.client
        found: dict[str, int | None] = {}
        for start in range(0, len(message_ids), BATCH_GET_LIMIT):
            keys = [
                {"message_id": mid} for mid in dict.fromkeys(message_ids[start : start + BATCH_GET_LIMIT])
            ]
            pending: dict[str, Any] = {
                self._table.name: {"Keys": keys, "ProjectionExpression": "message_id, job_page"}
            }
            for attempt in range(10):
                response = client.batch_get_item(RequestItems=pending)
                for item in response["Responses"].get(self._table.name, []):
                    page = item.get("job_page")
                    found[str(item["message_id"])] = int(page) if page is not None else None
                pending = response.get("UnprocessedKeys") or {}
                if not pending:
                    break
                time.sleep(0.05 * 2**attempt)
            else:
                raise RuntimeError("DynamoDB left message reads unprocessed")
        return found

    def count_for_job(self, job_id: str) -> dict[MessageStatus, int]:
        """Messages of a mass message or calling list per status, counted on the sparse by_job index."""
        counts: dict[MessageStatus, int] = {}
        for status in MessageStatus:
            total = 0
            for shard in range(JOB_SHARDS):
                query: dict[str, Any] = {
                    "IndexName": BY_JOB_INDEX,
                    "KeyConditionExpression": Key("job_shard").eq(job_shard(job_id, shard))
                    & Key("status").eq(status.value),
                    "Select": "COUNT",
                }
                total += sum(page["Count"] for page in self._pages(query))
            counts[status] = total
        return counts

    def pending_of_job(self, job_id: str) -> Iterator[str]:
        for shard in range(JOB_SHARDS):
            query: dict[str, Any] = {
                "IndexName": BY_JOB_INDEX,
                "KeyConditionExpression": Key("job_shard").eq(job_shard(job_id, shard))
                & Key("status").eq(MessageStatus.PENDING.value),
                "ProjectionExpression": "message_id",
            }
            for page in self._pages(query):
                for item in page["Items"]:
                    yield str(item["message_id"])

    def _pages(self, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every page of a query, following LastEvaluatedKey."""
        request = dict(request)
        while True:
            page: dict[str, Any] = dict(self._table.query(**request))
            yield page
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get(self, message_id: str) -> Message | None:
        item = self._table.get_item(Key={"message_id": message_id}, ConsistentRead=True).get("Item")
        return _from_item(item) if item else None

    def transition(
        self,
        message_id: str,
        to: MessageStatus,
        allowed_from: Iterable[MessageStatus],
        at: datetime,
        reason: RejectReason | None = None,
        detail: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Message | None:
        """Move a message to ``to`` if it is in one of ``allowed_from``: the updated message, or None."""
        attributes = self._set_status(
            StatusMove(message_id, to, tuple(allowed_from), at, reason, detail, extra or {}), "ALL_NEW"
        )
        return None if attributes is None else _from_item(attributes)

    def move(
        self,
        message_id: str,
        to: MessageStatus,
        allowed_from: Iterable[MessageStatus],
        at: datetime,
        reason: RejectReason | None = None,
        detail: str | None = None,
        extra: dict[str, Any] | None = None,
        notes: Iterable[StatusChange] = (),
    ) -> bool:
        """As ``transition``, for a caller that needs only to know whether the message moved;
        ``notes`` go into the history just before the move's own entry."""
        move = StatusMove(
            message_id, to, tuple(allowed_from), at, reason, detail, extra or {}, notes=tuple(notes)
        )
        return self._set_status(move, "NONE") is not None

    def _set_status(
        self, move: StatusMove, return_values: Literal["ALL_NEW", "NONE"]
    ) -> dict[str, Any] | None:
        """The message's attributes after the move ({} when not asked for), or None if it did not move."""
        update = move.expression()
        try:
            response = self._table.update_item(
                Key={"message_id": move.message_id}, ReturnValues=return_values, **update
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return None
            raise
        return response.get("Attributes", {})

    def transaction_item(self, write: MessageWrite) -> dict[str, Any]:
        """The move (or note) as one item of a TransactWriteItems call."""
        return {
            "Update": {
                "TableName": self._table.name,
                "Key": {"message_id": write.message_id},
                **write.expression(),
            }
        }

    def write_alone(self, write: MessageWrite) -> bool:
        """One conditional write: whether the message was as the write requires (and now changed)."""
        if isinstance(write, StatusMove):
            return self._set_status(write, "NONE") is not None
        try:
            self._table.update_item(Key={"message_id": write.message_id}, **write.expression())
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    def write_together(self, writes: list[MessageWrite]) -> set[str]:
        """Apply the writes (one per message) in transactions of up to 100; the ids whose condition
        failed, which are left as they are while the rest are written. A transaction that another
        held an item of is tried again; any other error raises: that transaction wrote nothing, the ones
        before it stand."""
        skipped: set[str] = set()
        for start in range(0, len(writes), TRANSACTION_ITEMS):
            pending = writes[start : start + TRANSACTION_ITEMS]
            for attempt in range(TRANSACTION_ATTEMPTS):
                items = [self.transaction_item(write) for write in pending]
                try:
                    self.client.transact_write_items(TransactItems=items)
                    break
                except ClientError as error:
                    reasons = cancellation_reasons(error)
                    if reasons is None:
                        raise
                    failed = {
                        write.message_id
                        for write, reason in zip(pending, reasons, strict=True)
                        if reason == CONDITION_FAILED
                    }
                    if not failed and TRANSACTION_CONFLICT not in reasons:
                        raise
                    skipped |= failed
                    pending = [write for write in pending if write.message_id not in failed]
                    if not pending:
                        break
                    time.sleep(0.01 * 2**attempt)
            else:
                raise RuntimeError(f"{len(pending)} message writes stayed contended")
        return skipped

    @property
    def client(self) -> Any:
        """The table's client (plain Python values, as the resource takes them), for transactions."""
        return self._table.meta.client

    # ---- the ready index: what each transport code's dispatcher reads ----

    def ready_page(self, code: str, limit: int) -> list[ReadyMessage]:
        """Up to ``limit`` of the code's ready messages, triggered first, then oldest first."""
        return self._dispatch_rows(code, Key("ready_sort").lt("2"), limit)

    def triggered_page(self, code: str, limit: int) -> list[ReadyMessage]:
        """Up to ``limit`` of the code's ready triggered messages, oldest first."""
        return self._dispatch_rows(code, Key("ready_sort").begins_with(f"{Lane.TRIGGERED.value}#"), limit)

    def in_flight(self, code: str, limit: int = 100) -> list[ReadyMessage]:
        """The code's claimed messages (In Progress) that have not reached Sent yet, oldest claim first."""
        return self._dispatch_rows(code, Key("ready_sort").begins_with(IN_FLIGHT + "#"), limit)

    def has_dispatch_work(self, code: str) -> bool:
        """Whether the code has a ready message or one in flight (one key-only read per shard)."""
        return any(
            self._table.query(
                IndexName=BY_READY_INDEX,
                KeyConditionExpression=Key("ready_key").eq(partition),
                Limit=1,
                ProjectionExpression="message_id",
            )["Items"]
            for partition in _ready_partitions(code)
        )

    def oldest_ready(self, code: str) -> datetime | None:
        """The creation (or release) time of the code's oldest ready message, either lane."""
        oldest: datetime | None = None
        for lane in Lane:
            for row in self._dispatch_rows(code, Key("ready_sort").begins_with(f"{lane.value}#"), 1):
                oldest = row.valid_from if oldest is None else min(oldest, row.valid_from)
        return oldest

    def ready_count(self, code: str, up_to: int) -> int:
        """How many messages the code has ready, counted up to ``up_to`` (a bounded COUNT query)."""
        total = 0
        for partition in _ready_partitions(code):
            query: dict[str, Any] = {
                "IndexName": BY_READY_INDEX,
                "KeyConditionExpression": Key("ready_key").eq(partition) & Key("ready_sort").lt("2"),
                "Select": "COUNT",
                "Limit": max(1, up_to - total),
            }
            while total < up_to:
                page = self._table.query(**query)
                total += page["Count"]
                if "LastEvaluatedKey" not in page:
                    break
                query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
                query["Limit"] = max(1, up_to - total)
        return min(total, up_to)

    def _dispatch_rows(self, code: str, sort: ConditionBase, limit: int) -> list[ReadyMessage]:
        rows: list[tuple[str, dict[str, Any]]] = []
        for partition in _ready_partitions(code):
            page = self._table.query(
                IndexName=BY_READY_INDEX,
                KeyConditionExpression=Key("ready_key").eq(partition) & sort,
                Limit=limit,
            )
            rows.extend((str(item["ready_sort"]), item) for item in page["Items"])
        rows.sort(key=lambda row: row[0])  # the shards merged in key order
        return [_ready_from_item(item) for _, item in rows[:limit]]

    def awaiting_receipt_since_before(self, instant: datetime) -> Iterator[str]:
        """Ids of messages sent before ``instant`` and still waiting for a final delivery event."""
        for shard in RECEIPT_SHARD_KEYS:
            query: dict[str, Any] = {
                "IndexName": BY_AWAITING_RECEIPT_INDEX,
                "KeyConditionExpression": Key("receipt_shard").eq(shard)
                & Key("sent_at").lt(release_key(instant)),
                "ProjectionExpression": "message_id",
            }
            while True:
                page = self._table.query(**query)
                for item in page["Items"]:
                    yield str(item["message_id"])
                if "LastEvaluatedKey" not in page:
                    break
                query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def held_due(self, now: datetime) -> Iterator[str]:
        """Ids of held messages whose release time is ``now`` or earlier, earliest first (shards merged)."""

        def shard_items(shard: int) -> Iterator[dict[str, Any]]:
            query: dict[str, Any] = {
                "IndexName": BY_RELEASE_INDEX,
                "KeyConditionExpression": Key("release_shard").eq(held_shard(shard))
                & Key("release_at").lte(release_key(now)),
                "ProjectionExpression": "message_id, release_at",
            }
            for page in self._pages(query):
                yield from page["Items"]

        shards = (shard_items(shard) for shard in range(RELEASE_SHARDS))
        for item in heapq.merge(*shards, key=lambda item: str(item["release_at"])):
            yield str(item["message_id"])

    def release(self, message_id: str) -> bool:
        """A held message may go now: off the release index, onto its code's ready index.

        Its release time stays, for the log. Only a message still Pending and held moves, so a second
        release, or one of a message cancelled meanwhile, changes nothing.
        """
        item = self._table.get_item(
            Key={"message_id": message_id},
            ProjectionExpression="origination_number, job_id, release_at",
            ConsistentRead=True,
        ).get("Item")
        if not item or "release_at" not in item:
            return False
        ready = ready_keys(
            message_id,
            str(item["origination_number"]),
            str(item["job_id"]) if item.get("job_id") else None,
            datetime.fromisoformat(str(item["release_at"])),
        )
        return self._update_pending(
            message_id,
            "SET ready_key = :key, ready_sort = :sort REMOVE release_shard",
            "attribute_exists(release_shard)",
            {":key": ready["ready_key"], ":sort": ready["ready_sort"]},
        )

    def hold_again(self, message_id: str, release_at: datetime, rule: str) -> bool:
        """A ready message that may not go now after all (its quiet hours or calling window began
        while it waited): off its code's ready index, onto the release index until ``release_at``.
        Only a message still Pending and ready moves (a claim or a cancel got there first: no)."""
        return self._update_pending(
            message_id,
            "SET release_at = :at, release_shard = :shard, hold_rule = :rule REMOVE ready_key, ready_sort",
            "attribute_exists(ready_key)",
            {
                ":at": release_key(release_at),
                ":shard": held_shard(shard_of(message_id, RELEASE_SHARDS)),
                ":rule": rule,
            },
        )

    def _update_pending(self, message_id: str, update: str, condition: str, values: dict[str, Any]) -> bool:
        """One update of a message still Pending (and meeting ``condition``); False if it was not."""
        try:
            self._table.update_item(
                Key={"message_id": message_id},
                UpdateExpression=update,
                ConditionExpression=f"{condition} AND #status = :pending",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={**values, ":pending": MessageStatus.PENDING.value},
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    def latest_to(self, origination_number: str, recipient_number: str) -> Message | None:
        """The newest message from our number to this number (an index query, then a get)."""
        page = self._table.query(
            IndexName=BY_CONVERSATION_INDEX,
            KeyConditionExpression=Key("conversation").eq(
                conversation_key(origination_number, recipient_number)
            ),
            ScanIndexForward=False,
            Limit=1,
        )
        if not page["Items"]:
            return None
        return self.get(str(page["Items"][0]["message_id"]))

    def search(
        self, tenant_id: str, query: MessageQuery, limit: int, cursor: str | None = None
    ) -> tuple[list[Message], str | None]:
        """A filtered view of the tenant's log: up to ``limit`` messages and the cursor to the rest.

        A page may hold fewer than ``limit`` messages while a cursor remains (the rows read were
        filtered out); the view is complete once the cursor is None.
        """
        if query.job_id is not None:
            return self._search_job(tenant_id, query.job_id, query, limit, cursor)
        start = decode_cursor(cursor, tenant_id)["created_key"] if cursor else None
        if start is not None and not _in_created_range(start, query):
            raise InvalidCursor(cursor or "")
        condition = _filter_expression(query)
        # Unfiltered, a shard's share of the page and a little more; filtered, read more per request.
        page_rows = max(limit, 200) if query.filters_beyond_the_key else -(-limit // TENANT_SHARDS) + 5
        readers = []
        for shard in range(TENANT_SHARDS):
            partition = tenant_shard(tenant_id, shard)
            request: dict[str, Any] = {
                "IndexName": BY_TENANT_INDEX,
                "KeyConditionExpression": _created_range(Key("tenant_shard").eq(partition), query),
                "ScanIndexForward": False,
                "Limit": min(page_rows, 1000),
            }
            if condition is not None:
                request["FilterExpression"] = condition
            if start is not None:
                request["ExclusiveStartKey"] = {
                    "tenant_shard": partition,
                    "created_key": start,
                    "message_id": _message_id_of(start),
                }
            readers.append(_ShardReader(request))
        return self._merge_newest_first(tenant_id, readers, query, limit)

    def _merge_newest_first(
        self, tenant_id: str, readers: list[_ShardReader], query: MessageQuery, limit: int
    ) -> tuple[list[Message], str | None]:
        """Merge the shards' rows newest first, reading on only in the shard that holds the page back.

        Every shard is read once; then, while the page is short, the unfinished shard whose last row
        read is the newest (the ``boundary``) reads its next page: a row is placed only once no
        unfinished shard can still hold a newer one. The cursor is the last placed row's key, or, when
        the read budget ran out first, the boundary (every row above it has been placed).
        """
        evaluated = 0
        pending = list(readers)
        while True:
            for reader in pending:
                evaluated += self._read_shard(reader, query)
            unfinished = [reader for reader in readers if not reader.done]
            boundary = max((reader.position or "" for reader in unfinished), default=None)
            found = sorted(
                (entry for reader in readers for entry in reader.found), key=lambda e: e[0], reverse=True
            )
            placed = [entry for entry in found if boundary is None or entry[0] >= boundary]
            if len(placed) >= limit:
                page = placed[:limit]
                more = len(found) > limit or bool(unfinished)
                last_key = page[-1][0]
                return self._rows(page), self._cursor(tenant_id, last_key) if more else None
            if boundary is None:
                return self._rows(placed), None
            if evaluated >= SEARCH_MAX_EVALUATED:
                return self._rows(placed), self._cursor(tenant_id, boundary)
            pending = [next(reader for reader in unfinished if reader.position == boundary)]

    def _rows(self, entries: list[tuple[str, str]]) -> list[Message]:
        """The page's messages, in its order (the index carries only what the filters read)."""
        found: dict[str, Message] = {}
        ids = [message_id for _, message_id in entries]
        for start in range(0, len(ids), BATCH_GET_LIMIT):
            found.update(self._get_many(ids[start : start + BATCH_GET_LIMIT]))
        return [found[message_id] for message_id in ids if message_id in found]

    @staticmethod
    def _cursor(tenant_id: str, created_key: str) -> str | None:
        return encode_cursor(
            {"created_key": created_key, "message_id": _message_id_of(created_key), "tenant_id": tenant_id}
        )

    def _read_shard(self, reader: _ShardReader, query: MessageQuery) -> int:
        """One page of one shard into its reader; the rows it read."""
        page = self._table.query(**reader.request)
        for item in page["Items"]:
            if query.matches_fields(
                MessageStatus(str(item["status"])),
                datetime.fromisoformat(str(item["created_at"])),
                Recipient.model_validate(item["recipient"]),
                str(item["job_id"]) if item.get("job_id") else None,
                str(item["trigger"]) if item.get("trigger") else None,
            ):
                reader.found.append((str(item["created_key"]), str(item["message_id"])))
        last_key = page.get("LastEvaluatedKey")
        if last_key is None:
            reader.done = True
        else:
            reader.position = str(last_key["created_key"])
            reader.request["ExclusiveStartKey"] = last_key
        return int(page["ScannedCount"])

    def _search_job(
        self, tenant_id: str, job_id: str, query: MessageQuery, limit: int, cursor: str | None
    ) -> tuple[list[Message], str | None]:
        """A job's messages by status, each status shard by shard: keys first, then a batch read."""
        statuses = (
            [query.status] if query.status is not None else sorted(MessageStatus, key=lambda s: s.value)
        )
        partitions = [(status.value, shard) for status in statuses for shard in range(JOB_SHARDS)]
        first, start_after = 0, None
        if cursor:
            start = decode_cursor(cursor, tenant_id, _JOB_CURSOR)
            spot = (start["status"], int(start["shard"])) if start["shard"].isdigit() else None
            if start["job_id"] != job_id or spot not in partitions:
                raise InvalidCursor(cursor)
            first, start_after = partitions.index(spot), start["message_id"] or None
        found: list[Message] = []
        evaluated = 0
        for index in range(first, len(partitions)):
            status, shard = partitions[index]
            partition = job_shard(job_id, shard)
            request: dict[str, Any] = {
                "IndexName": BY_JOB_INDEX,
                "KeyConditionExpression": Key("job_shard").eq(partition) & Key("status").eq(status),
                "Limit": min(BATCH_GET_LIMIT, max(limit, 25)),
            }
            if index == first and start_after:
                request["ExclusiveStartKey"] = {
                    "message_id": start_after,
                    "job_shard": partition,
                    "status": status,
                }
            while True:
                page = self._table.query(**request)
                keys = page["Items"]
                evaluated += len(keys)
                rows = self._get_many([str(key["message_id"]) for key in keys])
                last_key = page.get("LastEvaluatedKey")
                for position, key in enumerate(keys):
                    message = rows.get(str(key["message_id"]))
                    if message is None or message.tenant_id != tenant_id or not query.matches(message):
                        continue
                    found.append(message)
                    if len(found) == limit:
                        more = position < len(keys) - 1 or last_key is not None or index < len(partitions) - 1
                        here = self._job_cursor(tenant_id, job_id, status, shard, str(key["message_id"]))
                        return found, here if more else None
                if last_key is None:
                    break
                if evaluated >= SEARCH_MAX_EVALUATED:
                    return found, self._job_cursor(
                        tenant_id, job_id, status, shard, str(last_key["message_id"])
                    )
                request["ExclusiveStartKey"] = last_key
            if evaluated >= SEARCH_MAX_EVALUATED and index < len(partitions) - 1:
                following_status, following_shard = partitions[index + 1]
                return found, self._job_cursor(tenant_id, job_id, following_status, following_shard, "")
        return found, None

    @staticmethod
    def _job_cursor(tenant_id: str, job_id: str, status: str, shard: int, message_id: str) -> str | None:
        """A position in a job's messages: after ``message_id`` in one (status, shard), or at its start."""
        return encode_cursor(
            {
                "tenant_id": tenant_id,
                "job_id": job_id,
                "status": status,
                "shard": str(shard),
                "message_id": message_id,
            }
        )

    def _get_many(self, message_ids: list[str]) -> dict[str, Message]:
        """The messages with these ids (at most BATCH_GET_LIMIT), retrying what DynamoDB left unprocessed."""
        found: dict[str, Message] = {}
        if not message_ids:
            return found
        client = self._table.meta.client
        pending: dict[str, Any] = {self._table.name: {"Keys": [{"message_id": mid} for mid in message_ids]}}
        for attempt in range(10):
            response = client.batch_get_item(RequestItems=pending)
            for item in response["Responses"].get(self._table.name, []):
                message = _from_item(item)
                found[message.message_id] = message
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                return found
            time.sleep(0.05 * 2**attempt)
        raise RuntimeError(f"DynamoDB left {len(pending)} message reads unprocessed")
