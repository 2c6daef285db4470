"""Mass messages: a preview that states the exact recipients and cost, an explicit confirmation, a job.

The preview pages through the tenant's contacts once, applying the filter and every sending rule,
and counts distinct numbers (one message per number). Confirmation takes the preview's token and
re-runs the preview: if the recipients or the text changed since, the token no longer matches and
nothing is sent. A confirmed job is handed to the fan-out (its own queue and function).
"""

from __future__ import annotations

import hashlib
import secrets
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel

from functions.dal.config import ConfigTable
from functions.dal.jobs import JobsTable
from functions.dal.messages import MessagesTable
from functions.domain.catalog import SAVED_MESSAGES
from functions.domain.errors import InvalidInput, NotFound, Refused
from functions.domain.mass import JobKind, JobStatus, MassJob, Preview, RecipientFilter
from functions.domain.messages import MessageStatus, new_id, utc_now
from functions.domain.segments import count_segments
from functions.domain.templates import MessageKind
from functions.domain.tenants import Contact, Tenant
from functions.logic.compose import Candidate, Composer, Draft, Sender

CONFIRMATION_VALIDITY = timedelta(minutes=15)


class BalanceReader(Protocol):
    """What the preview needs from the prepaid balance."""

    def balance_micros(self, tenant_id: str) -> int: ...


class FanOutStarter(Protocol):
    """Hands a confirmed or cancelled job to the fan-out function."""

    def start(self, job_id: str) -> None: ...

    def sweep_cancelled(self, job_id: str) -> None: ...


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
        fanout: FanOutStarter,
        list_preview: Callable[[Tenant, MassJob], Preview] | None = None,
        balances: BalanceReader | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._list_preview = list_preview
        self._config = config
        self._jobs = jobs
        self._messages = messages
        self._composer = composer
        self._fanout = fanout
        self._balances = balances
        self._clock = clock

    def create(self, tenant_id: str, request: MassRequest) -> MassJob:
        tenant = self._composer.enabled_tenant(tenant_id)
        draft = self._draft(tenant, request)
        now = self._clock()
        job = MassJob(
            job_id=new_id("job"),
            tenant_id=tenant_id,
            created_at=now,
            status=JobStatus.PREVIEWED,
            saved_message=request.saved_message,
            variables=request.variables,
            recipient_filter=request.recipient_filter,
            signature_id=draft.signature_id,
            sending_number=draft.sending_number,
            body=draft.body,
            original_body=draft.original_body,
            preview=self._preview(tenant, draft, request.recipient_filter),
            confirmation_token=secrets.token_urlsafe(24),
            token_expires_at=now + CONFIRMATION_VALIDITY,
        )
        self._jobs.put_new(job)
        return job

    def get(self, tenant_id: str, job_id: str) -> MassJob:
        job = self._jobs.get(job_id)
        if job is None or job.tenant_id != tenant_id:
            raise NotFound(f"mass message '{job_id}' does not exist", "job_id")
        return job

    def refresh(self, tenant_id: str, job_id: str) -> MassJob:
        """A new preview and token for an unconfirmed job (after the old token expired or went stale)."""
        job = self.get(tenant_id, job_id)
        if job.status is not JobStatus.PREVIEWED:
            raise Refused("not_previewed", f"the mass message is {job.status.value}")
        tenant = self._composer.enabled_tenant(tenant_id)
        body, original_body, preview = self._current(tenant, job)
        now = self._clock()
        fresh = job.model_copy(
            update={
                "body": body,
                "original_body": original_body,
                "preview": preview,
                "confirmation_token": secrets.token_urlsafe(24),
                "token_expires_at": now + CONFIRMATION_VALIDITY,
            }
        )
        if not self._jobs.replace_preview(fresh):
            raise Refused("not_previewed", "the mass message was confirmed or cancelled meanwhile")
        return fresh

    def confirm(self, tenant_id: str, job_id: str, token: str) -> MassJob:
        job = self.get(tenant_id, job_id)
        if job.status is not JobStatus.PREVIEWED:
            raise Refused("not_previewed", f"the mass message is already {job.status.value}")
        if not secrets.compare_digest(token, job.confirmation_token):
            raise InvalidInput("confirmation_token", "this is not the token of the mass message's preview")
        if self._clock() >= job.token_expires_at:
            raise Refused("token_expired", "the preview expired; ask for a new one", "confirmation_token")
        tenant = self._composer.enabled_tenant(tenant_id)
        _, _, current = self._current(tenant, job)
        if current.digest != job.preview.digest:
            raise Refused(
                "preview_stale",
                "the recipients or the text changed since the preview; review the new preview",
                "confirmation_token",
                extra={"recipients_now": current.recipients, "recipients_previewed": job.preview.recipients},
            )
        if not self._jobs.confirm(job_id, self._clock(), tenant.hold_policy(mass=True)):
            raise Refused("not_previewed", "the mass message was confirmed or cancelled meanwhile")
        self._fanout.start(job_id)
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
        return Progress(job=job, counts=self._messages.count_for_job(job_id))

    # ---- the preview ----

    def _current(self, tenant: Tenant, job: MassJob) -> tuple[str, str | None, Preview]:
        """The text (as sent, as written) and the preview as they would be now: re-rendered, the
        recipients counted again."""
        if job.kind is JobKind.CALLING_LIST:
            assert self._list_preview is not None
            preview = self._list_preview(tenant, job)
            invalid = job.preview.invalid_records
            return job.body, job.original_body, preview.model_copy(update={"invalid_records": invalid})
        draft = self._draft(tenant, self._request_of(job))
        return draft.body, draft.original_body, self._preview(tenant, draft, job.recipient_filter)

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

    def _preview(self, tenant: Tenant, draft: Draft, recipient_filter: RecipientFilter) -> Preview:
        # The distinct numbers are held as integers: about 60 bytes each, the price of an exact count.
        numbers: set[int] = set()
        duplicates = 0
        excluded: Counter[str] = Counter()
        for contacts, _ in page_contacts(self._config, tenant.tenant_id, None):
            matched = [contact for contact in contacts if recipient_filter.matches(contact)]
            candidates = self._composer.classify(tenant, matched, sending_number=draft.sending_number)
            for candidate in self._composer.limit_by_subject(tenant, draft.template_key, candidates):
                duplicates += _tally(candidate, numbers, excluded)
        digest = hashlib.sha256(f"{draft.sending_number}\n{draft.body}\n".encode())
        for number in sorted(numbers):
            digest.update(number.to_bytes(8, "big"))
        total = len(numbers) * draft.price_micros
        # Without a balance store the preview states the cost and leaves coverage unknown.
        balance = self._balances.balance_micros(tenant.tenant_id) if self._balances else None
        return Preview(
            recipients=len(numbers),
            duplicates_removed=duplicates,
            excluded=dict(excluded),
            segments_per_message=draft.segments,
            price_per_message_micros=draft.price_micros,
            total_micros=total,
            balance_micros=balance,
            balance_covers=None if balance is None else balance >= total,
            digest=digest.hexdigest(),
        )


def _tally(candidate: Candidate, numbers: set[int], excluded: Counter[str]) -> int:
    """Count one candidate; 1 if it repeats a number already counted."""
    if candidate.reason is not None:
        excluded[candidate.reason] += 1
        return 0
    assert candidate.number is not None
    value = int(candidate.number.removeprefix("+"))
    if value in numbers:
        return 1
    numbers.add(value)
    return 0
