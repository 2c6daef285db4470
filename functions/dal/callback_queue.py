"""The callback queue: one SQS message per status event to post to a tenant's callback."""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.domain.callbacks import StatusEvent

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

SQS_BATCH_LIMIT = 10
MAX_VISIBILITY_SECONDS = 12 * 3600  # SQS's limit


class EnqueueFailed(Exception):
    """SQS refused some events; the stream batch is retried (events are idempotent by id)."""


class CallbackQueue:
    def __init__(self, sqs: SQSClient, queue_url: str, dead_letter_url: str | None = None) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._dead_letter_url = dead_letter_url

    def dead_letter(self, event: StatusEvent) -> None:
        """Give an event up: onto the dead-letter queue, where the alarm sees it and it can be replayed."""
        if self._dead_letter_url is None:
            raise RuntimeError("this queue has no dead-letter queue to give events up to")
        self._sqs.send_message(QueueUrl=self._dead_letter_url, MessageBody=event.model_dump_json())

    def enqueue(self, events: list[StatusEvent]) -> None:
        for start in range(0, len(events), SQS_BATCH_LIMIT):
            chunk = events[start : start + SQS_BATCH_LIMIT]
            response = self._sqs.send_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(index), "MessageBody": event.model_dump_json()}
                    for index, event in enumerate(chunk)
                ],
            )
            if response.get("Failed"):
                raise EnqueueFailed(f"{len(response['Failed'])} events were not queued")

    def retry_in(self, receipt_handle: str, seconds: int) -> None:
        """Make a received event visible again in ``seconds`` (it is then received once more)."""
        self._sqs.change_message_visibility(
            QueueUrl=self._queue_url,
            ReceiptHandle=receipt_handle,
            VisibilityTimeout=max(0, min(MAX_VISIBILITY_SECONDS, seconds)),
        )
