"""Demo data for the local runtime: an enabled ISP tenant with its configuration, and an operator key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from functions.dal.config import ConfigTable
from functions.dal.ledger import LedgerTable
from functions.domain.ledger import EntryKind, LedgerEntry, credit_id
from functions.domain.signatures import SignatureText
from functions.domain.templates import VariableType
from functions.domain.tenants import (
    ApiKey,
    Company,
    Contact,
    ContactPhone,
    Department,
    EntityType,
    Signature,
    TemplateStatus,
    Tenant,
    TenantTemplate,
)
from functions.domain.transport import CodeKind, TransportCode
from functions.logic.auth import Permission, hash_key

# Fixed keys so the README's examples work; they exist only in the local runtime's data.
DEMO_API_KEY = "sms_local_demo_key_for_the_local_runtime_only"
OPERATOR_API_KEY = "sms_local_operator_key_for_the_local_runtime_only"
DEMO_TENANT_ID = "demo-isp"
DEMO_SENDING_NUMBER = "+18005550100"
# The demo's transport codes: a toll-free number raised to 20 parts/s for the demo, one at the carrier
# default of 3, and a short code.
DEMO_TRANSPORT_CODES = (
    TransportCode(number=DEMO_SENDING_NUMBER, kind=CodeKind.TOLL_FREE, parts_per_second=Decimal(20)),
    TransportCode(number="+18005550101", kind=CodeKind.TOLL_FREE, parts_per_second=Decimal(3)),
    TransportCode(number="55501", kind=CodeKind.SHORT_CODE, parts_per_second=Decimal(100)),
)
DEMO_CONTACT_ID = "contact-ada"
DEMO_ACCOUNT_ID = "acct-1001"
DEMO_TEMPLATE_ID = "tpl-fence-painting"
DEMO_OPENING_BALANCE_MICROS = 25_000_000  # $25: some 2,900 one-part messages at the demo price
DEMO_OPENING_REFERENCE = "demo-opening-balance"


@dataclass(frozen=True)
class Demo:
    tenant_id: str
    api_key: str
    operator_key: str
    contact_id: str
    account_id: str
    sending_number: str
    transport_codes: tuple[TransportCode, ...] = DEMO_TRANSPORT_CODES


def seed_demo(config: ConfigTable) -> Demo:
    for code in DEMO_TRANSPORT_CODES:
        config.put_transport_code(code)
    config.put_tenant(
        Tenant(
            tenant_id=DEMO_TENANT_ID,
            name="Demo Fiber ISP",
            sms_enabled=True,
            time_zone="America/Toronto",
            price_per_segment_micros=8_500,
            sending_numbers=[DEMO_SENDING_NUMBER, "+18005550101"],
            default_sending_number=DEMO_SENDING_NUMBER,
            default_mass_signature_id="sig-support",
            default_triggered_signature_id="sig-support",
        )
    )
    config.put_company(DEMO_TENANT_ID, Company(company_id="co-demo", name="Demo Fiber"))
    config.put_department(
        DEMO_TENANT_ID,
        Department(
            department_id="dep-support",
            company_id="co-demo",
            name="Support",
            phone_number="+14165550199",
            email="help@demo.example",
        ),
    )
    config.put_department(
        DEMO_TENANT_ID,
        Department(
            department_id="dep-billing",
            company_id="co-demo",
            name="Billing",
            phone_number="+14165550198",
            email="billing@demo.example",
        ),
    )
    config.put_signature(
        DEMO_TENANT_ID,
        Signature(
            signature_id="sig-support",
            name="Support",
            department_id="dep-support",
            text=SignatureText.HAVE_A_QUESTION,
        ),
    )
    config.put_signature(
        DEMO_TENANT_ID,
        Signature(
            signature_id="sig-billing",
            name="Billing",
            department_id="dep-billing",
            text=SignatureText.NEED_SOMETHING_ELSE,
        ),
    )
    ada_phones = [("+14165550123", "Mobile", True), ("+14165550124", "Home", False)]
    charles_phones = [("+14165550125", "Mobile", True)]
    contacts = [
        (DEMO_CONTACT_ID, "Ada Lovelace", "Billing", DEMO_ACCOUNT_ID, ada_phones),
        ("contact-charles", "Charles Babbage", "Technical", DEMO_ACCOUNT_ID, charles_phones),
        ("contact-grace", "Grace Hopper", "Billing", "acct-1002", [("+12125550187", "Mobile", True)]),
        ("contact-alan", "Alan Turing", "Primary", "acct-1003", [("+16045550142", "Mobile", False)]),
    ]
    for contact_id, name, contact_type, account_id, phones in contacts:
        config.put_contact(
            DEMO_TENANT_ID,
            Contact(
                contact_id=contact_id,
                name=name,
                contact_type=contact_type,
                related_entity_type=EntityType.ACCOUNT,
                related_entity_id=account_id,
                related_entity_name=f"{name.split()[1]} residence ({account_id})",
                phones=[ContactPhone(number=n, number_type=t, sms_opt_in=opt_in) for n, t, opt_in in phones],
            ),
        )
    config.put_template(
        TenantTemplate(
            template_id=DEMO_TEMPLATE_ID,
            tenant_id=DEMO_TENANT_ID,
            name="Fence painting follow-up",
            text="Hi {{first_name}}, sorry we missed you. Your fence quote of {{quote}} is ready.",
            variables={"first_name": VariableType.TEXT, "quote": VariableType.AMOUNT},
            status=TemplateStatus.APPROVED,
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
            reviewed_at=datetime(2026, 1, 2, tzinfo=UTC),
        )
    )
    tenant_permissions = [p.value for p in Permission if p is not Permission.OPERATOR]
    config.put_api_key(
        ApiKey(
            key_hash=hash_key(DEMO_API_KEY),
            tenant_id=DEMO_TENANT_ID,
            name="local demo",
            permissions=tenant_permissions,
        )
    )
    config.put_api_key(
        ApiKey(
            key_hash=hash_key(OPERATOR_API_KEY),
            tenant_id="operator",
            name="local operator",
            permissions=[Permission.OPERATOR.value],
        )
    )
    return Demo(
        tenant_id=DEMO_TENANT_ID,
        api_key=DEMO_API_KEY,
        operator_key=OPERATOR_API_KEY,
        contact_id=DEMO_CONTACT_ID,
        account_id=DEMO_ACCOUNT_ID,
        sending_number=DEMO_SENDING_NUMBER,
    )


def seed_demo_balance(ledger: LedgerTable) -> None:
    """The demo tenant's opening credit, so its messages are paid for (idempotent on its reference)."""
    ledger.add_funds(
        LedgerEntry(
            tenant_id=DEMO_TENANT_ID,
            entry_id=credit_id(DEMO_OPENING_REFERENCE),
            kind=EntryKind.CREDIT,
            amount_micros=DEMO_OPENING_BALANCE_MICROS,
            at=datetime.now(UTC),
            reference=DEMO_OPENING_REFERENCE,
            note="opening balance of the local demo",
        )
    )
