"""The ListRecords table: a calling list's accepted records, each already rendered, until fan-out.

Keys and access patterns:
- ``job_id`` (partition key) / ``row`` (sort key, the record's 1-based row number): written once at
  upload (BatchWriteItem); paged in row order by the preview and by the fan-out, which checkpoints
  the last row it finished.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key
from pydantic import BaseModel

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

PAGE_SIZE = 500


class ListRecord(BaseModel):
    job_id: str
    row: int
    phone_number: str  # E.164
    name: str
    body: str  # the rendered text with its signature, as sent
    segments: int
    original_body: str | None = None  # as written, when smart encoding replaced characters in it


class ListRecordsTable:
    def __init__(self, table: Table) -> None:
        self._table = table

    def put_all(self, records: list[ListRecord]) -> None:
        with self._table.batch_writer() as batch:
            for record in records:
                batch.put_item(Item=record.model_dump(mode="json"))

    def page(
        self, job_id: str, start: dict[str, Any] | None, limit: int | None = None
    ) -> tuple[list[ListRecord], dict[str, Any] | None]:
        query: dict[str, Any] = {
            "KeyConditionExpression": Key("job_id").eq(job_id),
            "Limit": limit or PAGE_SIZE,
        }
        if start:
            query["ExclusiveStartKey"] = start
        page = self._table.query(**query)
        records = [
            ListRecord.model_validate({**item, "row": int(item["row"]), "segments": int(item["segments"])})  # type: ignore[arg-type]
            for item in page["Items"]
        ]
        return records, page.get("LastEvaluatedKey")
