"""The fan-out queue: work items that start, continue or cancel a job's fan-out."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING

from pydantic import BaseModel

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient


class FanOutAction(StrEnum):
    FAN_OUT = "fan_out"  # create and queue the job's messages from its checkpoint on
    SWEEP_CANCELLED = "sweep_cancelled"  # fail the cancelled job's messages still pending


class FanOutWork(BaseModel):
    job_id: str
    action: FanOutAction = FanOutAction.FAN_OUT


class FanOutQueue:
    def __init__(self, sqs: SQSClient, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    def put(self, work: FanOutWork, delay_seconds: int = 0) -> None:
        self._sqs.send_message(
            QueueUrl=self._queue_url, MessageBody=work.model_dump_json(), DelaySeconds=delay_seconds
        )

    def start(self, job_id: str, delay_seconds: int = 0) -> None:
        self.put(FanOutWork(job_id=job_id), delay_seconds)

    def sweep_cancelled(self, job_id: str) -> None:
        self.put(FanOutWork(job_id=job_id, action=FanOutAction.SWEEP_CANCELLED))


def parse_fanout_work(body: str) -> FanOutWork:
    return FanOutWork.model_validate(json.loads(body))
