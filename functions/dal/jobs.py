"""The Jobs table: mass messages and calling lists, from preview to the end of their fan-out.

Keys and access patterns:
- ``job_id`` (partition key): get one job; every status change is conditional on the status it
  leaves (and, for a preview's ending, on the preview's generation, so a superseded computation
  changes nothing); the fan-out's checkpoint (``cursor``, ``checkpoint``) advances with a conditional
  write, so a retried or duplicated fan-out resumes where the last one stopped and two can never
  both advance it.
- ``<job id>#preview#<generation>#<segment>``: one segment of a preview computation (its range of
  contacts or of the list's records, its checkpoint, its runs and exclusion counts). A segment's
  worker is the only writer of its item (conditional on its version); the job's item is written
  once when the computation begins and once when it ends, never per page, so a large preview's
  parallel segments share no key. A preview has at most 16 segments, read in one BatchGetItem.
- GSI ``by_tenant`` (``tenant_id``, ``created_at``): a tenant's jobs, newest first (segment items
  carry neither key and stay out of it).
- Sparse GSI ``by_schedule`` (``schedule_shard``, ``schedule_at`` in UTC): scheduled jobs by start
  time, for the minute schedule; the key is removed as a job starts, is cancelled or rescheduled.
  Scheduled jobs are few (a tenant's planned sends), so one shard serves the platform.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError
from pydantic import BaseModel, Field

from functions.domain.mass import RUNNING_STATUS, JobStatus, MassJob, PreviewProgress

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

_STORAGE_ONLY = frozenset({"cursor", "checkpoint", "schedule_shard", "schedule_at"})
SCHEDULE_SHARD = "SCHEDULED"
BY_SCHEDULE_INDEX = "by_schedule"
# Every status a job can still be cancelled from.
CANCELLABLE = [
    JobStatus.AWAITING_UPLOAD,
    JobStatus.VALIDATING,
    JobStatus.PREVIEWING,
    JobStatus.PREVIEWED,
    JobStatus.CONFIRMING,
    JobStatus.SCHEDULED,
    JobStatus.STARTING,
    JobStatus.SENDING,
    JobStatus.QUEUED,
]


class PreviewSegment(BaseModel):
    """One segment of a preview: a range of a tenant's contacts (sort keys) or of a list's file (bytes)."""

    job_id: str
    generation: int
    index: int
    lo: str | int
    hi: str | int
    cursor: str | None = None  # JSON: where the next page starts; None before the first
    version: int = 0
    runs: list[int] = Field(default_factory=list)  # the versions that wrote a run
    excluded: dict[str, int] = Field(default_factory=dict)
    read: int = 0
    done: bool = False
    split: bool = False  # False: a mass message's first segment, which a worker may still split

    @property
    def key(self) -> str:
        return segment_key(self.job_id, self.generation, self.index)


def segment_key(job_id: str, generation: int, index: int) -> str:
    return f"{job_id}#preview#{generation}#{index}"


@dataclass(frozen=True)
class Checkpoint:
    status: JobStatus
    cursor: dict[str, Any] | None
    version: int
    done: bool


def _segment_of(item: dict[str, Any]) -> PreviewSegment:
    lo, hi = item["lo"], item["hi"]
    return PreviewSegment.model_validate(
        {
            **{key: value for key, value in item.items() if key not in {"job_id", "segment_of"}},
            "job_id": item["segment_of"],
            "lo": int(lo) if not isinstance(lo, str) else lo,
            "hi": int(hi) if not isinstance(hi, str) else hi,
            "excluded": {name: int(count) for name, count in dict(item.get("excluded") or {}).items()},
            "runs": [int(run) for run in item.get("runs") or []],
        }
    )


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

    # ---- previews ----

    def begin_preview(
        self,
        job_id: str,
        progress: PreviewProgress,
        allowed_from: list[JobStatus],
        also_set: dict[str, Any] | None = None,
        remove: tuple[str, ...] = (),
    ) -> bool:
        """Start computation ``progress.generation`` (the one after the job's latest), moving the job to
        its purpose's running status; False if the job is not in an allowed status or another began."""
        values: dict[str, Any] = {
            ":to": RUNNING_STATUS[progress.purpose].value,
            ":progress": progress.model_dump(mode="json"),
            ":previous": progress.generation - 1,
            ":null": "NULL",
        }
        names = {"#status": "status"}
        sets = ["#status = :to", "preview_progress = :progress"]
        for index, (name, value) in enumerate((also_set or {}).items()):
            names[f"#x{index}"], values[f":x{index}"] = name, value
            sets.append(f"#x{index} = :x{index}")
        allowed = []
        for index, status in enumerate(allowed_from):
            values[f":from{index}"] = status.value
            allowed.append(f":from{index}")
        update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(remove) if remove else "")
        condition = (
            f"#status IN ({', '.join(allowed)}) AND "
            "(attribute_not_exists(preview_progress) OR attribute_type(preview_progress, :null) "
            "OR preview_progress.generation = :previous)"
        )
        return self._conditional_update(job_id, update, condition, names, values)

    def end_preview(
        self,
        job_id: str,
        progress: PreviewProgress,
        to: JobStatus,
        also_set: dict[str, Any],
        remove: tuple[str, ...] = (),
    ) -> bool:
        """End computation ``progress.generation``: False if it was superseded, or the job cancelled."""
        values: dict[str, Any] = {
            ":to": to.value,
            ":running": RUNNING_STATUS[progress.purpose].value,
            ":generation": progress.generation,
            ":progress": progress.model_dump(mode="json"),
        }
        names = {"#status": "status"}
        sets = ["#status = :to", "preview_progress = :progress"]
        for index, (name, value) in enumerate(also_set.items()):
            names[f"#x{index}"], values[f":x{index}"] = name, value
            sets.append(f"#x{index} = :x{index}")
        update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(remove) if remove else "")
        condition = "#status = :running AND preview_progress.generation = :generation"
        return self._conditional_update(job_id, update, condition, names, values)

    def put_segments(self, segments: list[PreviewSegment]) -> None:
        """Create a computation's segments (already created ones are left as they are)."""
        for segment in segments:
            try:
                self._table.put_item(
                    Item={"job_id": segment.key, **segment.model_dump(mode="json", exclude={"job_id"}),
                          "segment_of": segment.job_id},
                    ConditionExpression="attribute_not_exists(job_id)",
                )  # fmt: skip
            except ClientError as error:
                if not _condition_failed(error):
                    raise

    def segments(self, job_id: str, generation: int, count: int) -> list[PreviewSegment]:
        keys = [{"job_id": segment_key(job_id, generation, index)} for index in range(count)]
        name = self._table.name
        found: list[dict[str, Any]] = []
        request: dict[str, Any] = {name: {"Keys": keys, "ConsistentRead": True}}
        while request:
            answer = self._table.meta.client.batch_get_item(RequestItems=request)
            found += answer["Responses"].get(name, [])
            request = answer.get("UnprocessedKeys") or {}
        return sorted((_segment_of(item) for item in found), key=lambda segment: segment.index)

    def segment(self, job_id: str, generation: int, index: int) -> PreviewSegment | None:
        item = self._table.get_item(
            Key={"job_id": segment_key(job_id, generation, index)}, ConsistentRead=True
        ).get("Item")
        return _segment_of(item) if item else None

    def advance_segment(self, seen: PreviewSegment, after: PreviewSegment) -> bool:
        """Move a segment's checkpoint from ``seen`` to ``after``; False if another worker moved it."""
        return self._conditional_update(
            seen.key,
            "SET #cursor = :cursor, #version = :next, #runs = :runs, #excluded = :excluded, #read = :read, "
            "#done = :done, #hi = :hi, #split = :split",
            "#version = :seen",
            {
                name: name[1:]
                for name in ("#cursor", "#version", "#runs", "#excluded", "#read", "#done", "#hi", "#split")
            },
            {
                ":hi": after.hi,
                ":split": after.split,
                ":cursor": after.cursor,
                ":next": seen.version + 1,
                ":runs": after.runs,
                ":excluded": after.excluded,
                ":read": after.read,
                ":done": after.done,
                ":seen": seen.version,
            },
        )

    def set_segment_count(self, job_id: str, progress: PreviewProgress) -> bool:
        """A computation's first segment was split: it now has ``progress.segments`` (repeatable)."""
        return self._conditional_update(
            job_id,
            "SET preview_progress.#segments = :segments",
            "preview_progress.generation = :generation AND #status = :running",
            {"#status": "status", "#segments": "segments"},
            {
                ":segments": progress.segments,
                ":generation": progress.generation,
                ":running": RUNNING_STATUS[progress.purpose].value,
            },
        )

    # ---- schedules ----

    def due(self, now: datetime, limit: int = 100) -> list[str]:
        """Scheduled jobs whose start time has come, earliest first."""
        page = self._table.query(
            IndexName=BY_SCHEDULE_INDEX,
            KeyConditionExpression=Key("schedule_shard").eq(SCHEDULE_SHARD)
            & Key("schedule_at").lte(now.astimezone(UTC).isoformat()),
            Limit=limit,
        )
        return [str(item["job_id"]) for item in page["Items"]]

    def reschedule(self, job_id: str, send_at: datetime) -> bool:
        return self._conditional_update(
            job_id,
            "SET send_at = :send_at, schedule_at = :at",
            "#status = :scheduled",
            {"#status": "status"},
            {
                ":send_at": send_at.isoformat(),
                ":at": send_at.astimezone(UTC).isoformat(),
                ":scheduled": JobStatus.SCHEDULED.value,
            },
        )

    def _conditional_update(
        self, job_id: str, update: str, condition: str, names: dict[str, str], values: dict[str, Any]
    ) -> bool:
        try:
            self._table.update_item(
                Key={"job_id": job_id},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    def set_status(self, job_id: str, to: JobStatus, allowed_from: list[JobStatus], **fields: Any) -> bool:
        """A plain conditional status change, with other fields set alongside."""
        values: dict[str, Any] = {":to": to.value, **{f":x{i}": v for i, v in enumerate(fields.values())}}
        names = {"#status": "status", **{f"#x{i}": name for i, name in enumerate(fields)}}
        sets = ["#status = :to", *(f"#x{i} = :x{i}" for i in range(len(fields)))]
        allowed = []
        for index, status in enumerate(allowed_from):
            values[f":from{index}"] = status.value
            allowed.append(f":from{index}")
        return self._conditional_update(
            job_id, "SET " + ", ".join(sets), f"#status IN ({', '.join(allowed)})", names, values
        )

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

    def cancel(self, job_id: str, at: datetime) -> bool:
        """Any status but a final one -> Cancelled; a scheduled job leaves the schedule."""
        values: dict[str, Any] = {":to": JobStatus.CANCELLED.value, ":at": at.isoformat()}
        allowed = []
        for index, status in enumerate(CANCELLABLE):
            values[f":from{index}"] = status.value
            allowed.append(f":from{index}")
        return self._conditional_update(
            job_id,
            "SET #status = :to, cancelled_at = :at REMOVE schedule_shard",
            f"#status IN ({', '.join(allowed)})",
            {"#status": "status"},
            values,
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

    def claim_page(self, job_id: str, seen: Checkpoint, writer: str, now_ms: int, ttl_ms: int) -> bool:
        """Take the page at ``seen`` for ``writer`` (one writer per page: its messages are batch
        written); False while another fan-out holds it, or the checkpoint has moved on.

        A claim lasts ``ttl_ms``, longer than a fan-out invocation can run, so a writer that died
        mid-page is replaced only once it is surely gone.
        """
        try:
            self._table.update_item(
                Key={"job_id": job_id},
                UpdateExpression="SET page_writer = :writer, page_writer_until = :until",
                ConditionExpression=(
                    "#checkpoint = :seen AND (attribute_not_exists(page_writer) OR page_writer = :writer"
                    " OR page_writer_until < :now)"
                ),
                ExpressionAttributeNames={"#checkpoint": "checkpoint"},
                ExpressionAttributeValues={
                    ":writer": writer,
                    ":until": now_ms + ttl_ms,
                    ":seen": seen.version,
                    ":now": now_ms,
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
            " REMOVE page_writer, page_writer_until"
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
