"""The preview queue: one work item per segment of a preview computation."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

SQS_BATCH_LIMIT = 10


class PreviewWork(BaseModel):
    job_id: str
    generation: int
    segment: int


class PreviewQueue:
    def __init__(self, sqs: SQSClient, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    def put(self, work: Sequence[PreviewWork], delay_seconds: int = 0) -> None:
        for start in range(0, len(work), SQS_BATCH_LIMIT):
            batch = work[start : start + SQS_BATCH_LIMIT]
            answer = self._sqs.send_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(index), "MessageBody": item.model_dump_json(), "DelaySeconds": delay_seconds}
                    for index, item in enumerate(batch)
                ],
            )
            if answer.get("Failed"):
                raise RuntimeError(f"could not queue {len(answer['Failed'])} preview work item(s)")


def parse_preview_work(body: str) -> PreviewWork:
    return PreviewWork.model_validate(json.loads(body))
