"""Triggered messages: a business event names its registered saved message; the platform sends it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from functions.dal.config import ConfigTable
from functions.dal.messages import MessagesTable
from functions.dal.send_queue import EnqueueFailed, SendQueue, SendWork
from functions.domain.catalog import TRIGGERS
from functions.domain.errors import InvalidInput, NotFound, Refused, Unavailable
from functions.domain.messages import Message, MessageStatus, Recipient, StatusChange, new_id, utc_now
from functions.domain.phone import to_e164
from functions.domain.segments import count_segments
from functions.domain.signatures import compose_body, render_signature
from functions.domain.tenants import Contact, ContactPhone, Signature, Tenant


class TriggerRequest(BaseModel):
    trigger: str
    contact_id: str
    phone_number: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    signature_id: str | None = None


class TriggeredMessages:
    def __init__(
        self,
        config: ConfigTable,
        messages: MessagesTable,
        send_queue: SendQueue,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._config = config
        self._messages = messages
        self._send_queue = send_queue
        self._clock = clock

    def send(self, tenant_id: str, request: TriggerRequest) -> Message:
        tenant = self._config.get_tenant(tenant_id)
        if tenant is None:
            raise NotFound("the tenant does not exist")
        if not tenant.sms_enabled:
            raise Refused("feature_disabled", "SMS is disabled for this tenant; enable it in the settings")
        template = TRIGGERS.get(request.trigger)
        if template is None:
            raise InvalidInput("trigger", f"'{request.trigger}' is not a registered trigger")
        contact = self._config.get_contact(tenant_id, request.contact_id)
        if contact is None:
            raise NotFound(f"contact '{request.contact_id}' does not exist", "contact_id")
        phone = _choose_phone(contact, request.phone_number)
        signature = self._signature(tenant, request.signature_id)
        department = self._config.get_department(tenant_id, signature.department_id)
        if department is None:
            raise Refused("no_department", f"the signature's department '{signature.department_id}' is gone")

        main_text = template.render(request.variables, tenant.time_zone)
        body = compose_body(
            main_text, render_signature(signature.text, department.phone_number, department.email)
        )
        count = count_segments(body)
        now = self._clock()
        message = Message(
            message_id=new_id("msg"),
            tenant_id=tenant_id,
            created_at=now,
            status=MessageStatus.PENDING,
            recipient=Recipient(
                contact_id=contact.contact_id,
                name=contact.name,
                contact_type=contact.contact_type,
                related_entity_type=contact.related_entity_type,
                related_entity_id=contact.related_entity_id,
                related_entity_name=contact.related_entity_name,
                phone_number=phone.number,
            ),
            origination_number=tenant.default_sending_number,
            template_key=template.key,
            template_version=template.version,
            trigger=request.trigger,
            body=body,
            encoding=count.encoding,
            segments=count.segments,
            price_micros=count.segments * tenant.price_per_segment_micros,
            history=[StatusChange(status=MessageStatus.PENDING, at=now)],
        )
        self._messages.put_new(message)
        try:
            self._send_queue.enqueue([SendWork(tenant_id=tenant_id, message_id=message.message_id)])
        except EnqueueFailed as error:
            # Nothing half-accepted: the record goes, and the caller is told to retry.
            self._messages.delete_pending(message.message_id)
            raise Unavailable("the message could not be queued; retry the request") from error
        return message

    def _signature(self, tenant: Tenant, signature_id: str | None) -> Signature:
        if signature_id is not None:
            chosen = self._config.get_signature(tenant.tenant_id, signature_id)
            if chosen is None:
                raise NotFound(f"signature '{signature_id}' does not exist", "signature_id")
            return chosen
        for signature in self._config.list_signatures(tenant.tenant_id):
            if signature.default_for_triggered:
                return signature
        raise Refused(
            "no_signature", "no signature given and the tenant has no default for triggered messages"
        )


def _choose_phone(contact: Contact, requested: str | None) -> ContactPhone:
    if requested is not None:
        number = to_e164(requested, "phone_number")
        matches = [phone for phone in contact.phones if phone.number == number]
        if not matches:
            raise InvalidInput("phone_number", f"{number} is not a number of contact '{contact.contact_id}'")
        candidates = matches
    else:
        candidates = contact.phones
    capable = [phone for phone in candidates if phone.sms_capable]
    if not capable:
        raise Refused("not_sms_capable", "the contact has no SMS-capable phone number", "phone_number")
    opted_in = [phone for phone in capable if phone.sms_opt_in]
    if not opted_in:
        raise Refused("not_opted_in", "the contact's number has not opted in to SMS", "phone_number")
    return opted_in[0]
