"""The fan-out: turn a confirmed job into its messages, page by page, with a checkpoint per page.

Each page of contacts becomes messages whose ids are derived from (job, number), written only if
absent, then queued in batches of ten; then the checkpoint moves past the page with a conditional
write. A timeout or a retry resumes at the checkpoint and rewrites nothing (the ids already exist),
a number seen on an earlier page is not messaged again, and memory holds one page at a time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from functions.dal.config import ConfigTable
from functions.dal.fanout_queue import FanOutQueue, FanOutWork
from functions.dal.jobs import JobsTable
from functions.dal.messages import MessagesTable
from functions.dal.send_queue import SendQueue, SendWork
from functions.domain.mass import JobStatus
from functions.domain.messages import MessageStatus, RejectReason, utc_now
from functions.logic.compose import Composer
from functions.logic.mass import draft_of

# Stop paging with this much time left, and hand over to a fresh invocation.
HANDOVER_MARGIN_MS = 20_000


def job_message_id(job_id: str, number: str) -> str:
    digest = hashlib.sha256(f"{job_id}/{number}".encode()).hexdigest()[:20]
    return f"msg_{job_id.removeprefix('job_')}_{digest}"


@dataclass
class FanOutResult:
    pages: int = 0
    created: int = 0
    queued: int = 0
    finished: bool = False
    handed_over: bool = False


class FanOut:
    def __init__(
        self,
        config: ConfigTable,
        jobs: JobsTable,
        messages: MessagesTable,
        composer: Composer,
        send_queue: SendQueue,
        fanout_queue: FanOutQueue,
        page_size: int | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._config = config
        self._jobs = jobs
        self._messages = messages
        self._composer = composer
        self._send_queue = send_queue
        self._fanout_queue = fanout_queue
        self._page_size = page_size
        self._clock = clock

    def run(
        self, work: FanOutWork, remaining_ms: Callable[[], int], max_pages: int | None = None
    ) -> FanOutResult:
        if work.action == "sweep_cancelled":
            return self._sweep_cancelled(work.job_id)
        result = FanOutResult()
        job = self._jobs.get(work.job_id)
        if job is None or job.status is not JobStatus.SENDING:
            return result
        tenant = self._config.get_tenant(job.tenant_id)
        if tenant is None:
            return result
        draft = draft_of(job)
        while True:
            checkpoint = self._jobs.checkpoint(job.job_id)
            if checkpoint.status is not JobStatus.SENDING:
                return result  # cancelled meanwhile
            if checkpoint.done:
                self._jobs.finish(job.job_id)
                result.finished = True
                return result
            contacts, next_cursor = self._config.contacts_page(
                job.tenant_id, checkpoint.cursor, self._page_size
            )
            matched = [contact for contact in contacts if job.recipient_filter.matches(contact)]
            now = self._clock()
            work_items: dict[str, SendWork] = {}
            created = 0
            for candidate in self._composer.classify(tenant, matched):
                if candidate.reason is not None or candidate.number is None:
                    continue
                message_id = job_message_id(job.job_id, candidate.number)
                if message_id in work_items:
                    continue  # the same number twice on this page
                page = checkpoint.version
                message = draft.message(
                    message_id, candidate.contact, candidate.number, now, job.job_id, page
                )
                if (
                    not self._messages.put_if_absent(message)
                    and self._messages.job_page_of(message_id) != page
                ):
                    continue  # the number was messaged on an earlier page: one message per number
                # New, or written by an earlier attempt at this page that may have died before queueing
                # it: queued either way; a second copy is harmless, the sender's claim lets one through.
                created += 1
                work_items[message_id] = SendWork(tenant_id=job.tenant_id, message_id=message_id)
            self._send_queue.enqueue(list(work_items.values()))
            result.created += created
            result.queued += len(work_items)
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

    def _sweep_cancelled(self, job_id: str) -> FanOutResult:
        result = FanOutResult()
        for message_id in self._messages.pending_of_job(job_id):
            self._messages.transition(
                message_id,
                MessageStatus.FAILED,
                allowed_from=[MessageStatus.PENDING],
                at=self._clock(),
                reason=RejectReason.CANCELLED,
            )
        result.finished = True
        return result
