"""Tenants and their configuration: departments, signatures, contacts and their numbers."""

from __future__ import annotations

from pydantic import BaseModel, Field

from functions.domain.signatures import SignatureText


class Tenant(BaseModel):
    tenant_id: str
    name: str
    sms_enabled: bool = False
    time_zone: str = "America/New_York"
    price_per_segment_micros: int = Field(default=8_500, ge=0)  # 1 USD = 1,000,000 micros
    default_sending_number: str


class Department(BaseModel):
    department_id: str
    name: str
    phone_number: str
    email: str


class Signature(BaseModel):
    signature_id: str
    name: str
    department_id: str
    text: SignatureText
    default_for_mass: bool = False
    default_for_triggered: bool = False


class ContactPhone(BaseModel):
    number: str  # E.164
    number_type: str
    sms_capable: bool
    sms_opt_in: bool = False


class Contact(BaseModel):
    contact_id: str
    name: str
    contact_type: str
    related_entity_type: str  # "account" or "network_site"
    related_entity_id: str
    related_entity_name: str
    phones: list[ContactPhone]


class ApiKey(BaseModel):
    key_hash: str
    tenant_id: str
    name: str
    permissions: list[str]
