"""Mass messages and calling lists as jobs: preview, confirm (now or for later), follow, cancel.

Creating a job starts its preview (functions/logic/previews.py), answered inline when the audience
is small and followed on the job otherwise. Confirmation takes the preview's token and computes the
preview again: if the recipients or the text changed since, it is refused (``preview_stale``) and
nothing is sent; otherwise the job goes to the fan-out, or waits in the table for its ``send_at``,
when the minute schedule starts it (``start_due``) and the preview is computed once more.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from functions.dal.config import ConfigTable
from functions.dal.jobs import JobsTable
from functions.dal.messages import MessagesTable
from functions.domain.catalog import SAVED_MESSAGES
from functions.domain.errors import InvalidInput, NotFound, Refused
from functions.domain.mass import (
    IfChanged,
    JobKind,
    JobStatus,
    MassJob,
    PreviewProgress,
    PreviewPurpose,
    RecipientFilter,
)
from functions.domain.messages import MessageStatus, new_id, utc_now
from functions.domain.segments import count_segments
from functions.domain.templates import MessageKind
from functions.domain.tenants import Contact, Tenant
from functions.logic.compose import Composer, Draft, Sender
from functions.logic.previews import QUEUED_AFTER_INLINE_SECONDS, FanOutStarter, Previews

# A scheduled send starts within this much of now; its list's files are kept longer than that.
MAX_SCHEDULE_AHEAD = timedelta(days=30)


class MassRequest(BaseModel):
    saved_message: str
    variables: dict[str, Any]
    recipient_filter: RecipientFilter
    signature_id: str | None = None
    sending_number: str | None = None


@dataclass(frozen=True)
class Progress:
    job: MassJob
    counts: dict[MessageStatus, int]


def page_contacts(
    config: ConfigTable, tenant_id: str, start: dict[str, Any] | None
) -> Iterator[tuple[list[Contact], dict[str, Any] | None]]:
    cursor = start
    while True:
        contacts, cursor = config.contacts_page(tenant_id, cursor)
        yield contacts, cursor
        if cursor is None:
            return


def draft_of(job: MassJob) -> Draft:
    assert job.preview is not None  # a job is sent only once previewed
    catalogued = SAVED_MESSAGES.get(job.saved_message)  # a calling list's template is the tenant's own
    count = count_segments(job.body)
    return Draft(
        tenant_id=job.tenant_id,
        template_key=job.saved_message,
        template_version=catalogued.version if catalogued else 1,
        trigger=None,
        signature_id=job.signature_id,
        sending_number=job.sending_number,
        body=job.body,
        original_body=job.original_body,
        encoding=count.encoding,
        segments=count.segments,
        price_micros=job.preview.price_per_message_micros,
        hold=job.hold,
    )


class MassMessages:
    def __init__(
        self,
        config: ConfigTable,
        jobs: JobsTable,
        messages: MessagesTable,
        composer: Composer,
        previews: Previews,
        fanout: FanOutStarter,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._config = config
        self._jobs = jobs
        self._messages = messages
        self._composer = composer
        self._previews = previews
        self._fanout = fanout
        self._clock = clock

    def create(self, tenant_id: str, request: MassRequest) -> MassJob:
        tenant = self._composer.enabled_tenant(tenant_id)
        draft = self._draft(tenant, request)
        job = MassJob(
            job_id=new_id("job"),
            tenant_id=tenant_id,
            created_at=self._clock(),
            status=JobStatus.PREVIEWING,
            saved_message=request.saved_message,
            variables=request.variables,
            recipient_filter=request.recipient_filter,
            signature_id=draft.signature_id,
            sending_number=draft.sending_number,
            body=draft.body,
            original_body=draft.original_body,
        )
        return self.preview_new(job, _progress(1, PreviewPurpose.PREVIEW, draft))

    def preview_new(self, job: MassJob, progress: PreviewProgress) -> MassJob:
        """Store a new job and compute its first preview (inline as far as it goes)."""
        segments = self._previews.begin(
            job, progress, [], new=True, queue_delay_seconds=QUEUED_AFTER_INLINE_SECONDS
        )
        assert segments is not None  # a new job moves for no one
        self._previews.run_inline(job.job_id, segments)
        return self.get(job.tenant_id, job.job_id)

    def get(self, tenant_id: str, job_id: str) -> MassJob:
        job = self._jobs.get(job_id)
        if job is None or job.tenant_id != tenant_id:
            raise NotFound(f"no mass message or calling list '{job_id}'", "job_id")
        return job

    def refresh(self, tenant_id: str, job_id: str) -> MassJob:
        """A new preview and token for an unconfirmed job (after the old token expired or went stale)."""
        job = self.get(tenant_id, job_id)
        if job.status is not JobStatus.PREVIEWED:
            raise Refused("not_previewed", f"the mass message is {job.status.value}")
        tenant = self._composer.enabled_tenant(tenant_id)
        progress = self._next(tenant, job, PreviewPurpose.PREVIEW)
        if not self._begin(job, progress, [JobStatus.PREVIEWED]):
            raise Refused("not_previewed", "the mass message was confirmed or cancelled meanwhile")
        return self.get(tenant_id, job_id)

    def confirm(
        self,
        tenant_id: str,
        job_id: str,
        token: str,
        send_at: datetime | None = None,
        if_changed: IfChanged | None = None,
    ) -> MassJob:
        job = self.get(tenant_id, job_id)
        if job.status is not JobStatus.PREVIEWED:
            raise Refused("not_previewed", f"the mass message is already {job.status.value}")
        if job.confirmation_token is None or not secrets.compare_digest(token, job.confirmation_token):
            raise InvalidInput("confirmation_token", "this is not the token of the mass message's preview")
        if job.token_expires_at is None or self._clock() >= job.token_expires_at:
            raise Refused("token_expired", "the preview expired; ask for a new one", "confirmation_token")
        if send_at is not None:
            self._check_send_at(send_at)
        tenant = self._composer.enabled_tenant(tenant_id)
        progress = self._next(tenant, job, PreviewPurpose.CONFIRM)
        progress.send_at, progress.if_changed = send_at, (if_changed if send_at else None)
        if not self._begin(job, progress, [JobStatus.PREVIEWED]):
            raise Refused("not_previewed", "the mass message was confirmed or cancelled meanwhile")
        confirmed = self.get(tenant_id, job_id)
        ended = confirmed.preview_progress
        if (
            confirmed.status is JobStatus.PREVIEWED
            and confirmed.refusal is not None
            and ended is not None
            and ended.generation == progress.generation
        ):
            raise Refused(
                "preview_stale",
                "the recipients or the text changed since the preview; review the new preview",
                "confirmation_token",
                extra={
                    "recipients_now": confirmed.refusal.recipients_now,
                    "recipients_previewed": confirmed.refusal.recipients_previewed,
                },
            )
        return confirmed

    def reschedule(self, tenant_id: str, job_id: str, send_at: datetime) -> MassJob:
        job = self.get(tenant_id, job_id)
        self._check_send_at(send_at)
        if not self._jobs.reschedule(job_id, send_at):
            raise Refused("not_scheduled", f"the mass message is {job.status.value}, not scheduled")
        return self.get(tenant_id, job_id)

    def cancel(self, tenant_id: str, job_id: str) -> MassJob:
        job = self.get(tenant_id, job_id)
        if not self._jobs.cancel(job_id, self._clock()):
            raise Refused("not_cancellable", f"the mass message is already {job.status.value}")
        if job.status in {JobStatus.SENDING, JobStatus.QUEUED}:
            self._fanout.sweep_cancelled(job_id)
        return self.get(tenant_id, job_id)

    def progress(self, tenant_id: str, job_id: str) -> Progress:
        job = self.get(tenant_id, job_id)
        if job.preview_progress is not None and job.status in RUNNING:
            job = job.model_copy(update={"preview_progress": self._previews.progress(job)})
        return Progress(job=job, counts=self._messages.count_for_job(job_id))

    def start_due(self, now: datetime | None = None) -> int:
        """Start every scheduled job whose time has come: its preview is computed once more first."""
        started = 0
        for job_id in self._jobs.due(now or self._clock()):
            job = self._jobs.get(job_id)
            tenant = self._config.get_tenant(job.tenant_id) if job else None
            if job is None or tenant is None or job.status is not JobStatus.SCHEDULED:
                continue
            progress = self._next(tenant, job, PreviewPurpose.START)
            if (
                self._previews.begin(job, progress, [JobStatus.SCHEDULED], remove=("schedule_shard",))
                is not None
            ):
                started += 1
        return started

    # ---- helpers ----

    def _check_send_at(self, send_at: datetime) -> None:
        now = self._clock()
        if send_at <= now:
            raise InvalidInput("send_at", "send_at must be in the future")
        if send_at > now + MAX_SCHEDULE_AHEAD:
            raise InvalidInput("send_at", f"send_at must be within {MAX_SCHEDULE_AHEAD.days} days")

    def _begin(self, job: MassJob, progress: PreviewProgress, allowed_from: list[JobStatus]) -> bool:
        segments = self._previews.begin(
            job, progress, allowed_from, queue_delay_seconds=QUEUED_AFTER_INLINE_SECONDS
        )
        if segments is None:
            return False
        self._previews.run_inline(job.job_id, segments)
        return True

    def _next(self, tenant: Tenant, job: MassJob, purpose: PreviewPurpose) -> PreviewProgress:
        """The next computation of the job's preview: the text as it would be now."""
        generation = (job.preview_progress.generation if job.preview_progress else 0) + 1
        if job.kind is JobKind.CALLING_LIST:
            return PreviewProgress(
                generation=generation, purpose=purpose, body=job.body, original_body=job.original_body
            )
        return _progress(generation, purpose, self._draft(tenant, self._request_of(job)))

    def _draft(self, tenant: Tenant, request: MassRequest) -> Draft:
        template = SAVED_MESSAGES.get(request.saved_message)
        if template is None or template.kind is not MessageKind.MASS:
            raise InvalidInput(
                "saved_message", f"'{request.saved_message}' is not one of the mass saved messages"
            )
        sender = Sender(sending_number=request.sending_number, signature_id=request.signature_id)
        return self._composer.prepare(
            tenant, template, request.variables, sender, tenant.default_mass_signature_id
        )

    def _request_of(self, job: MassJob) -> MassRequest:
        return MassRequest(
            saved_message=job.saved_message,
            variables=job.variables,
            recipient_filter=job.recipient_filter,
            signature_id=job.signature_id,
            sending_number=job.sending_number,
        )


RUNNING = frozenset({JobStatus.PREVIEWING, JobStatus.CONFIRMING, JobStatus.STARTING})


def _progress(generation: int, purpose: PreviewPurpose, draft: Draft) -> PreviewProgress:
    return PreviewProgress(
        generation=generation,
        purpose=purpose,
        body=draft.body,
        original_body=draft.original_body,
        segments_per_message=draft.segments,
        price_per_message_micros=draft.price_micros,
    )
