"""The fan-out: turn a confirmed job into its messages, page by page, with a checkpoint per page.

Each page of contacts becomes messages whose ids are derived from (job, number), written only if
absent (one BatchGetItem of the page's ids, then BatchWriteItem of the absent ones, while the
fan-out holds the page in its job's checkpoint, so no other copy writes it meanwhile) and ready to
send (on the sending number's ready index, where its dispatcher finds them; a held one waits for
the release schedule); then the checkpoint moves past the page with a
conditional write. A timeout or a retry resumes at the checkpoint and rewrites nothing (the ids
already exist), a number seen on an earlier page is not messaged again, and memory holds one page
at a time.

Exactly once: an id is (job, number), so a message can only be written twice by two writers of
one page or by a retry of it. Two writers never overlap: a page's claim outlasts any invocation
(``PAGE_CLAIM_MS`` against the function's 300 s), so it is only taken over once its holder can no
longer write. A retry reads, consistently, what the dead attempt wrote and writes only the rest, and
counts those as the page's; a number seen on an earlier page is neither rewritten nor counted again.
So each message is written once, before any dispatcher can claim it, and no write puts a claimed or
sent message back to Pending.

The fan-out pauses while the job's sending number has more than ``backlog_seconds`` of sending
ready (a COUNT query on its ready key, bounded at that many rows: about pps x backlog_seconds index
rows read, some 0.5 KB each), so a million-recipient job waits in its checkpoint, not as a million
rows on one index key, and what it creates goes out minutes, not hours, after it is written.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from functions.dal.claims import FailureWriter
from functions.dal.config import ConfigTable
from functions.dal.fanout_queue import FanOutAction, FanOutQueue, FanOutWork
from functions.dal.jobs import Checkpoint, JobsTable
from functions.dal.list_records import ListRecords
from functions.dal.messages import MessagesTable, StatusMove
from functions.dal.opt_outs import OptOutsTable
from functions.domain.mass import JobKind, JobStatus, MassJob
from functions.domain.messages import Message, MessageStatus, RejectReason, utc_now
from functions.domain.segments import count_segments
from functions.domain.tenants import Contact, EntityType, Tenant
from functions.domain.transport import default_code
from functions.logic.compose import Composer
from functions.logic.kick import Kicker
from functions.logic.ledger import fail_refunded
from functions.logic.mass import draft_of
from functions.observability import logger

# A page is held by its writer this long: longer than an invocation runs (its writer is then gone).
PAGE_CLAIM_MS = 600_000
# Stop paging with this much time left, and hand over to a fresh invocation.
HANDOVER_MARGIN_MS = 20_000
# While the code's ready backlog is full, look again this much later.
PAUSE_SECONDS = 30
# A page's first this many messages (one BatchWriteItem) are written, and start their code's
# dispatcher, before the rest.
KICK_AFTER = 25


def _now_ms(clock: Callable[[], datetime]) -> int:
    return int(clock().timestamp() * 1000)


def job_message_id(job_id: str, number: str) -> str:
    digest = hashlib.sha256(f"{job_id}/{number}".encode()).hexdigest()[:20]
    return f"msg_{job_id.removeprefix('job_')}_{digest}"


NOT_PAID = "attribute_not_exists(debited) OR debited = :no"  # no claim paid for it yet


@dataclass
class FanOutResult:
    pages: int = 0
    created: int = 0
    queued: int = 0
    finished: bool = False
    handed_over: bool = False
    paused: bool = False
    busy: bool = False  # another fan-out held the page


class FanOut:
    def __init__(
        self,
        config: ConfigTable,
        jobs: JobsTable,
        messages: MessagesTable,
        composer: Composer,
        fanout_queue: FanOutQueue,
        records: ListRecords,
        opt_outs: OptOutsTable,
        page_size: int | None = None,
        backlog_seconds: int | None = None,
        clock: Callable[[], datetime] = utc_now,
        failures: FailureWriter | None = None,
        kicker: Kicker | None = None,
    ) -> None:
        """``backlog_seconds``: pause while the sending number has more than this much sending ready;
        ``kicker``: starts the sending number's dispatcher once a page's first messages are ready."""
        self._kicker = kicker
        self._backlog_seconds = backlog_seconds
        self._failures = failures
        self._records = records
        self._opt_outs = opt_outs
        self._config = config
        self._jobs = jobs
        self._messages = messages
        self._composer = composer
        self._fanout_queue = fanout_queue
        self._page_size = page_size
        self._clock = clock
        self._writer = uuid.uuid4().hex

    def run(
        self, work: FanOutWork, remaining_ms: Callable[[], int], max_pages: int | None = None
    ) -> FanOutResult:
        if work.action is FanOutAction.SWEEP_CANCELLED:
            return self._sweep_cancelled(work.job_id)
        result = FanOutResult()
        job = self._jobs.get(work.job_id)
        if job is None or job.status is not JobStatus.SENDING:
            return result
        tenant = self._config.get_tenant(job.tenant_id)
        if tenant is None:
            return result
        while True:
            checkpoint = self._jobs.checkpoint(job.job_id)
            if checkpoint.status is not JobStatus.SENDING:
                return result  # cancelled meanwhile
            if checkpoint.done:
                self._jobs.finish(job.job_id)
                result.finished = True
                return result
            if self._backlog_full(job.sending_number):
                # The code drains slower than pages arrive: wait here, not as a deep ready index.
                self._fanout_queue.start(job.job_id, delay_seconds=PAUSE_SECONDS)
                result.paused = True
                return result
            if not self._jobs.claim_page(
                job.job_id, checkpoint, self._writer, _now_ms(self._clock), PAGE_CLAIM_MS
            ):
                # Another fan-out of this job is writing this page: it carries on, and its own work
                # item comes back if it dies (SQS redelivers what was not deleted).
                result.busy = True
                return result
            if job.kind is JobKind.CALLING_LIST:
                page, next_cursor = self._list_page(job, tenant, checkpoint)
            else:
                page, next_cursor = self._contacts_page(job, tenant, checkpoint)
            created, ready = self._create(job, checkpoint, page)
            result.created += created
            result.queued += ready
            if not self._jobs.advance(job.job_id, checkpoint, next_cursor, created):
                return result  # another fan-out of this job moved on; it carries on from there
            result.pages += 1
            if next_cursor is None:
                self._jobs.finish(job.job_id)
                result.finished = True
                return result
            if remaining_ms() < HANDOVER_MARGIN_MS or (max_pages is not None and result.pages >= max_pages):
                self._fanout_queue.start(job.job_id)
                result.handed_over = True
                return result

    def _contacts_page(
        self, job: MassJob, tenant: Tenant, checkpoint: Checkpoint
    ) -> tuple[list[Message], dict[str, Any] | None]:
        contacts, next_cursor = self._config.contacts_page(job.tenant_id, checkpoint.cursor, self._page_size)
        matched = [contact for contact in contacts if job.recipient_filter.matches(contact)]
        draft, now = draft_of(job), self._clock()
        messages = [
            draft.message(
                job_message_id(job.job_id, candidate.number),
                candidate.contact,
                candidate.number,
                now,
                job.job_id,
                checkpoint.version,
            )
            for candidate in self._composer.classify(tenant, matched, sending_number=job.sending_number)
            if candidate.reason is None and candidate.number is not None
        ]
        return self._composer.within_three_a_day(tenant, messages), next_cursor

    def _list_page(
        self, job: MassJob, tenant: Tenant, checkpoint: Checkpoint
    ) -> tuple[list[Message], dict[str, Any] | None]:
        records, next_cursor = self._records.page(job.job_id, checkpoint.cursor, self._page_size)
        scope = self._composer.opt_out_scope(job.sending_number)
        opted_out = self._opt_outs.opted_out(scope, [record.phone_number for record in records])
        base, now = draft_of(job), self._clock()
        messages = []
        for record in records:
            if record.phone_number in opted_out:
                continue
            draft = replace(
                base,
                body=record.body,
                original_body=record.original_body,
                encoding=count_segments(record.body).encoding,
                segments=record.segments,
                price_micros=record.segments * tenant.price_per_segment_micros,
            )
            recipient = Contact(
                contact_id=f"row-{record.row}",
                name=record.name,
                contact_type="Calling list",
                related_entity_type=EntityType.CALLING_LIST,
                related_entity_id=job.job_id,
                related_entity_name=job.name or "Calling list",
                phones=[],
            )
            message_id = job_message_id(job.job_id, record.phone_number)
            messages.append(
                draft.message(message_id, recipient, record.phone_number, now, job.job_id, checkpoint.version)
            )
        return self._composer.within_three_a_day(tenant, messages), next_cursor

    def _backlog_full(self, code_number: str) -> bool:
        if self._backlog_seconds is None:
            return False
        code = self._config.get_transport_code(code_number) or default_code(code_number)
        room = max(1, code.limit_millis * self._backlog_seconds // 1000)  # messages of one part or more
        return self._messages.ready_count(code_number, up_to=room + 1) > room

    def _create(self, job: MassJob, checkpoint: Checkpoint, page: list[Message]) -> tuple[int, int]:
        """Write the page's messages that are new: how many are the job's, and how many went ready.

        The page's first ``KICK_AFTER`` messages are written first, and the first write that makes a
        message ready starts the code's dispatcher (if none runs): the code sends while the rest of its
        page is still being written, without waiting for the stream's kick.
        """
        first: dict[str, Message] = {}
        for message in page:
            first.setdefault(message.message_id, message)  # a number twice: its first record's message
        unique = list(first.values())
        created = ready = 0
        kicked = False
        for part in (unique[:KICK_AFTER], unique[KICK_AFTER:]):
            if not part:
                continue
            existing = self._messages.job_pages_of([message.message_id for message in part])
            fresh = [message for message in part if message.message_id not in existing]
            if fresh:
                self._messages.put_many(fresh)
            # New, or written by an earlier attempt at this page (and ready since); a number messaged
            # on an earlier page is not messaged again.
            mine = fresh + [m for m in part if existing.get(m.message_id, -1) == checkpoint.version]
            went_ready = sum(message.release_at is None for message in mine)
            if went_ready and not kicked:
                self._kick(job.sending_number)
                kicked = True
            created += len(mine)
            ready += went_ready
        return created, ready

    def _kick(self, code_number: str) -> None:
        if self._kicker is None:
            return
        try:
            self._kicker.kick([code_number])
        except Exception:  # the stream's kick and the minute schedule start it anyway
            logger.exception("could not start the dispatcher", code=code_number)

    def _sweep_cancelled(self, job_id: str) -> FanOutResult:
        result = FanOutResult()
        for message_id in self._messages.pending_of_job(job_id):
            at = self._clock()
            move = StatusMove(
                message_id, MessageStatus.FAILED, (MessageStatus.PENDING,), at, RejectReason.CANCELLED
            )
            # Never paid (the rule): one write. Paid by a claim that handed it back: with its refund.
            if self._messages.write_alone(replace(move, condition=NOT_PAID, values={":no": False})):
                continue
            message = self._messages.get(message_id)
            if message is None or message.status is not MessageStatus.PENDING:
                continue  # claimed or ended meanwhile
            if self._failures is None:  # nothing to refund through
                self._messages.write_alone(move)
            else:
                fail_refunded(self._failures, move, message.tenant_id, message.price_micros)
        result.finished = True
        return result
