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
    PREVIEWED = "previewed"  # waiting for confirmation
    SENDING = "sending"  # confirmed: the fan-out is creating and queueing messages
    QUEUED = "queued"  # every message is created and queued; the senders take it from there
    CANCELLED = "cancelled"


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
    preview: Preview
    confirmation_token: str
    token_expires_at: datetime
    confirmed_at: datetime | None = None
    cancelled_at: datetime | None = None
    created_messages: int = 0
    fanout_done: bool = False
    hold: HoldPolicy | None = None  # what its messages wait for, per the tenant's settings at confirmation
