"""Tenants and their configuration: companies, departments, signatures, contacts and their numbers."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from functions.domain.signatures import SignatureText
from functions.domain.templates import Direction, VariableType
from functions.domain.windows import HoldPolicy, QuietHours

DEFAULT_PHONE_NUMBER_TYPES = {"Mobile": True, "Home": False, "Work": False}


class Tenant(BaseModel):
    """One instance of a customer business. The operator sets the price and the sending numbers."""

    tenant_id: str
    name: str
    sms_enabled: bool = False  # disabled until the tenant enables it
    time_zone: str = "America/New_York"
    price_per_segment_micros: int = Field(default=8_500, ge=0)  # 1 USD = 1,000,000 micros
    sending_numbers: list[str] = Field(default_factory=list)
    default_sending_number: str | None = None
    default_mass_signature_id: str | None = None
    default_triggered_signature_id: str | None = None
    # Phone number types and whether each is SMS-capable.
    phone_number_types: dict[str, bool] = Field(default_factory=lambda: dict(DEFAULT_PHONE_NUMBER_TYPES))
    quiet_hours: QuietHours | None = None  # in time_zone; triggered messages wait them out
    hold_mass_messages: bool = False  # outage notices are urgent: quiet hours spare them unless this is set
    recipient_local_window: bool = False  # every message waits for the recipient's local calling window
    smart_encoding: bool = False  # look-alike characters replaced when that makes a body GSM-7
    three_a_day_rule: bool = False  # at most three messages a subject per 24 h to numbers in FL, OK, MD

    def hold_policy(self, mass: bool) -> HoldPolicy | None:
        """The rules that hold this tenant's triggered (or mass and calling-list) messages, if any."""
        quiet_hours = None if mass and not self.hold_mass_messages else self.quiet_hours
        if quiet_hours is None and not self.recipient_local_window:
            return None
        return HoldPolicy(
            time_zone=self.time_zone, quiet_hours=quiet_hours, recipient_window=self.recipient_local_window
        )


class Company(BaseModel):
    company_id: str
    name: str


class Department(BaseModel):
    department_id: str
    company_id: str | None = None
    name: str
    phone_number: str
    email: str


class Signature(BaseModel):
    signature_id: str
    name: str
    department_id: str
    text: SignatureText


class ContactPhone(BaseModel):
    number: str  # E.164
    number_type: str
    sms_opt_in: bool = False


class EntityType(StrEnum):
    ACCOUNT = "account"
    NETWORK_SITE = "network_site"
    CALLING_LIST = "calling_list"  # a calling list's record: the list is the related entity


class Account(BaseModel):
    """A customer account: what mass messages filter on."""

    account_id: str
    name: str
    status: str = "Active"
    network_site_id: str | None = None
    groups: list[str] = Field(default_factory=list)


class AccountSnapshot(BaseModel):
    """The account's filter attributes, copied onto each of its contacts so a mass send reads one item."""

    status: str
    network_site_id: str | None = None
    groups: list[str]


class Contact(BaseModel):
    contact_id: str
    name: str
    contact_type: str
    related_entity_type: EntityType
    related_entity_id: str
    related_entity_name: str
    phones: list[ContactPhone]
    account: AccountSnapshot | None = None

    @property
    def network_site_id(self) -> str | None:
        if self.related_entity_type is EntityType.NETWORK_SITE:
            return self.related_entity_id
        return self.account.network_site_id if self.account else None


class ApiKey(BaseModel):
    key_hash: str
    key_id: str = ""
    tenant_id: str
    name: str
    permissions: list[str]


class TemplateStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class TenantTemplate(BaseModel):
    """A tenant-authored text (calling-list style); sendable only once an operator approved it."""

    template_id: str
    tenant_id: str
    name: str
    text: str
    variables: dict[str, VariableType]
    direction: Direction = Direction.LTR
    status: TemplateStatus = TemplateStatus.PENDING
    created_at: datetime
    reviewed_at: datetime | None = None
    review_note: str | None = None
