"""Compose messages from a registered text for chosen recipients and record them, ready to send.

Shared by every way a message is created (triggers now; mass sends and calling lists build on it):
it applies the rules every message obeys: SMS enabled, a registered text, a signature with STOP,
SMS-capable numbers that opted in and did not opt out, the segment count and the price. A message
is recorded Pending and ready (on its sending number's ready index, where the code's dispatcher finds
it); one created while its tenant's quiet hours or its recipient's calling window hold it waits with
its release time until the release schedule makes it ready.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from functions.dal.config import ConfigTable
from functions.dal.messages import MessagesTable
from functions.dal.opt_outs import GLOBAL_SCOPE, OptOutsTable, scope_key
from functions.domain.errors import InvalidInput, NotFound, Refused
from functions.domain.messages import Message, MessageStatus, Recipient, StatusChange, new_id, utc_now
from functions.domain.phone import to_e164
from functions.domain.segments import DEFAULT_LIMITS, Encoding, MessageLimits
from functions.domain.signatures import compose_body, render_signature
from functions.domain.smart_encoding import encode_body
from functions.domain.templates import Template
from functions.domain.tenants import Contact, EntityType, Signature, Tenant
from functions.domain.three_a_day import THREE_A_DAY_RULE
from functions.domain.transport import default_code, normalize_code_number
from functions.domain.windows import Hold, HoldPolicy
from functions.logic.three_a_day import ThreeADay


class Recipients(BaseModel):
    """Exactly one of a contact (optionally one of its numbers) or an account's contacts."""

    contact_id: str | None = None
    account_id: str | None = None
    phone_number: str | None = None


class Skipped(BaseModel):
    contact_id: str
    phone_number: str | None
    reason: str
    detail: str


@dataclass(frozen=True)
class Composed:
    messages: list[Message]
    skipped: list[Skipped]


@dataclass(frozen=True)
class Signing:
    sending_number: str
    signature_id: str
    signature_text: str


@dataclass(frozen=True)
class Candidate:
    contact: Contact
    number: str | None
    reason: str | None  # None: this number may be messaged
    detail: str

    def skipped(self) -> Skipped:
        assert self.reason is not None
        return Skipped(
            contact_id=self.contact.contact_id,
            phone_number=self.number,
            reason=self.reason,
            detail=self.detail,
        )


@dataclass(frozen=True)
class Draft:
    """One rendered text, ready to become a message per recipient."""

    tenant_id: str
    template_key: str
    template_version: int
    trigger: str | None
    signature_id: str
    sending_number: str
    body: str  # as sent
    encoding: Encoding
    segments: int
    price_micros: int
    hold: HoldPolicy | None = None  # the quiet hours and calling windows its messages wait for
    original_body: str | None = None  # as written, when smart encoding replaced characters in it

    def message(
        self,
        message_id: str,
        contact: Contact,
        number: str,
        now: datetime,
        job_id: str | None = None,
        job_page: int | None = None,
    ) -> Message:
        hold = self.hold.hold(number, now) if self.hold else None
        return with_hold(
            Message(
                message_id=message_id,
                tenant_id=self.tenant_id,
                created_at=now,
                status=MessageStatus.PENDING,
                recipient=_recipient(contact, number),
                origination_number=self.sending_number,
                template_key=self.template_key,
                template_version=self.template_version,
                trigger=self.trigger,
                job_id=job_id,
                job_page=job_page,
                body=self.body,
                original_body=self.original_body,
                encoding=self.encoding,
                segments=self.segments,
                price_micros=self.price_micros,
                history=[],
            ),
            hold,
        )


def with_hold(message: Message, hold: Hold | None) -> Message:
    """The new message held until ``hold.release_at`` by ``hold.rule`` (None: due now)."""
    held = f"held by {hold.rule} until {hold.release_at.isoformat()}" if hold else None
    return message.model_copy(
        update={
            "release_at": hold.release_at if hold else None,
            "hold_rule": hold.rule if hold else None,
            "history": [StatusChange(status=MessageStatus.PENDING, at=message.created_at, detail=held)],
        }
    )


@dataclass(frozen=True)
class Sender:
    """What the tenant may choose for a message: the sending number and the signature."""

    sending_number: str | None = None
    signature_id: str | None = None


class Composer:
    def __init__(
        self,
        config: ConfigTable,
        messages: MessagesTable,
        opt_outs: OptOutsTable,
        clock: Callable[[], datetime] = utc_now,
        three_a_day: ThreeADay | None = None,
        limits: MessageLimits = DEFAULT_LIMITS,
    ) -> None:
        self.limits = limits
        self._three_a_day = three_a_day
        self._config = config
        self._messages = messages
        self._opt_outs = opt_outs
        self._clock = clock

    def enabled_tenant(self, tenant_id: str) -> Tenant:
        tenant = self._config.get_tenant(tenant_id)
        if tenant is None:
            raise NotFound("the tenant does not exist")
        if not tenant.sms_enabled:
            raise Refused("feature_disabled", "SMS is disabled for this tenant; enable it in the settings")
        return tenant

    def signing(self, tenant: Tenant, sender: Sender, default_signature: str | None) -> Signing:
        """The sending number and the signature, with its department's phone and email filled in."""
        sending_number = self._sending_number(tenant, sender.sending_number)
        signature = self._signature(tenant, sender.signature_id or default_signature)
        department = self._config.get_department(tenant.tenant_id, signature.department_id)
        if department is None:
            raise Refused("no_department", f"the signature's department '{signature.department_id}' is gone")
        text = render_signature(signature.text, department.phone_number, department.email)
        return Signing(
            sending_number=sending_number, signature_id=signature.signature_id, signature_text=text
        )

    def prepare(
        self,
        tenant: Tenant,
        template: Template,
        variables: dict[str, Any],
        sender: Sender,
        default_signature: str | None,
        trigger: str | None = None,
    ) -> Draft:
        """The text every recipient of this send gets, with its signature, segments and price."""
        signing = self.signing(tenant, sender, default_signature)
        rendered = template.rendered_values(variables, tenant.time_zone)
        written = compose_body(template.fill(rendered), signing.signature_text)
        encoded = encode_body(written, tenant.smart_encoding)
        count = encoded.count
        excess = self.limits.excess(encoded.body, count)
        if excess is not None:
            longest = longest_variable(rendered)
            raise InvalidInput(f"variables.{longest}" if longest else "signature_id", excess)
        return Draft(
            tenant_id=tenant.tenant_id,
            template_key=template.key,
            template_version=template.version,
            trigger=trigger,
            signature_id=signing.signature_id,
            sending_number=signing.sending_number,
            body=encoded.body,
            original_body=encoded.original_body,
            encoding=count.encoding,
            segments=count.segments,
            price_micros=count.segments * tenant.price_per_segment_micros,
        )

    def compose_and_record(
        self,
        tenant: Tenant,
        template: Template,
        variables: dict[str, Any],
        recipients: Recipients,
        sender: Sender,
        trigger: str | None = None,
    ) -> Composed:
        _check_shape(recipients)
        with self._config.read_together(
            tenant.tenant_id,
            signature_id=sender.signature_id or tenant.default_triggered_signature_id,
            contact_id=recipients.contact_id,
            transport_code=self._sending_number(tenant, sender.sending_number),
        ):
            draft = replace(
                self.prepare(
                    tenant, template, variables, sender, tenant.default_triggered_signature_id, trigger
                ),
                hold=tenant.hold_policy(mass=False),
            )
            contacts = self._contacts(tenant.tenant_id, recipients)
            chosen, skipped = self.eligible_numbers(
                tenant, contacts, recipients.phone_number, sending_number=draft.sending_number
            )
        if not chosen:
            first = skipped[0]
            raise Refused(
                first.reason,
                first.detail,
                "phone_number" if recipients.contact_id else "account_id",
                extra={"skipped": [item.model_dump(mode="json") for item in skipped]},
            )
        now = self._clock()
        messages = [draft.message(new_id("msg"), contact, number, now) for contact, number in chosen]
        if self._three_a_day is not None:
            limit = self._three_a_day
            messages = [with_hold(message, limit.hold(tenant, message, draft.hold)) for message in messages]
        self._record(messages)
        return Composed(messages=messages, skipped=skipped)

    def _record(self, messages: Sequence[Message]) -> None:
        """Each message is written ready (or held): its code's dispatcher finds it on the ready index."""
        for message in messages:
            self._messages.put_new(message)

    def _sending_number(self, tenant: Tenant, requested: str | None) -> str:
        if requested is None:
            if tenant.default_sending_number is None:
                raise Refused(
                    "no_sending_number", "the tenant has no default sending number", "sending_number"
                )
            return tenant.default_sending_number
        number = normalize_code_number(requested, "sending_number")
        if number not in tenant.sending_numbers:
            raise InvalidInput("sending_number", f"{number} is not one of the tenant's sending numbers")
        return number

    def _signature(self, tenant: Tenant, signature_id: str | None) -> Signature:
        chosen_id = signature_id or tenant.default_triggered_signature_id
        if chosen_id is None:
            raise Refused(
                "no_signature",
                "no signature given and the tenant has no default for triggered messages",
                "signature_id",
            )
        signature = self._config.get_signature(tenant.tenant_id, chosen_id)
        if signature is None:
            raise NotFound(f"signature '{chosen_id}' does not exist", "signature_id")
        return signature

    def _contacts(self, tenant_id: str, recipients: Recipients) -> list[Contact]:
        if recipients.contact_id is not None:
            contact = self._config.get_contact(tenant_id, recipients.contact_id)
            if contact is None:
                raise NotFound(f"contact '{recipients.contact_id}' does not exist", "contact_id")
            return [contact]
        assert recipients.account_id is not None
        contacts = self._config.contacts_of(tenant_id, EntityType.ACCOUNT.value, recipients.account_id)
        if not contacts:
            raise NotFound(f"account '{recipients.account_id}' has no contacts", "account_id")
        return contacts

    def opt_out_scope(self, sending_number: str | None) -> str:
        """The OptOuts table scope a message from this number obeys: its transport code's."""
        if sending_number is None:
            return GLOBAL_SCOPE  # no number, no code: the default scope
        code = self._config.get_transport_code(sending_number) or default_code(sending_number)
        return scope_key(code.opt_out_scope)

    def classify(
        self,
        tenant: Tenant,
        contacts: list[Contact],
        wanted: str | None = None,
        sending_number: str | None = None,
    ) -> list[Candidate]:
        """Every number of these contacts with the reason it cannot be messaged, or None if it can.

        Opt-outs count in the scope of the sending number (default: the tenant's default number).
        """
        candidates: list[Candidate] = []
        for contact in contacts:
            phones = [phone for phone in contact.phones if wanted is None or phone.number == wanted]
            if wanted is not None and not phones:
                raise InvalidInput(
                    "phone_number", f"{wanted} is not a number of contact '{contact.contact_id}'"
                )
            if not phones:
                candidates.append(
                    Candidate(contact, None, "no_phone_number", "the contact has no phone number")
                )
            for phone in phones:
                if not tenant.phone_number_types.get(phone.number_type, False):
                    detail = f"{phone.number} is a {phone.number_type} number, which is not SMS-capable"
                    candidates.append(Candidate(contact, phone.number, "not_sms_capable", detail))
                elif not phone.sms_opt_in:
                    candidates.append(
                        Candidate(contact, phone.number, "not_opted_in", f"{phone.number} has not opted in")
                    )
                else:
                    candidates.append(Candidate(contact, phone.number, None, ""))
        eligible = [c.number for c in candidates if c.reason is None and c.number is not None]
        scope = self.opt_out_scope(sending_number or tenant.default_sending_number)
        opted_out = self._opt_outs.opted_out(scope, eligible) if eligible else set()
        return [
            Candidate(
                c.contact,
                c.number,
                "opted_out",
                f"{c.number} is opted out in this sending number's opt-out scope",
            )
            if c.reason is None and c.number in opted_out
            else c
            for c in candidates
        ]

    def limit_by_subject(self, tenant: Tenant, subject: str, candidates: list[Candidate]) -> list[Candidate]:
        """A mass preview's candidates, those whose number has had three messages on ``subject`` in
        the last 24 hours refused with the reason ``three_a_day`` (mass sends are not held for it)."""
        if self._three_a_day is None or not tenant.three_a_day_rule:
            return candidates
        numbers = [c.number for c in candidates if c.reason is None and c.number is not None]
        full = self._three_a_day.full(tenant, subject, numbers)
        return [
            Candidate(c.contact, c.number, THREE_A_DAY_RULE, f"{c.number} had three messages on this "
                      "subject in the last 24 hours")
            if c.reason is None and c.number in full
            else c
            for c in candidates
        ]  # fmt: skip

    def within_three_a_day(self, tenant: Tenant, messages: list[Message]) -> list[Message]:
        """A fan-out page's messages, each counted; those whose number has no slot left are dropped."""
        if self._three_a_day is None or not tenant.three_a_day_rule:
            return messages
        limit = self._three_a_day
        return [message for message in messages if limit.admit(tenant, message)]

    def full_by_subject(self, tenant: Tenant, subject: str) -> Callable[[list[str]], set[str]] | None:
        """For a calling list's preview: which numbers have no slot left on ``subject``, if the rule is on."""
        if self._three_a_day is None or not tenant.three_a_day_rule:
            return None
        limit = self._three_a_day
        return lambda numbers: limit.full(tenant, subject, numbers)

    def eligible_numbers(
        self,
        tenant: Tenant,
        contacts: list[Contact],
        requested: str | None,
        sending_number: str | None = None,
    ) -> tuple[list[tuple[Contact, str]], list[Skipped]]:
        """One (contact, number) per distinct eligible number, and every refused number with its reason."""
        wanted = to_e164(requested, "phone_number") if requested is not None else None
        chosen: list[tuple[Contact, str]] = []
        skipped: list[Skipped] = []
        seen: set[str] = set()
        for candidate in self.classify(tenant, contacts, wanted, sending_number):
            if candidate.reason is not None:
                skipped.append(candidate.skipped())
            elif candidate.number is not None and candidate.number not in seen:  # one message per number
                seen.add(candidate.number)
                chosen.append((candidate.contact, candidate.number))
        return chosen, skipped


def longest_variable(rendered: dict[str, str]) -> str | None:
    """The variable that takes the most room in a text: the one to name when the text is too long."""
    return max(rendered, key=lambda name: len(rendered[name]), default=None)


def _check_shape(recipients: Recipients) -> None:
    if (recipients.contact_id is None) == (recipients.account_id is None):
        raise InvalidInput("contact_id", "name exactly one of contact_id or account_id")
    if recipients.account_id is not None and recipients.phone_number is not None:
        raise InvalidInput("phone_number", "a phone number can be chosen only for one contact")


def _recipient(contact: Contact, number: str) -> Recipient:
    return Recipient(
        contact_id=contact.contact_id,
        name=contact.name,
        contact_type=contact.contact_type,
        related_entity_type=contact.related_entity_type.value,
        related_entity_id=contact.related_entity_id,
        related_entity_name=contact.related_entity_name,
        phone_number=number,
    )
