"""Demo data for the local runtime: one enabled tenant with a department, a signature and contacts."""

from __future__ import annotations

from dataclasses import dataclass

from functions.dal.config import ConfigTable
from functions.domain.signatures import SignatureText
from functions.domain.tenants import ApiKey, Contact, ContactPhone, Department, Signature, Tenant
from functions.logic.auth import Permission, hash_key

# A fixed key so the README's examples work; it exists only in the local runtime's data.
DEMO_API_KEY = "sms_local_demo_key_for_the_local_runtime_only"
DEMO_TENANT_ID = "demo-isp"
DEMO_SENDING_NUMBER = "+18005550100"
DEMO_CONTACT_ID = "contact-ada"


@dataclass(frozen=True)
class Demo:
    tenant_id: str
    api_key: str
    contact_id: str
    sending_number: str


def seed_demo(config: ConfigTable) -> Demo:
    config.put_tenant(
        Tenant(
            tenant_id=DEMO_TENANT_ID,
            name="Demo Fiber ISP",
            sms_enabled=True,
            time_zone="America/Toronto",
            price_per_segment_micros=8_500,
            default_sending_number=DEMO_SENDING_NUMBER,
        )
    )
    config.put_department(
        DEMO_TENANT_ID,
        Department(
            department_id="support", name="Support", phone_number="+14165550199", email="help@demo.example"
        ),
    )
    config.put_signature(
        DEMO_TENANT_ID,
        Signature(
            signature_id="support-default",
            name="Support",
            department_id="support",
            text=SignatureText.HAVE_A_QUESTION,
            default_for_mass=True,
            default_for_triggered=True,
        ),
    )
    for contact_id, name, number, opted_in in [
        (DEMO_CONTACT_ID, "Ada Lovelace", "+14165550123", True),
        ("contact-grace", "Grace Hopper", "+12125550187", True),
        ("contact-alan", "Alan Turing", "+16045550142", False),
    ]:
        config.put_contact(
            DEMO_TENANT_ID,
            Contact(
                contact_id=contact_id,
                name=name,
                contact_type="Billing",
                related_entity_type="account",
                related_entity_id=f"acct-{contact_id.removeprefix('contact-')}",
                related_entity_name=f"{name} (residential)",
                phones=[
                    ContactPhone(number=number, number_type="Mobile", sms_capable=True, sms_opt_in=opted_in)
                ],
            ),
        )
    config.put_api_key(
        ApiKey(
            key_hash=hash_key(DEMO_API_KEY),
            tenant_id=DEMO_TENANT_ID,
            name="local demo",
            permissions=sorted(
                permission.value for permission in Permission if permission != Permission.OPERATOR
            ),
        )
    )
    return Demo(
        tenant_id=DEMO_TENANT_ID,
        api_key=DEMO_API_KEY,
        contact_id=DEMO_CONTACT_ID,
        sending_number=DEMO_SENDING_NUMBER,
    )
