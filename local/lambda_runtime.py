"""Lambda, as far as the local runtime needs it: invoking handlers, SQS event source mappings, schedules."""

from __future__ import annotations

import importlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from local.topology import FunctionSpec

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

log = logging.getLogger("local.lambda")
# moto's long polling would hold its dispatch lock, so poll short and nap, longer while a queue stays
# empty: many idle pollers would otherwise keep moto busy answering empty receives.
IDLE_SLEEP_SECONDS = 0.05
MAX_IDLE_SLEEP_SECONDS = 0.4
ALIGNED_RUN_LAG_SECONDS = 0.05  # an aligned tick never wakes a hair before its period starts


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
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._queue_arn = queue_arn
        self._function = function
        self._batch_size = batch_size
        self._reports_item_failures = reports_item_failures
        self._stop = stop
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

    def poll_once(self) -> bool:
        messages = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return False
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
