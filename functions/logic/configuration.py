"""A tenant's configuration: settings, phone number types, companies, departments, signatures, contacts."""

from __future__ import annotations

from datetime import time

from pydantic import BaseModel

from functions.dal.config import AlreadyExists, ConfigTable, name_lookup, phone_lookup
from functions.domain.contact_search import matches_name, normalized_name
from functions.domain.errors import InvalidInput, NotFound, Refused
from functions.domain.messages import new_id
from functions.domain.phone import to_e164
from functions.domain.signatures import SignatureText
from functions.domain.tenants import (
    Account,
    AccountSnapshot,
    Company,
    Contact,
    ContactPhone,
    Department,
    EntityType,
    Signature,
    Tenant,
)
from functions.domain.values import time_zone_name
from functions.domain.windows import QuietHours, parse_clock_time


class QuietHoursInput(BaseModel):
    start: str
    end: str


class SettingsChange(BaseModel):
    """Only the fields given change; ``quiet_hours`` given as None turns quiet hours off."""

    sms_enabled: bool | None = None
    time_zone: str | None = None
    quiet_hours: QuietHoursInput | None = None
    hold_mass_messages: bool | None = None
    recipient_local_window: bool | None = None
    smart_encoding: bool | None = None
    three_a_day_rule: bool | None = None


class SignatureInput(BaseModel):
    name: str
    department_id: str
    text: SignatureText
    default_for_mass: bool = False
    default_for_triggered: bool = False


class PhoneInput(BaseModel):
    number: str
    number_type: str
    sms_opt_in: bool = False


class ContactSearch(BaseModel):
    """Exactly one of: an account's or a site's id, a name prefix, a phone number (any US/Canadian form)."""

    entity_id: str | None = None
    entity_type: EntityType = EntityType.ACCOUNT
    name: str | None = None
    phone_number: str | None = None


class ContactInput(BaseModel):
    name: str
    contact_type: str
    related_entity_type: EntityType = EntityType.ACCOUNT
    related_entity_id: str
    related_entity_name: str
    phones: list[PhoneInput]


class Configuration:
    def __init__(self, config: ConfigTable) -> None:
        self._config = config

    def tenant(self, tenant_id: str) -> Tenant:
        tenant = self._config.get_tenant(tenant_id)
        if tenant is None:
            raise NotFound("the tenant does not exist")
        return tenant

    # ---- settings ----

    def change_settings(self, tenant_id: str, change: SettingsChange) -> Tenant:
        if change.time_zone is not None:
            time_zone_name(change.time_zone)
        self.tenant(tenant_id)
        updates: dict[str, object] = change.model_dump(exclude_none=True, exclude={"quiet_hours"})
        if "quiet_hours" in change.model_fields_set:
            updates["quiet_hours"] = _quiet_hours(change.quiet_hours)
        return self._config.update_tenant(tenant_id, lambda tenant: tenant.model_copy(update=updates))

    def set_phone_number_type(self, tenant_id: str, name: str, sms_capable: bool) -> Tenant:
        self.tenant(tenant_id)

        def change(tenant: Tenant) -> Tenant:
            return tenant.model_copy(
                update={"phone_number_types": {**tenant.phone_number_types, name: sms_capable}}
            )

        return self._config.update_tenant(tenant_id, change)

    # ---- companies and departments ----

    def create_company(self, tenant_id: str, name: str) -> Company:
        company = Company(company_id=new_id("co"), name=name)
        self._config.put_company(tenant_id, company)
        return company

    def save_department(
        self,
        tenant_id: str,
        name: str,
        phone_number: str,
        email: str,
        company_id: str | None,
        department_id: str | None,
    ) -> Department:
        if company_id is not None and self._config.get_company(tenant_id, company_id) is None:
            raise NotFound(f"company '{company_id}' does not exist", "company_id")
        if department_id is not None and self._config.get_department(tenant_id, department_id) is None:
            raise NotFound(f"department '{department_id}' does not exist", "department_id")
        department = Department(
            department_id=department_id or new_id("dep"),
            company_id=company_id,
            name=name,
            phone_number=to_e164(phone_number, "phone_number"),
            email=email,
        )
        self._config.put_department(tenant_id, department)
        return department

    # ---- signatures ----

    def save_signature(
        self, tenant_id: str, data: SignatureInput, signature_id: str | None = None
    ) -> Signature:
        self.tenant(tenant_id)
        if self._config.get_department(tenant_id, data.department_id) is None:
            raise NotFound(f"department '{data.department_id}' does not exist", "department_id")
        previous = self._config.get_signature(tenant_id, signature_id) if signature_id else None
        if signature_id is not None and previous is None:
            raise NotFound(f"signature '{signature_id}' does not exist", "signature_id")
        signature = Signature(
            signature_id=signature_id or new_id("sig"),
            name=data.name.strip(),
            department_id=data.department_id,
            text=data.text,
        )
        try:
            self._config.put_signature(
                tenant_id, signature, previous_name=previous.name if previous else None
            )
        except AlreadyExists as error:
            raise Refused("name_taken", f"a signature named '{data.name}' already exists", "name") from error
        self._set_defaults(
            tenant_id, signature.signature_id, data.default_for_mass, data.default_for_triggered
        )
        return signature

    def _set_defaults(self, tenant_id: str, signature_id: str, for_mass: bool, for_triggered: bool) -> None:
        """The defaults live on the tenant, one of each kind, so 'at most one' holds by construction."""

        def change(tenant: Tenant) -> Tenant:
            updates: dict[str, str | None] = {}
            if for_mass:
                updates["default_mass_signature_id"] = signature_id
            elif tenant.default_mass_signature_id == signature_id:
                updates["default_mass_signature_id"] = None
            if for_triggered:
                updates["default_triggered_signature_id"] = signature_id
            elif tenant.default_triggered_signature_id == signature_id:
                updates["default_triggered_signature_id"] = None
            return tenant.model_copy(update=updates)

        self._config.update_tenant(tenant_id, change)

    def delete_signature(self, tenant_id: str, signature_id: str) -> None:
        signature = self._config.get_signature(tenant_id, signature_id)
        if signature is None:
            raise NotFound(f"signature '{signature_id}' does not exist", "signature_id")
        self._set_defaults(tenant_id, signature_id, for_mass=False, for_triggered=False)
        self._config.delete_signature(tenant_id, signature)

    # ---- accounts ----

    def save_account(self, tenant_id: str, account: Account) -> Account:
        """Write an account and refresh the copy of its filter attributes on each of its contacts."""
        self.tenant(tenant_id)
        self._config.put_account(tenant_id, account)
        snapshot = _snapshot(account)
        for contact in self._config.contacts_of(tenant_id, EntityType.ACCOUNT.value, account.account_id):
            if contact.account != snapshot:
                self._config.put_contact(tenant_id, contact.model_copy(update={"account": snapshot}))
        return account

    # ---- contacts ----

    def save_contact(self, tenant_id: str, data: ContactInput, contact_id: str | None = None) -> Contact:
        tenant = self.tenant(tenant_id)
        if contact_id is not None and self._config.get_contact(tenant_id, contact_id) is None:
            raise NotFound(f"contact '{contact_id}' does not exist", "contact_id")
        phones: list[ContactPhone] = []
        for index, phone in enumerate(data.phones):
            if phone.number_type not in tenant.phone_number_types:
                raise InvalidInput(
                    f"phones.{index}.number_type", f"'{phone.number_type}' is not a phone number type"
                )
            number = to_e164(phone.number, f"phones.{index}.number")
            if any(existing.number == number for existing in phones):
                raise InvalidInput(f"phones.{index}.number", f"{number} is listed twice")
            phones.append(
                ContactPhone(number=number, number_type=phone.number_type, sms_opt_in=phone.sms_opt_in)
            )
        account = (
            self._config.get_account(tenant_id, data.related_entity_id)
            if data.related_entity_type is EntityType.ACCOUNT
            else None
        )
        contact = Contact(
            account=_snapshot(account) if account else None,
            contact_id=contact_id or new_id("con"),
            name=data.name,
            contact_type=data.contact_type,
            related_entity_type=data.related_entity_type,
            related_entity_id=data.related_entity_id,
            related_entity_name=data.related_entity_name,
            phones=phones,
        )
        self._config.put_contact(tenant_id, contact)
        return contact

    def find_contacts(self, tenant_id: str, search: ContactSearch, limit: int) -> list[Contact]:
        """The contacts of an account or site, or those with a number, or whose name starts so."""
        given = [name for name in ("entity_id", "name", "phone_number") if getattr(search, name) is not None]
        if not given:
            raise InvalidInput("entity_id", "give one of entity_id, name or phone_number")
        if len(given) > 1:
            raise InvalidInput(given[1], f"give only one of {', '.join(given)}")
        if search.entity_id is not None:
            return self._config.contacts_of(tenant_id, search.entity_type.value, search.entity_id)
        if search.phone_number is not None:
            number = to_e164(search.phone_number, "phone_number")
            found = self._config.find_contacts(tenant_id, phone_lookup(number), limit)
            return [contact for contact in found if any(phone.number == number for phone in contact.phones)]
        assert search.name is not None
        prefix = normalized_name(search.name)
        if not prefix:
            raise InvalidInput("name", "a name to search for holds at least one letter or digit")
        found = self._config.find_contacts(tenant_id, name_lookup(prefix), limit)
        return sorted(
            (contact for contact in found if matches_name(contact.name, prefix)),
            key=lambda contact: (normalized_name(contact.name), contact.contact_id),
        )

    def set_opt_in(self, tenant_id: str, contact_id: str, phone_number: str, opted_in: bool) -> Contact:
        contact = self._config.get_contact(tenant_id, contact_id)
        if contact is None:
            raise NotFound(f"contact '{contact_id}' does not exist", "contact_id")
        number = to_e164(phone_number, "phone_number")
        if not any(phone.number == number for phone in contact.phones):
            raise InvalidInput("phone_number", f"{number} is not a number of contact '{contact_id}'")
        phones = [
            phone.model_copy(update={"sms_opt_in": opted_in}) if phone.number == number else phone
            for phone in contact.phones
        ]
        updated = contact.model_copy(update={"phones": phones})
        self._config.put_contact(tenant_id, updated)
        return updated


def _quiet_hours(given: QuietHoursInput | None) -> QuietHours | None:
    if given is None:
        return None
    start = _clock_time(given.start, "quiet_hours.start")
    end = _clock_time(given.end, "quiet_hours.end")
    if start == end:
        raise InvalidInput("quiet_hours.end", "quiet hours must end at another time than they start")
    return QuietHours(start=start, end=end)


def _clock_time(text: str, field: str) -> time:
    try:
        return parse_clock_time(text)
    except ValueError as error:
        raise InvalidInput(field, str(error)) from error


def _snapshot(account: Account) -> AccountSnapshot:
    return AccountSnapshot(
        status=account.status, network_site_id=account.network_site_id, groups=account.groups
    )
