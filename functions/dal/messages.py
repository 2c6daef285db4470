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
- GSI ``by_tenant`` (``tenant_id``, ``created_key`` = created ISO time + id): a tenant's
  sent-messages log, newest first, with cursor pagination; "created between" is a range on
  ``created_key``. The log's other filters (status, phone number, related entity, trigger) are
  filter expressions within the tenant's range: DynamoDB reads the rows they drop, so a request
  stops after ``SEARCH_MAX_EVALUATED`` rows and hands back a cursor.
- GSI ``by_job`` (``job_id``, ``status``), sparse, keys only: a mass message's or calling list's
  messages per status, for its progress (a COUNT query per status), for cancelling its pending
  messages, and for the log filtered by job (keys from the index, then a batch read of the rows).
- GSI ``by_release`` (``release_shard``, ``release_at``), sparse: held messages whose release
  time has come, for the release schedule (only held messages carry ``release_shard``; releasing
  removes it and keeps ``release_at``, which the log shows). ``release_at`` is stored as fixed-width
  UTC ISO text so that the key's text order is time order.
- GSI ``by_conversation`` (``conversation`` = sending number + ``#`` + recipient number,
  ``created_key``): the latest message from one of our numbers to a number, newest first, to find
  the tenant and the message an inbound reply answers (a code may serve several tenants). Costs one
  index write per message; the alternative, a "last message" item per pair, costs the same write.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from boto3.dynamodb.conditions import Attr, ConditionBase, Key
from botocore.exceptions import ClientError

from functions.domain.dispatch import Lane, ReadyMessage, ready_shard
from functions.domain.message_log import MessageQuery, created_key_ceiling, created_key_floor
from functions.domain.messages import Message, MessageStatus, RejectReason, StatusChange

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

BY_TENANT_INDEX = "by_tenant"
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
HELD_SHARD = "HELD"
SEARCH_MAX_EVALUATED = 2_000  # rows one filtered request may read before it returns a cursor
BATCH_GET_LIMIT = 100
RETENTION = timedelta(days=400)  # the sent-messages log keeps 13 months, then DynamoDB's TTL removes it


def release_key(instant: datetime) -> str:
    """Fixed-width UTC text, so comparing keys compares times."""
    return instant.astimezone(UTC).isoformat(timespec="microseconds")


def _to_item(message: Message) -> dict[str, Any]:
    item = message.model_dump(mode="json", exclude_none=True)
    item["created_key"] = f"{item['created_at']}#{message.message_id}"
    item["expires_at"] = int((message.created_at + RETENTION).timestamp())
    item["conversation"] = conversation_key(message.origination_number, message.recipient.phone_number)
    if message.release_at is not None and message.status is MessageStatus.PENDING:
        item["release_at"] = release_key(message.release_at)
        item["release_shard"] = HELD_SHARD
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
        "debited", "claim_token", "claimed_at", "resends",
    }
)  # fmt: skip


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


def _is_condition_failure(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode() if key else None


class InvalidCursor(ValueError):
    pass


_TENANT_CURSOR = frozenset({"message_id", "tenant_id", "created_key"})
_JOB_CURSOR = frozenset({"message_id", "tenant_id", "job_id", "status"})


def decode_cursor(cursor: str, tenant_id: str, keys: frozenset[str] = _TENANT_CURSOR) -> dict[str, Any]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError as error:
        raise InvalidCursor(cursor) from error
    if not isinstance(decoded, dict) or set(decoded) != keys or decoded["tenant_id"] != tenant_id:
        raise InvalidCursor(cursor)
    if not all(isinstance(value, str) for value in decoded.values()):
        raise InvalidCursor(cursor)
    return decoded


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


def _created_range(tenant_id: str, query: MessageQuery) -> ConditionBase:
    partition = Key("tenant_id").eq(tenant_id)
    created = Key("created_key")
    if query.created_from is not None and query.created_to is not None:
        low, high = created_key_floor(query.created_from), created_key_ceiling(query.created_to)
        return partition & created.between(low, high)
    if query.created_from is not None:
        return partition & created.gte(created_key_floor(query.created_from))
    if query.created_to is not None:
        return partition & created.lte(created_key_ceiling(query.created_to))
    return partition


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

    def expression(self) -> dict[str, Any]:
        change = StatusChange(status=self.to, at=self.at, reason=self.reason, detail=self.detail).model_dump(
            mode="json", exclude_none=True
        )
        names = {"#status": "status", "#history": "history"}
        values: dict[str, Any] = {":to": self.to.value, ":change": [change], **self.values}
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

    def put_many(self, messages: list[Message]) -> None:
        """Write messages known to be absent, 25 a request (BatchWriteItem, unprocessed ones retried).

        Unconditional: the caller has read that none of them exists (``job_pages_of``) and holds the
        only right to write them (the fan-out's page lease), so no conditional write per message.
        """
        with self._table.batch_writer() as batch:
            for message in messages:
                batch.put_item(Item=_to_item(message))

    def job_pages_of(self, message_ids: list[str]) -> dict[str, int | None]:
        """Which of these messages exist, and the fan-out page that wrote each (consistent batch reads)."""
        found: dict[str, int | None] = {}
        client = self._table.meta.client
        for start in range(0, len(message_ids), BATCH_GET_LIMIT):
            chunk = message_ids[start : start + BATCH_GET_LIMIT]
            pending: dict[str, Any] = {
                self._table.name: {
                    "Keys": [{"message_id": message_id} for message_id in chunk],
                    "ProjectionExpression": "message_id, job_page",
                    "ConsistentRead": True,
                }
            }
            for attempt in range(10):
                response = client.batch_get_item(RequestItems=pending)
                for item in response["Responses"].get(self._table.name, []):
                    page = item.get("job_page")
                    found[str(item["message_id"])] = int(page) if page is not None else None  # type: ignore[call-overload]
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
            query: dict[str, Any] = {
                "IndexName": BY_JOB_INDEX,
                "KeyConditionExpression": Key("job_id").eq(job_id) & Key("status").eq(status.value),
                "Select": "COUNT",
            }
            total = 0
            while True:
                page = self._table.query(**query)
                total += page["Count"]
                if "LastEvaluatedKey" not in page:
                    break
                query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            counts[status] = total
        return counts

    def pending_of_job(self, job_id: str) -> Iterator[str]:
        query: dict[str, Any] = {
            "IndexName": BY_JOB_INDEX,
            "KeyConditionExpression": Key("job_id").eq(job_id)
            & Key("status").eq(MessageStatus.PENDING.value),
            "ProjectionExpression": "message_id",
        }
        while True:
            page = self._table.query(**query)
            for item in page["Items"]:
                yield str(item["message_id"])
            if "LastEvaluatedKey" not in page:
                return
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

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
    ) -> bool:
        """As ``transition``, for a caller that needs only to know whether the message moved."""
        move = StatusMove(message_id, to, tuple(allowed_from), at, reason, detail, extra or {})
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

    def transaction_item(self, move: StatusMove) -> dict[str, Any]:
        """The move as one item of a TransactWriteItems call."""
        return {
            "Update": {
                "TableName": self._table.name,
                "Key": {"message_id": move.message_id},
                **move.expression(),
            }
        }

    @property
    def client(self) -> Any:
        """The table's client (plain Python values, as the resource takes them), for transactions."""
        return self._table.meta.client

    # ---- the ready index: what each transport code's dispatcher reads ----

    def ready_page(self, code: str, limit: int) -> list[ReadyMessage]:
        """Up to ``limit`` of the code's ready messages, triggered first, then oldest first."""
        return self._dispatch_rows(code, Key("ready_sort").lt("2"), limit)

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

    def held_due(self, now: datetime) -> Iterator[str]:
        """Ids of held messages whose release time is ``now`` or earlier, earliest first (an index query)."""
        query: dict[str, Any] = {
            "IndexName": BY_RELEASE_INDEX,
            "KeyConditionExpression": Key("release_shard").eq(HELD_SHARD)
            & Key("release_at").lte(release_key(now)),
            "ProjectionExpression": "message_id",
        }
        while True:
            page = self._table.query(**query)
            for item in page["Items"]:
                yield str(item["message_id"])
            if "LastEvaluatedKey" not in page:
                return
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

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
        try:
            self._table.update_item(
                Key={"message_id": message_id},
                UpdateExpression="SET ready_key = :key, ready_sort = :sort REMOVE release_shard",
                ConditionExpression="attribute_exists(release_shard) AND #status = :pending",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":key": ready["ready_key"],
                    ":sort": ready["ready_sort"],
                    ":pending": MessageStatus.PENDING.value,
                },
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
        request: dict[str, Any] = {
            "IndexName": BY_TENANT_INDEX,
            "KeyConditionExpression": _created_range(tenant_id, query),
            "ScanIndexForward": False,
            # Unfiltered, a page is exactly ``limit`` rows; filtered, read more per request.
            "Limit": limit if not query.filters_beyond_the_key else max(limit, 200),
        }
        condition = _filter_expression(query)
        if condition is not None:
            request["FilterExpression"] = condition
        if cursor:
            request["ExclusiveStartKey"] = decode_cursor(cursor, tenant_id)
        found: list[Message] = []
        evaluated = 0
        while True:
            page = self._table.query(**request)
            evaluated += page["ScannedCount"]
            items = page["Items"]
            last_key = page.get("LastEvaluatedKey")
            for index, item in enumerate(items):
                message = _from_item(item)
                if not query.matches(message):
                    continue
                found.append(message)
                if len(found) == limit:
                    more = index < len(items) - 1 or last_key is not None
                    position = {key: item[key] for key in _TENANT_CURSOR}
                    return found, encode_cursor(position) if more else None
            if last_key is None:
                return found, None
            if evaluated >= SEARCH_MAX_EVALUATED:
                return found, encode_cursor(last_key)
            request["ExclusiveStartKey"] = last_key

    def _search_job(
        self, tenant_id: str, job_id: str, query: MessageQuery, limit: int, cursor: str | None
    ) -> tuple[list[Message], str | None]:
        """A job's messages, in the by_job index's order (by status): keys first, then a batch read."""
        key_condition: ConditionBase = Key("job_id").eq(job_id)
        if query.status is not None:
            key_condition = key_condition & Key("status").eq(query.status.value)
        request: dict[str, Any] = {
            "IndexName": BY_JOB_INDEX,
            "KeyConditionExpression": key_condition,
            "Limit": min(BATCH_GET_LIMIT, max(limit, 25)),
        }
        if cursor:
            start = decode_cursor(cursor, tenant_id, _JOB_CURSOR)
            if start["job_id"] != job_id:
                raise InvalidCursor(cursor)
            request["ExclusiveStartKey"] = {key: start[key] for key in ("message_id", "job_id", "status")}
        found: list[Message] = []
        evaluated = 0
        while True:
            page = self._table.query(**request)
            keys = page["Items"]
            evaluated += len(keys)
            rows = self._get_many([str(key["message_id"]) for key in keys])
            last_key = page.get("LastEvaluatedKey")
            for index, key in enumerate(keys):
                message = rows.get(str(key["message_id"]))
                if message is None or message.tenant_id != tenant_id or not query.matches(message):
                    continue
                found.append(message)
                if len(found) == limit:
                    more = index < len(keys) - 1 or last_key is not None
                    position = {
                        "message_id": str(key["message_id"]),
                        "job_id": job_id,
                        "status": str(key["status"]),
                        "tenant_id": tenant_id,
                    }
                    return found, encode_cursor(position) if more else None
            if last_key is None:
                return found, None
            if evaluated >= SEARCH_MAX_EVALUATED:
                return found, encode_cursor({**last_key, "tenant_id": tenant_id})
            request["ExclusiveStartKey"] = last_key

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
