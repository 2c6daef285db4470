"""The ListRecords table: a calling list's accepted records, each already rendered, until fan-out.

Keys and access patterns:
- ``job_id`` (partition key) / ``row`` (sort key, the record's 1-based row number): written once at
  upload (BatchWriteItem); paged in row order by the preview and by the fan-out, which checkpoints
  the last row it finished.
- ``<job_id>#refused`` / ``row``: the records refused at upload (row, field, why), written once at
  upload beside the accepted ones and paged in row order by the calling list's errors route. The
  fan-out and the preview never read this partition.
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


def refused_key(job_id: str) -> str:
    return f"{job_id}#refused"


class ListRecordsTable:
    def __init__(self, table: Table) -> None:
        self._table = table

    def put_all(self, records: list[ListRecord]) -> None:
        with self._table.batch_writer() as batch:
            for record in records:
                batch.put_item(Item=record.model_dump(mode="json"))

    def put_refused(self, job_id: str, errors: list[dict[str, Any]]) -> None:
        with self._table.batch_writer() as batch:
            for error in errors:
                batch.put_item(Item={**error, "job_id": refused_key(job_id)})

    def refused_page(self, job_id: str, after_row: int, limit: int) -> tuple[list[dict[str, Any]], bool]:
        """Refused records after ``after_row``, in row order; and whether more follow."""
        page = self._table.query(
            KeyConditionExpression=Key("job_id").eq(refused_key(job_id)) & Key("row").gt(after_row),
            Limit=limit,
        )
        items = [
            {"row": int(item["row"]), "field": item["field"], "error": item["error"]}  # type: ignore[arg-type]
            for item in page["Items"]
        ]
        return items, "LastEvaluatedKey" in page

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
