"""The Jobs table: mass messages and calling lists, from preview to the end of their fan-out.

Keys and access patterns:
- ``job_id`` (partition key): get one job; confirm and cancel are conditional status changes; the
  fan-out's checkpoint (``cursor``, ``checkpoint``) advances with a conditional write, so a retried or
  duplicated fan-out resumes where the last one stopped and two can never both advance it. The
  page's lease (``page_owner``, ``page_owner_until``) is taken with a conditional write before a
  page's messages are written and cleared by the advance: one writer per page at a time.
- GSI ``by_tenant`` (``tenant_id``, ``created_at``): a tenant's jobs, newest first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from functions.domain.mass import JobStatus, MassJob
from functions.domain.windows import HoldPolicy

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

_STORAGE_ONLY = frozenset({"cursor", "checkpoint", "page_owner", "page_owner_until"})


@dataclass(frozen=True)
class Checkpoint:
    status: JobStatus
    cursor: dict[str, Any] | None
    version: int
    done: bool


def _from_item(item: dict[str, Any]) -> MassJob:
    return MassJob.model_validate({key: value for key, value in item.items() if key not in _STORAGE_ONLY})


def _condition_failed(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"


class JobsTable:
    def __init__(self, table: Table) -> None:
        self._table = table

    def put_new(self, job: MassJob) -> None:
        item = {**job.model_dump(mode="json"), "checkpoint": 0}
        self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(job_id)")

    def replace_preview(self, job: MassJob) -> bool:
        """A fresh preview (and token) for a job still waiting for confirmation."""
        try:
            self._table.put_item(
                Item={**job.model_dump(mode="json"), "checkpoint": 0},
                ConditionExpression="#status = :previewed",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":previewed": JobStatus.PREVIEWED.value},
            )
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    def get(self, job_id: str) -> MassJob | None:
        item = self._table.get_item(Key={"job_id": job_id}, ConsistentRead=True).get("Item")
        return _from_item(item) if item else None

    def list_for_tenant(self, tenant_id: str, limit: int) -> list[MassJob]:
        page = self._table.query(
            IndexName="by_tenant",
            KeyConditionExpression=Key("tenant_id").eq(tenant_id),
            ScanIndexForward=False,
            Limit=limit,
        )
        return [_from_item(item) for item in page["Items"]]

    def _set_status(
        self,
        job_id: str,
        to: JobStatus,
        allowed_from: list[JobStatus],
        at_field: str,
        at: datetime,
        also_set: dict[str, Any] | None = None,
    ) -> bool:
        values: dict[str, Any] = {":to": to.value, ":at": at.isoformat()}
        names = {"#status": "status"}
        sets = ["#status = :to", f"{at_field} = :at"]
        for index, (name, value) in enumerate((also_set or {}).items()):
            names[f"#x{index}"], values[f":x{index}"] = name, value
            sets.append(f"#x{index} = :x{index}")
        placeholders = []
        for index, status in enumerate(allowed_from):
            values[f":from{index}"] = status.value
            placeholders.append(f":from{index}")
        try:
            self._table.update_item(
                Key={"job_id": job_id},
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression=f"#status IN ({', '.join(placeholders)})",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    def confirm(self, job_id: str, at: datetime, hold: HoldPolicy | None = None) -> bool:
        """Previewed -> Sending, with the hold rules its messages will wait for (None: none)."""
        also_set = {"hold": hold.model_dump(mode="json")} if hold else None
        return self._set_status(
            job_id, JobStatus.SENDING, [JobStatus.PREVIEWED], "confirmed_at", at, also_set
        )

    def cancel(self, job_id: str, at: datetime) -> bool:
        return self._set_status(
            job_id,
            JobStatus.CANCELLED,
            [JobStatus.PREVIEWED, JobStatus.SENDING, JobStatus.QUEUED],
            "cancelled_at",
            at,
        )

    def status(self, job_id: str) -> JobStatus | None:
        item = self._table.get_item(
            Key={"job_id": job_id}, ProjectionExpression="#s", ExpressionAttributeNames={"#s": "status"}
        ).get("Item")
        return JobStatus(str(item["status"])) if item else None

    def checkpoint(self, job_id: str) -> Checkpoint:
        item = self._table.get_item(Key={"job_id": job_id}, ConsistentRead=True)["Item"]
        cursor = item.get("cursor")
        return Checkpoint(
            status=JobStatus(str(item["status"])),
            cursor=json.loads(str(cursor)) if cursor else None,
            version=int(item.get("checkpoint", 0)),  # type: ignore[arg-type]
            done=bool(item.get("fanout_done", False)),
        )

    def take_page(self, job_id: str, seen: Checkpoint, owner: str, now: datetime, lease: timedelta) -> bool:
        """Take the right to write the checkpoint's page: False if another fan-out holds it (or moved on).

        Two fan-outs of one job (a redelivered work item beside its successor) never write one page
        at once, so the page's messages can be written without a condition each.
        """
        try:
            self._table.update_item(
                Key={"job_id": job_id},
                UpdateExpression="SET page_owner = :owner, page_owner_until = :until",
                ConditionExpression=(
                    "#checkpoint = :seen AND (attribute_not_exists(page_owner) OR page_owner = :owner"
                    " OR page_owner_until < :now)"
                ),
                ExpressionAttributeNames={"#checkpoint": "checkpoint"},
                ExpressionAttributeValues={
                    ":seen": seen.version,
                    ":owner": owner,
                    ":until": (now + lease).isoformat(),
                    ":now": now.isoformat(),
                },
            )
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    def advance(self, job_id: str, seen: Checkpoint, cursor: dict[str, Any] | None, created: int) -> bool:
        """Move the checkpoint past a page; False if another fan-out moved it first."""
        done = cursor is None
        updates = (
            "SET #checkpoint = :next, #cursor = :cursor, fanout_done = :done ADD created_messages :created"
            " REMOVE page_owner, page_owner_until"
        )
        values: dict[str, Any] = {
            ":seen": seen.version,
            ":next": seen.version + 1,
            ":cursor": json.dumps(cursor) if cursor else None,
            ":done": done,
            ":created": created,
        }
        try:
            self._table.update_item(
                Key={"job_id": job_id},
                UpdateExpression=updates,
                ConditionExpression="#checkpoint = :seen",
                ExpressionAttributeNames={"#checkpoint": "checkpoint", "#cursor": "cursor"},
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    def finish(self, job_id: str) -> None:
        """Sending -> Queued once every message exists and is queued (a cancelled job stays cancelled)."""
        try:
            self._table.update_item(
                Key={"job_id": job_id},
                UpdateExpression="SET #status = :sent",
                ConditionExpression="#status = :sending",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":sent": JobStatus.QUEUED.value,
                    ":sending": JobStatus.SENDING.value,
                },
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise
