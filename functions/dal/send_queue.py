"""The send queue: one SQS message per Message to send, referenced by id (the record holds the rest)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

SQS_BATCH_LIMIT = 10
MAX_DELAY_SECONDS = 900


class Ticket(BaseModel):
    """A reserved slot on a transport code: the message comes back for it and is sent then."""

    code: str
    at_us: int  # epoch microseconds
    tag: int


class SendWork(BaseModel):
    tenant_id: str
    message_id: str
    ticket: Ticket | None = None
    attempt: int = 0  # carrier retries so far, for the backoff
    # A mass message's sending number, set by the fan-out: a sender sees how far ahead that code is
    # booked before it claims the message.
    code: str | None = None


class EnqueueFailed(Exception):
    def __init__(self, message_ids: list[str]) -> None:
        super().__init__(f"could not enqueue {len(message_ids)} message(s)")
        self.message_ids = message_ids


class SendQueue:
    def __init__(self, sqs: SQSClient, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    def enqueue(self, work: Sequence[SendWork], delay_seconds: int = 0) -> None:
        """Send in batches of ten; raise with the ids SQS refused, so the caller can take them back."""
        self.enqueue_delayed([(item, delay_seconds) for item in work])

    def enqueue_delayed(self, work: Sequence[tuple[SendWork, int]]) -> None:
        """Each item with its own delay (0-900 s), in batches of ten."""
        failed: list[str] = []
        for start in range(0, len(work), SQS_BATCH_LIMIT):
            chunk = work[start : start + SQS_BATCH_LIMIT]
            response = self._sqs.send_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {
                        "Id": str(index),
                        "MessageBody": item.model_dump_json(exclude_defaults=True),
                        "DelaySeconds": max(0, min(MAX_DELAY_SECONDS, delay)),
                    }
                    for index, (item, delay) in enumerate(chunk)
                ],
            )
            failed.extend(chunk[int(entry["Id"])][0].message_id for entry in response.get("Failed", []))
        if failed:
            raise EnqueueFailed(failed)

    def depth(self) -> int:
        """Messages waiting, visible or delayed (approximate, as SQS counts them)."""
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self._queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed"],
        )["Attributes"]
        return int(attributes.get("ApproximateNumberOfMessages", 0)) + int(
            attributes.get("ApproximateNumberOfMessagesDelayed", 0)
        )


def parse_work(body: str) -> SendWork:
    return SendWork.model_validate(json.loads(body))
