"""Previews as jobs: the exact recipients and cost of a mass message or calling list, in segments.

A computation (a *generation* of the job's preview) splits the audience into segments: a tenant's
contacts by ranges of their sort keys (the first character of the contact id), a calling list's
records file by byte ranges. Each segment is its own work item on the preview queue; its worker
pages through its range, counts exclusions by reason, writes the numbers it may message as a
sorted *run* to the lists bucket, and moves the segment's checkpoint with a conditional write (a
retried item resumes there, a duplicate loses the write and stops). The worker that finds every
segment done merges the runs (a streaming k-way merge: the first occurrence of a number is kept,
the others are duplicates) and ends the computation with one conditional write on the job.

The API runs the same steps inline for a short while, so a small audience is answered at once;
whatever it did not finish, the queued items (delayed a little) carry on. There is one code path.

How a computation ends depends on its purpose: a preview makes the job ``previewed`` with a fresh
confirmation token; a confirmation sends (or schedules) the job only if the digest of the text,
the sending number and the recipients is the one confirmed, and otherwise leaves it ``previewed``
with the new preview and the refusal; a scheduled job's start reports what changed and sends, or
stops if it changed and was confirmed to stop then.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
import secrets
import struct
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from functions.dal.config import ConfigTable
from functions.dal.jobs import SCHEDULE_SHARD, JobsTable, PreviewSegment
from functions.dal.list_records import ListRecords
from functions.dal.objects import ObjectStore
from functions.dal.opt_outs import OptOutsTable
from functions.dal.preview_queue import PreviewQueue, PreviewWork
from functions.domain.mass import (
    RUNNING_STATUS,
    IfChanged,
    JobKind,
    JobStatus,
    MassJob,
    Preview,
    PreviewProgress,
    PreviewPurpose,
    Refusal,
    StartReport,
)
from functions.domain.messages import utc_now
from functions.domain.tenants import Tenant
from functions.domain.three_a_day import THREE_A_DAY_RULE
from functions.logic.compose import Composer
from functions.observability import logger

CONFIRMATION_VALIDITY = timedelta(minutes=15)
# A run's entry: the number (E.164 digits), the record's row (0 for contacts), its segments.
RUN_ENTRY = struct.Struct(">QIH")
# Contact ids split by their first character (sort-key bounds after "CONTACT#"): eight ranges.
CONTACT_BOUNDARIES = ("", "4", "8", "a", "d", "g", "n", "t")
CONTACTS_PREFIX, CONTACTS_END = "CONTACT#", "CONTACT$"
LIST_SEGMENT_BYTES = 8 * 1024 * 1024
MAX_SEGMENTS = 16
PAGE_SIZE = 500
OPT_OUT_BATCH = 100
RUN_FLUSH_ENTRIES = 200_000  # a run holds at most this many numbers (about 14 bytes each)
WORKER_MARGIN_MS = 20_000  # a worker hands its segment over with this much time left
INLINE_BUDGET_MS = 2_000  # how long the API computes before it answers 202 with the job previewing
QUEUED_AFTER_INLINE_SECONDS = 2  # the queued items wait this long, so an inline run usually ends first


class BalanceReader(Protocol):
    def balance_micros(self, tenant_id: str) -> int: ...


class FanOutStarter(Protocol):
    def start(self, job_id: str) -> None: ...

    def sweep_cancelled(self, job_id: str) -> None: ...


@dataclass(frozen=True)
class Merged:
    recipients: int
    duplicates: int
    segments_total: int
    longest: int
    digest: str


def contact_ranges() -> list[tuple[str, str]]:
    bounds = [CONTACTS_PREFIX + first for first in CONTACT_BOUNDARIES] + [CONTACTS_END]
    return list(itertools.pairwise(bounds))


def byte_ranges(size: int) -> list[tuple[int, int]]:
    count = max(1, min(MAX_SEGMENTS, -(-size // LIST_SEGMENT_BYTES)))
    step = -(-size // count) if size else 1
    return [(start, min(start + step, size)) for start in range(0, max(size, 1), step)][:count]


def run_key(job_id: str, generation: int, segment: int, version: int) -> str:
    return f"previews/{job_id}/{generation}/{segment}/{version}.bin"


def encode_run(entries: list[tuple[int, int, int]]) -> bytes:
    entries.sort()
    return b"".join(RUN_ENTRY.pack(*entry) for entry in entries)


def decode_run(chunks: Iterable[bytes]) -> Iterator[tuple[int, int, int]]:
    pending = b""
    for chunk in chunks:
        data = pending + chunk if pending else chunk
        whole = len(data) - len(data) % RUN_ENTRY.size
        yield from RUN_ENTRY.iter_unpack(data[:whole])
        pending = data[whole:]


def merge_runs(runs: Iterable[Iterator[tuple[int, int, int]]], digest: Any) -> Merged:
    """One message per number: the lowest row of each number is kept, the rest are duplicates."""
    recipients = duplicates = segments_total = longest = 0
    last = -1
    for number, row, segments in heapq.merge(*runs):
        if number == last:
            duplicates += 1
            continue
        last = number
        recipients += 1
        segments_total += segments
        longest = max(longest, segments)
        digest.update(number.to_bytes(8, "big") + row.to_bytes(4, "big"))
    return Merged(recipients, duplicates, segments_total, longest, digest.hexdigest())


class Previews:
    def __init__(
        self,
        config: ConfigTable,
        jobs: JobsTable,
        records: ListRecords,
        runs: ObjectStore,
        opt_outs: OptOutsTable,
        composer: Composer,
        queue: PreviewQueue,
        fanout: FanOutStarter,
        balances: BalanceReader | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._config = config
        self._jobs = jobs
        self._records = records
        self._runs = runs
        self._opt_outs = opt_outs
        self._composer = composer
        self._queue = queue
        self._fanout = fanout
        self._balances = balances
        self._clock = clock

    # ---- beginning ----

    def begin(
        self,
        job: MassJob,
        progress: PreviewProgress,
        allowed_from: list[JobStatus],
        also_set: dict[str, Any] | None = None,
        remove: tuple[str, ...] = (),
        queue_delay_seconds: int = 0,
        new: bool = False,
    ) -> list[PreviewSegment] | None:
        """Start computation ``progress`` (its ``segments`` is filled in here): its segments, or None if
        the job moved meanwhile. ``new``: the job is stored here, already computing (one write).

        A mass message starts as one segment over every contact; a worker that finds it unfinished
        splits what is left (``_split``), so a small audience costs one query and a large one runs
        in parallel. A calling list's file is split by size at once."""
        segments: list[PreviewSegment]
        if job.kind is JobKind.CALLING_LIST:
            ranges = byte_ranges(self._records.size(job.job_id))
            segments = [
                PreviewSegment(
                    job_id=job.job_id, generation=progress.generation, index=i, lo=lo, hi=hi, split=True
                )
                for i, (lo, hi) in enumerate(ranges)
            ]
        else:
            segments = [
                PreviewSegment(
                    job_id=job.job_id,
                    generation=progress.generation,
                    index=0,
                    lo=CONTACTS_PREFIX,
                    hi=CONTACTS_END,
                )
            ]
        progress.segments = len(segments)
        self._jobs.put_segments(segments)
        if new:
            status = RUNNING_STATUS[progress.purpose]
            self._jobs.put_new(job.model_copy(update={"status": status, "preview_progress": progress}))
        elif not self._jobs.begin_preview(job.job_id, progress, allowed_from, also_set, remove):
            return None
        self._queue.put(
            [
                PreviewWork(job_id=job.job_id, generation=progress.generation, segment=s.index)
                for s in segments
            ],
            queue_delay_seconds,
        )
        return segments

    def run_inline(self, job_id: str, segments: list[PreviewSegment], budget_ms: int | None = None) -> None:
        """Work through a computation's segments in turn until the budget is spent; the queued items
        (which begin put on the queue) do whatever is left."""
        deadline = time.monotonic() + (INLINE_BUDGET_MS if budget_ms is None else budget_ms) / 1000

        def remaining_ms() -> int:
            return int((deadline - time.monotonic()) * 1000)

        job = self._jobs.get(job_id)
        tenant = self._config.get_tenant(job.tenant_id) if job else None
        if job is None or tenant is None or job.preview_progress is None:
            return
        finished = []
        for segment in segments:
            done = self._work(job, tenant, segment, remaining_ms, margin_ms=0)
            if done is None or not done.done:
                return
            finished.append(done)
        self._finish(job, tenant, job.preview_progress, finished)

    # ---- one segment ----

    def progress(self, job: MassJob) -> PreviewProgress:
        """How far the job's running computation got, read from its segments."""
        assert job.preview_progress is not None
        current = job.preview_progress
        segments = self._jobs.segments(job.job_id, current.generation, current.segments)
        return current.model_copy(
            update={
                "segments_done": sum(segment.done for segment in segments),
                "records_read": sum(segment.read for segment in segments),
            }
        )

    def step(
        self, work: PreviewWork, remaining_ms: Callable[[], int], margin_ms: int = WORKER_MARGIN_MS
    ) -> bool:
        """A queued work item: advance its segment until done (True) or the time is short (False: the
        item is queued again)."""
        job = self._jobs.get(work.job_id)
        if job is None or not _running(job, work.generation):
            return True  # superseded, ended or cancelled: nothing to do
        tenant = self._config.get_tenant(job.tenant_id)
        segment = self._jobs.segment(work.job_id, work.generation, work.segment)
        if tenant is None or segment is None:
            return True
        if not segment.split and not segment.done:
            split = self._split(job, segment)
            if split is None:
                return True  # another worker moved the segment on
            job, segment = split
        done = self._work(job, tenant, segment, remaining_ms, margin_ms)
        if done is None:
            return True  # another worker holds this segment; it carries on
        if not done.done:
            self._queue.put([work])
            return False
        assert job.preview_progress is not None
        self._finish_if_complete(job, tenant, job.preview_progress)
        return True

    def _work(
        self,
        job: MassJob,
        tenant: Tenant,
        segment: PreviewSegment,
        remaining_ms: Callable[[], int],
        margin_ms: int,
    ) -> PreviewSegment | None:
        """Advance a segment until it is done or the time is short; None if another worker took it."""
        current: PreviewSegment | None = segment
        while current is not None and not current.done and remaining_ms() > margin_ms:
            current = self._advance(job, tenant, current, remaining_ms, margin_ms)
        return current

    def _split(self, job: MassJob, segment: PreviewSegment) -> tuple[MassJob, PreviewSegment] | None:
        """Split what is left of a mass message's single segment into ranges of contact ids, each its
        own work item. Every step can be repeated: a retry after a crash redoes the same split."""
        assert job.preview_progress is not None
        position = json.loads(segment.cursor)["sk"] if segment.cursor else str(segment.lo)
        bounds = [bound for bound, _ in contact_ranges() if bound > position]
        if not bounds:
            after = segment.model_copy(update={"split": True, "version": segment.version + 1})
            return (job, after) if self._jobs.advance_segment(segment, after) else None
        progress = job.preview_progress.model_copy(update={"segments": 1 + len(bounds)})
        ranges = list(itertools.pairwise([*bounds, str(segment.hi)]))
        pieces = [
            PreviewSegment(
                job_id=job.job_id, generation=progress.generation, index=1 + i, lo=lo, hi=hi, split=True
            )
            for i, (lo, hi) in enumerate(ranges)
        ]
        self._jobs.put_segments(pieces)
        if not self._jobs.set_segment_count(job.job_id, progress):
            return None
        seen: PreviewSegment | None = segment
        while True:
            assert seen is not None
            after = seen.model_copy(update={"hi": bounds[0], "split": True, "version": seen.version + 1})
            if self._jobs.advance_segment(seen, after):
                break
            # The API's inline run of the first segment moved it on meanwhile (it stops at its next
            # page once this split lands). The split stands while that run has not read past the
            # first bound: without it, the pieces just created would never be queued.
            seen = self._jobs.segment(job.job_id, progress.generation, segment.index)
            if seen is None or seen.split or seen.done:
                return None
            moved_to = json.loads(seen.cursor)["sk"] if seen.cursor else str(seen.lo)
            if moved_to >= bounds[0]:
                logger.warning("a preview's first segment read past its split", job_id=job.job_id)
                return None
        self._queue.put(
            [PreviewWork(job_id=job.job_id, generation=progress.generation, segment=p.index) for p in pieces]
        )
        return job.model_copy(update={"preview_progress": progress}), after

    def _advance(
        self,
        job: MassJob,
        tenant: Tenant,
        segment: PreviewSegment,
        remaining_ms: Callable[[], int],
        margin_ms: int,
    ) -> PreviewSegment | None:
        entries: list[tuple[int, int, int]] = []
        excluded: Counter[str] = Counter(segment.excluded)
        read = 0
        cursor: Any = json.loads(segment.cursor) if segment.cursor else None
        done = False
        pages = (
            self._list_pages(job, tenant, segment, cursor)
            if job.kind is JobKind.CALLING_LIST
            else self._contact_pages(job, tenant, segment, cursor)
        )
        for page_entries, page_excluded, page_read, cursor, done in pages:  # noqa: B007 - kept: the checkpoint
            entries += page_entries
            excluded.update(page_excluded)
            read += page_read
            if done or len(entries) >= RUN_FLUSH_ENTRIES or remaining_ms() < margin_ms + 1:
                break
        pages.close()
        runs = list(segment.runs)
        if entries:
            self._runs.put(
                run_key(job.job_id, segment.generation, segment.index, segment.version), encode_run(entries)
            )
            runs.append(segment.version)
        after = segment.model_copy(
            update={
                "cursor": None if cursor is None else json.dumps(cursor),
                "runs": runs,
                "excluded": dict(excluded),
                "read": segment.read + read,
                "done": done,
                "version": segment.version + 1,
            }
        )
        return after if self._jobs.advance_segment(segment, after) else None

    def _contact_pages(
        self, job: MassJob, tenant: Tenant, segment: PreviewSegment, cursor: Any
    ) -> Generator[tuple[list[tuple[int, int, int]], Counter[str], int, Any, bool], None, None]:
        assert job.preview_progress is not None
        segments = job.preview_progress.segments_per_message
        while True:
            contacts, cursor = self._config.contacts_range_page(
                job.tenant_id, str(segment.lo), str(segment.hi), cursor, PAGE_SIZE
            )
            matched = [contact for contact in contacts if job.recipient_filter.matches(contact)]
            entries: list[tuple[int, int, int]] = []
            excluded: Counter[str] = Counter()
            candidates = self._composer.classify(tenant, matched, sending_number=job.sending_number)
            for candidate in self._composer.limit_by_subject(tenant, job.saved_message, candidates):
                if candidate.reason is not None:
                    excluded[candidate.reason] += 1
                else:
                    assert candidate.number is not None
                    entries.append((int(candidate.number.removeprefix("+")), 0, segments))
            yield entries, excluded, len(contacts), cursor, cursor is None
            if cursor is None:
                return

    def _list_pages(
        self, job: MassJob, tenant: Tenant, segment: PreviewSegment, cursor: Any
    ) -> Generator[tuple[list[tuple[int, int, int]], Counter[str], int, Any, bool], None, None]:
        scope = self._composer.opt_out_scope(job.sending_number)
        full = self._composer.full_by_subject(tenant, job.saved_message)  # the three-a-day rule, if on
        start = int(cursor) if cursor is not None else int(segment.lo)
        stream = self._records.records(job.job_id, start, int(segment.hi))
        page: list[Any] = []
        offset = start
        try:
            for offset, record in stream:
                page.append(record)
                if len(page) == OPT_OUT_BATCH:
                    yield *self._list_page(scope, full, page), offset, False
                    page = []
            yield *self._list_page(scope, full, page), offset, True
        finally:
            stream.close()

    def _list_page(
        self, scope: str, full: Callable[[list[str]], set[str]] | None, page: list[Any]
    ) -> tuple[list[tuple[int, int, int]], Counter[str], int]:
        numbers = [record.phone_number for record in page]
        opted_out = self._opt_outs.opted_out(scope, numbers) if page else set()
        no_slot = full([n for n in numbers if n not in opted_out]) if full and page else set()
        entries = []
        excluded: Counter[str] = Counter()
        for record in page:
            if record.phone_number in opted_out:
                excluded["opted_out"] += 1
            elif record.phone_number in no_slot:
                excluded[THREE_A_DAY_RULE] += 1
            else:
                entries.append((int(record.phone_number.removeprefix("+")), record.row, record.segments))
        return entries, excluded, len(page)

    # ---- the end of a computation ----

    def _finish_if_complete(self, job: MassJob, tenant: Tenant, progress: PreviewProgress) -> None:
        segments = self._jobs.segments(job.job_id, progress.generation, progress.segments)
        if len(segments) == progress.segments and all(segment.done for segment in segments):
            self._finish(job, tenant, progress, segments)

    def _finish(
        self, job: MassJob, tenant: Tenant, progress: PreviewProgress, segments: list[PreviewSegment]
    ) -> None:
        preview = self._preview(job, tenant, progress, segments)
        done = progress.model_copy(
            update={"segments_done": len(segments), "records_read": sum(s.read for s in segments)}
        )
        to, fields, remove, start_fanout = self._ending(job, tenant, done, preview)
        if self._jobs.end_preview(job.job_id, done, to, fields, remove):
            if start_fanout:
                self._fanout.start(job.job_id)
            return
        # Ended already: by another worker, or by this one before it died. Redo the one side effect.
        current = self._jobs.get(job.job_id)
        if (
            start_fanout
            and current is not None
            and current.status is JobStatus.SENDING
            and current.preview_progress is not None
            and current.preview_progress.generation == progress.generation
        ):
            self._fanout.start(job.job_id)

    def _preview(
        self, job: MassJob, tenant: Tenant, progress: PreviewProgress, segments: list[PreviewSegment]
    ) -> Preview:
        digest = hashlib.sha256(f"{job.sending_number}\n{progress.body}\n".encode())
        runs = [
            decode_run(self._runs.chunks(run_key(job.job_id, progress.generation, segment.index, version)))
            for segment in segments
            for version in segment.runs
        ]
        merged = merge_runs(runs, digest)
        excluded: Counter[str] = Counter()
        for segment in segments:
            excluded.update(segment.excluded)
        if job.kind is JobKind.CALLING_LIST:
            per_segment = tenant.price_per_segment_micros
            segments_per_message, price = merged.longest, merged.longest * per_segment
            total = merged.segments_total * per_segment
        else:
            segments_per_message, price = progress.segments_per_message, progress.price_per_message_micros
            total = merged.recipients * price
        balance = self._balances.balance_micros(tenant.tenant_id) if self._balances else None
        invalid = sum(job.validation.refused.values()) if job.validation else 0
        return Preview(
            recipients=merged.recipients,
            duplicates_removed=merged.duplicates,
            excluded=dict(excluded),
            segments_per_message=segments_per_message,
            price_per_message_micros=price,
            total_micros=total,
            segments_total=merged.segments_total,
            invalid_records=invalid,
            balance_micros=balance,
            balance_covers=None if balance is None else balance >= total,
            digest=merged.digest,
        )

    def _ending(
        self, job: MassJob, tenant: Tenant, progress: PreviewProgress, preview: Preview
    ) -> tuple[JobStatus, dict[str, Any], tuple[str, ...], bool]:
        """The status the computation leaves the job in, the fields it sets, and whether it sends."""
        now = self._clock()
        fresh = {
            "preview": preview.model_dump(mode="json"),
            "body": progress.body,
            "original_body": progress.original_body,
            "confirmation_token": secrets.token_urlsafe(24),
            "token_expires_at": (now + CONFIRMATION_VALIDITY).isoformat(),
        }
        hold = tenant.hold_policy(mass=True)
        sending = {"hold": hold.model_dump(mode="json") if hold else None}
        if progress.purpose is PreviewPurpose.PREVIEW:
            return JobStatus.PREVIEWED, fresh, (), False
        assert job.preview is not None
        unchanged = preview.digest == job.preview.digest
        if progress.purpose is PreviewPurpose.CONFIRM:
            if not unchanged:
                refusal = Refusal(
                    reason="preview_stale",
                    recipients_previewed=job.preview.recipients,
                    recipients_now=preview.recipients,
                    at=now,
                )
                return JobStatus.PREVIEWED, {**fresh, "refusal": refusal.model_dump(mode="json")}, (), False
            confirmed = {"confirmed_at": now.isoformat(), "preview": preview.model_dump(mode="json")}
            if progress.send_at is not None:
                schedule = {
                    "send_at": progress.send_at.isoformat(),
                    "if_changed": (progress.if_changed or IfChanged.STOP).value,
                    "schedule_shard": SCHEDULE_SHARD,
                    "schedule_at": progress.send_at.astimezone(UTC).isoformat(),
                }
                return JobStatus.SCHEDULED, {**confirmed, **schedule}, (), False
            return JobStatus.SENDING, {**confirmed, **sending}, (), True
        # A scheduled job's start: what changed since its confirmation, and what it does about it.
        covered, covers = job.preview.balance_covers, preview.balance_covers
        changed = not unchanged or (covered is True and covers is False)
        stop = changed and job.if_changed is not IfChanged.SEND
        report = StartReport(
            at=now,
            recipients_confirmed=job.preview.recipients,
            recipients_now=preview.recipients,
            balance_covered=covered,
            balance_covers_now=covers,
            changed=changed,
            action="stopped" if stop else "sent",
        )
        reported = {
            "start_report": report.model_dump(mode="json"),
            "preview": preview.model_dump(mode="json"),
        }
        if stop:
            return JobStatus.STOPPED, reported, (), False
        return JobStatus.SENDING, {**reported, **sending}, (), True


def _running(job: MassJob, generation: int) -> bool:
    progress = job.preview_progress
    return (
        progress is not None
        and progress.generation == generation
        and job.status is RUNNING_STATUS[progress.purpose]
    )
