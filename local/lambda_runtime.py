"""Lambda, as far as the local runtime needs it: invoking handlers, SQS event source mappings, schedules."""

from __future__ import annotations

import importlib
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from local.topology import FunctionSpec

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

log = logging.getLogger("local.lambda")
# moto's long polling would hold its dispatch lock, so poll short and nap, longer while a queue stays
# empty: many idle pollers would otherwise keep moto busy answering empty receives.
IDLE_SLEEP_SECONDS = 0.05
MAX_IDLE_SLEEP_SECONDS = 0.4
# While a batching window gathers, the queue is read this often, or at once after a full read
# (Lambda long-polls; each read here takes what came meanwhile: a window costs a few receives).
GATHER_EVERY_SECONDS = 0.5
ALIGNED_RUN_LAG_SECONDS = 0.05  # an aligned tick never wakes a hair before its period starts
SQS_RECEIVE_MAX = 10  # messages one ReceiveMessage returns at most


@dataclass
class LocalContext:
    """The parts of the Lambda context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    deadline: float
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


class LocalFunction:
    def __init__(self, spec: FunctionSpec) -> None:
        self.spec = spec
        self._handler: Callable[[dict[str, Any], Any], Any] | None = None

    @property
    def name(self) -> str:
        return self.spec.logical_id

    @property
    def module_name(self) -> str:
        """The handler's module, without its package: functions.handlers.sender.lambda_handler -> sender."""
        return self.spec.handler.rsplit(".", 2)[-2]

    def _load(self) -> Callable[[dict[str, Any], Any], Any]:
        if self._handler is None:
            module_name, attribute = self.spec.handler.rsplit(".", 1)
            self._handler = getattr(importlib.import_module(module_name), attribute)
        return self._handler

    def invoke(self, event: dict[str, Any]) -> Any:
        context = LocalContext(
            function_name=self.name,
            memory_limit_in_mb=self.spec.memory_mb,
            invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{self.name}",
            aws_request_id=str(uuid.uuid4()),
            deadline=time.monotonic() + self.spec.timeout_seconds,
        )
        return self._load()(event, context)


def sqs_record(message: Mapping[str, Any], queue_arn: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1",
    }


class QueuePoller:
    """One concurrent 'instance' of an SQS event source mapping.

    Like Lambda's poller: a batch in, the handler's partial batch failures back; the successes are
    deleted, failures (or the whole batch if the handler raised) reappear after the visibility
    timeout, and SQS itself moves a message to the DLQ after the redrive policy's receives.
    """

    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        queue_arn: str,
        function: LocalFunction,
        batch_size: int,
        reports_item_failures: bool,
        stop: threading.Event,
        batching_window_seconds: float = 0.0,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._queue_arn = queue_arn
        self._function = function
        self._batch_size = batch_size
        self._reports_item_failures = reports_item_failures
        self._stop = stop
        self._window = batching_window_seconds
        self.batches = 0

    def run(self) -> None:
        nap = IDLE_SLEEP_SECONDS
        while not self._stop.is_set():
            try:
                if self.poll_once():
                    nap = IDLE_SLEEP_SECONDS
                else:
                    self._stop.wait(nap)
                    nap = min(nap * 2, MAX_IDLE_SLEEP_SECONDS)
            except Exception:  # a poller must outlive any one failure, as Lambda's does
                log.exception("poller for %s failed; continuing", self._function.name)
                self._stop.wait(1.0)

    def _receive(self, most: int) -> list[MessageTypeDef]:
        return list(
            self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=min(most, SQS_RECEIVE_MAX),
                WaitTimeSeconds=0,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
        )

    def poll_once(self) -> bool:
        messages = self._receive(self._batch_size)
        if not messages:
            return False
        # The batching window: gather up to the batch size for this long after the first message.
        deadline = time.monotonic() + self._window
        while len(messages) < self._batch_size and not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            more = self._receive(self._batch_size - len(messages))
            messages += more
            if len(more) < SQS_RECEIVE_MAX:  # the queue is drained for now
                self._stop.wait(min(GATHER_EVERY_SECONDS, left))
        self.batches += 1
        event = {"Records": [sqs_record(message, self._queue_arn) for message in messages]}
        try:
            response = self._function.invoke(event)
        except Exception:
            log.exception("%s raised; the whole batch will be retried", self._function.name)
            return True
        failed = self._failed_ids(response, messages)
        done = [message for message in messages if message["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                    for index, message in enumerate(done[start : start + 10])
                ],
            )
        return True

    def _failed_ids(self, response: Any, messages: Sequence[Mapping[str, Any]]) -> set[str]:
        if not self._reports_item_failures:
            return set()
        try:
            return {failure["itemIdentifier"] for failure in (response or {}).get("batchItemFailures", [])}
        except (AttributeError, KeyError, TypeError):
            # Lambda treats a malformed failure report as a failure of the whole batch.
            return {message["MessageId"] for message in messages}


class Ticker:
    """Invokes a scheduled function every ``every_seconds`` (moto never fires schedules).

    ``aligned``: at whole multiples of the period on the wall clock (a cron schedule), a moment after
    each, as EventBridge Scheduler fires a moment after the minute starts.
    """

    def __init__(
        self, function: LocalFunction, every_seconds: float, stop: threading.Event, aligned: bool = False
    ) -> None:
        self._function = function
        self._every_seconds = every_seconds
        self._stop = stop
        self._aligned = aligned
        self.runs = 0

    def _until_next_run(self) -> float:
        if not self._aligned:
            return self._every_seconds
        return self._every_seconds - time.time() % self._every_seconds + ALIGNED_RUN_LAG_SECONDS

    def run(self) -> None:
        while not self._stop.wait(self._until_next_run()):
            try:
                self._function.invoke({})
                self.runs += 1
            except Exception:
                log.exception("scheduled %s failed", self._function.name)


def matches_filter(pattern: Any, value: Any) -> bool:
    """An event source mapping's filter pattern against a record (the rules the stack uses: values,
    ``exists`` and ``prefix``)."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        return all(matches_filter(rule, value.get(key, _MISSING)) for key, rule in pattern.items())
    if isinstance(pattern, list):
        return any(_matches_rule(rule, value) for rule in pattern)
    return bool(pattern == value)


_MISSING = object()


def _matches_rule(rule: Any, value: Any) -> bool:
    if isinstance(rule, dict) and "exists" in rule:
        return (value is not _MISSING) is bool(rule["exists"])
    if isinstance(rule, dict) and "prefix" in rule:
        return isinstance(value, str) and value.startswith(rule["prefix"])
    return value is not _MISSING and rule == value


class StreamPoller:
    """A DynamoDB stream event source mapping: records in order, filtered, in batches, to the function.

    Like Lambda's: each shard is read from its start, records that pass no filter are dropped
    before the function is invoked, and a batch the function fails is retried ``retries`` times and
    then skipped (the stack's minute schedule repairs a lost kick).
    """

    def __init__(
        self,
        streams: Any,
        stream_arn: str,
        function: LocalFunction,
        batch_size: int,
        filters: Sequence[Any],
        stop: threading.Event,
        poll_seconds: float = 0.1,
        retries: int = 2,
        shards_every_seconds: float = 10.0,
        batching_window_seconds: float = 0.0,
    ) -> None:
        self._streams = streams
        self._stream_arn = stream_arn
        self._function = function
        self._batch_size = batch_size
        self._filters = list(filters)
        self._stop = stop
        self._poll_seconds = poll_seconds
        self._window = batching_window_seconds
        self._gathered: list[dict[str, Any]] = []  # passing records waiting for their batch
        self._gathering_since = math.inf
        self._retries = retries
        self._iterators: dict[str, str | None] = {}
        self._shards_every = shards_every_seconds
        self._shards_read_at = -math.inf
        self.invocations = 0

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.poll_once():
                    self._stop.wait(self._poll_seconds)
            except Exception:
                log.exception("stream poller for %s failed; continuing", self._function.name)
                self._stop.wait(1.0)

    def poll_once(self) -> bool:
        """Read each shard once (its list now and then: a table's shards change seldom); whether a
        shard had more records than one read returns (then it is read again at once, as Lambda does).

        Lambda reads each shard about four times a second; this, ten. Records that pass the filters
        are gathered for the batching window (from the first of them) or until a batch is full."""
        if time.monotonic() - self._shards_read_at >= self._shards_every:
            self._discover_shards()
            self._shards_read_at = time.monotonic()
        full = False
        for shard_id, iterator in list(self._iterators.items()):
            if iterator is None:
                continue
            response = self._streams.get_records(ShardIterator=iterator, Limit=self._batch_size)
            self._iterators[shard_id] = response.get("NextShardIterator")
            records = response.get("Records", [])
            full = full or len(records) >= self._batch_size
            passing = [
                {**record, "eventSource": "aws:dynamodb", "eventSourceARN": self._stream_arn}
                for record in records
                if not self._filters or any(matches_filter(pattern, record) for pattern in self._filters)
            ]
            if passing and not self._gathered:
                self._gathering_since = time.monotonic()
            self._gathered += passing
        while self._gathered and (
            len(self._gathered) >= self._batch_size
            or time.monotonic() - self._gathering_since >= self._window
        ):
            batch, self._gathered = self._gathered[: self._batch_size], self._gathered[self._batch_size :]
            self._gathering_since = time.monotonic() if self._gathered else math.inf
            self._invoke({"Records": batch})
        return full

    def _invoke(self, event: dict[str, Any]) -> None:
        for attempt in range(self._retries + 1):
            try:
                self._function.invoke(event)
                self.invocations += 1
                return
            except Exception:
                log.exception("%s failed on a stream batch (attempt %d)", self._function.name, attempt + 1)
        log.error("%s: a stream batch was skipped after its retries", self._function.name)

    def _discover_shards(self) -> None:
        shards = self._streams.describe_stream(StreamArn=self._stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self._streams.get_shard_iterator(
                    StreamArn=self._stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]


class LocalDispatcherInvoker:
    """The dispatcher's "asynchronous invoke", locally: the dispatcher function in a thread of its own.

    Installed through ``functions.integrations.dispatcher_invoker.use``, so the kick, the minute
    schedule and a dispatcher handing over start dispatchers as they do on AWS.
    """

    def __init__(self, function: LocalFunction) -> None:
        self._function = function
        self._lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        self.started = 0

    def start(self, code: str) -> None:
        thread = threading.Thread(target=self._run, args=(code,), name=f"dispatcher-{code}", daemon=True)
        with self._lock:
            self.threads = [t for t in self.threads if t.is_alive()]
            self.threads.append(thread)
            self.started += 1
        thread.start()

    def _run(self, code: str) -> None:
        try:
            self._function.invoke({"code": code})
        except Exception:
            log.exception("the dispatcher of %s failed", code)

    def join(self, timeout: float) -> None:
        with self._lock:
            threads = list(self.threads)
        for thread in threads:
            thread.join(timeout)
