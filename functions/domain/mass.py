"""Mass messages: who a filter selects, and the job a confirmed mass message becomes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from functions.domain.tenants import Contact
from functions.domain.windows import HoldPolicy


class RecipientFilter(BaseModel):
    """Every list narrows the selection; an empty list does not filter."""

    network_site_ids: list[str] = Field(default_factory=list)
    account_statuses: list[str] = Field(default_factory=list)
    account_groups: list[str] = Field(default_factory=list)
    contact_types: list[str] = Field(default_factory=list)

    def matches(self, contact: Contact) -> bool:
        if self.contact_types and contact.contact_type not in self.contact_types:
            return False
        if self.network_site_ids and contact.network_site_id not in self.network_site_ids:
            return False
        account = contact.account
        if self.account_statuses and (account is None or account.status not in self.account_statuses):
            return False
        return not (
            self.account_groups and (account is None or not set(account.groups) & set(self.account_groups))
        )


class JobStatus(StrEnum):
    AWAITING_UPLOAD = "awaiting_upload"  # a calling list waiting for its file at the pre-signed URL
    VALIDATING = "validating"  # the uploaded file is being read and checked, row by row
    REJECTED = "rejected"  # the upload as a whole was refused (too large, not CSV, no valid record)
    PREVIEWING = "previewing"  # the preview is being computed
    PREVIEWED = "previewed"  # waiting for confirmation
    CONFIRMING = "confirming"  # confirmed: the preview is computed again to check nothing changed
    SCHEDULED = "scheduled"  # confirmed for ``send_at``; waits in the table until then
    STARTING = "starting"  # its time came: the preview is computed again before it goes
    STOPPED = "stopped"  # a scheduled job that changed since its confirmation, confirmed to stop then
    SENDING = "sending"  # confirmed: the fan-out is creating and queueing messages
    QUEUED = "queued"  # every message is created and queued; the senders take it from there
    CANCELLED = "cancelled"


class PreviewPurpose(StrEnum):
    """Why a preview is computed; each has its job status while it runs, and its ending."""

    PREVIEW = "preview"  # a new job, or a fresh preview asked for: -> previewed
    CONFIRM = "confirm"  # a confirmation: unchanged -> sending or scheduled; changed -> previewed
    START = "start"  # a scheduled job's time came: -> sending, or stopped if changed and so confirmed


RUNNING_STATUS = {
    PreviewPurpose.PREVIEW: JobStatus.PREVIEWING,
    PreviewPurpose.CONFIRM: JobStatus.CONFIRMING,
    PreviewPurpose.START: JobStatus.STARTING,
}


class IfChanged(StrEnum):
    """What a scheduled job does if its audience or text changed, or the balance no longer covers it."""

    SEND = "send"
    STOP = "stop"


class PreviewProgress(BaseModel):
    """One computation of a job's preview: what it is for, how far it got, what it was given."""

    generation: int
    purpose: PreviewPurpose
    segments: int = 0
    segments_done: int = 0
    records_read: int = 0
    # The text (a calling list's template text) and, for a mass message, its segments and price.
    body: str = ""
    original_body: str | None = None  # as written, when smart encoding replaced characters in it
    segments_per_message: int = 0
    price_per_message_micros: int = 0
    # A confirmation's choices, applied if the preview is unchanged.
    send_at: datetime | None = None
    if_changed: IfChanged | None = None


class Refusal(BaseModel):
    """A confirmation that found the preview stale: nothing was sent; the job shows the new counts."""

    reason: str
    recipients_previewed: int
    recipients_now: int
    at: datetime


class StartReport(BaseModel):
    """What a scheduled job found when its time came, and what it did."""

    at: datetime
    recipients_confirmed: int
    recipients_now: int
    balance_covered: bool | None
    balance_covers_now: bool | None
    changed: bool
    action: str  # "sent" or "stopped"


class Validation(BaseModel):
    """An uploaded list's one pass: records read, accepted and refused by reason."""

    records: int = 0
    accepted: int = 0
    refused: dict[str, int] = Field(default_factory=dict)
    milliseconds: int = 0  # how long the pass took
    rejected_reason: str | None = None  # set when the upload as a whole was refused


class Preview(BaseModel):
    recipients: int  # distinct numbers that will receive the message
    duplicates_removed: int
    excluded: dict[str, int]  # reason -> numbers left out
    segments_per_message: int  # the longest message's, when a calling list personalizes them
    price_per_message_micros: int
    total_micros: int
    segments_total: int = 0
    invalid_records: int = 0
    balance_micros: int | None = None
    balance_covers: bool | None = None
    digest: str  # of the text, the sending number and the recipient numbers


class JobKind(StrEnum):
    MASS = "mass"  # an outage saved message to a filtered set of contacts
    CALLING_LIST = "calling_list"  # an approved tenant template merged with uploaded records


class MassJob(BaseModel):
    job_id: str
    kind: JobKind = JobKind.MASS
    name: str | None = None  # a calling list's name
    tenant_id: str
    created_at: datetime
    status: JobStatus
    saved_message: str
    variables: dict[str, object]
    recipient_filter: RecipientFilter
    signature_id: str
    sending_number: str
    body: str  # as sent; a calling list's template text (each record renders its own)
    original_body: str | None = None  # as written, when smart encoding replaced characters in it
    preview: Preview | None = None  # None until the first preview is computed
    confirmation_token: str | None = None
    token_expires_at: datetime | None = None
    confirmed_at: datetime | None = None
    cancelled_at: datetime | None = None
    created_messages: int = 0
    fanout_done: bool = False
    hold: HoldPolicy | None = None  # what its messages wait for, per the tenant's settings when it starts
    preview_progress: PreviewProgress | None = None  # the latest preview computation
    send_at: datetime | None = None  # a scheduled job's start
    if_changed: IfChanged | None = None
    refusal: Refusal | None = None  # the latest confirmation refused as stale
    start_report: StartReport | None = None
    validation: Validation | None = None  # a calling list's
    list_spec: dict[str, object] | None = None  # a calling list's template, fields and mapping
