"""The inbound queue: inbound messages waiting for the inbound function, in one shape whatever the path.

AWS End User Messaging two-way SMS publishes its JSON payload to the inbound SNS topic, delivered raw
into this queue. A carrier's signed webhook is checked by the API and put here in the same shape,
with ``carrier`` naming the carrier (absent: AWS).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient


class TwoWaySms(BaseModel):
    """AWS End User Messaging SMS's two-way payload (the fields the platform reads)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    origination_number: str = Field(alias="originationNumber")  # the recipient who wrote
    destination_number: str = Field(alias="destinationNumber")  # our number
    message_body: str = Field(default="", alias="messageBody")
    inbound_message_id: str = Field(alias="inboundMessageId")
    previous_published_message_id: str | None = Field(default=None, alias="previousPublishedMessageId")
    message_keyword: str | None = Field(default=None, alias="messageKeyword")
    carrier: str | None = None  # set by the webhook path; AWS's payload has none

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)


def parse_two_way(body: str) -> TwoWaySms:
    return TwoWaySms.model_validate(json.loads(body))


class InboundQueue:
    def __init__(self, sqs: SQSClient, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    def put(self, sms: TwoWaySms) -> None:
        self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=sms.to_json())
