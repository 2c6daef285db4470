import pytest

from functions.domain.catalog import SAVED_MESSAGES, TRIGGERS
from functions.domain.errors import InvalidInput
from functions.domain.segments import Encoding, count_segments
from functions.domain.templates import Direction, MessageKind, Template, VariableType


def test_the_catalog_covers_the_isp_events_and_the_three_outage_messages():
    expected_triggers = {
        "invoice_created", "invoice_due_soon", "payment_received", "payment_failed", "account_delinquent",
        "account_suspended", "service_reactivated", "ticket_created", "ticket_updated", "ticket_closed",
        "appointment_scheduled", "appointment_reminder",
    }  # fmt: skip
    assert expected_triggers <= set(TRIGGERS)
    mass = {t.name for t in SAVED_MESSAGES.values() if t.kind is MessageKind.MASS}
    assert mass == {"Planned Outage", "Unplanned Outage", "Unplanned Outage (no restoration ETA)"}
    assert all(t.trigger == key for key, t in TRIGGERS.items())


def test_rendering_formats_each_variable_type():
    template = TRIGGERS["invoice_created"]
    text = template.render(
        {"company": "Acme", "invoice_number": "A-7", "amount": 123456, "due_date": "2026-12-01"}, "UTC"
    )
    assert text == "Acme: invoice A-7 for $1,234.56 is ready, due Dec 1, 2026."


def test_a_datetime_is_shown_in_the_tenants_time_zone():
    text = TRIGGERS["appointment_reminder"].render(
        {"company": "Acme", "appointment_at": "2026-07-01T18:30:00+00:00"}, "America/Vancouver"
    )
    assert text.endswith("Jul 1, 2026 11:30 AM PDT.")


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"company": "Acme"}, "variables.amount"),
        ({"company": "Acme", "amount": 10, "tip": 1}, "variables.tip"),
        ({"company": "Acme", "amount": 10.5}, "variables.amount"),
        ({"company": "Acme", "amount": True}, "variables.amount"),
        ({"company": "", "amount": 10}, "variables.company"),
    ],
)
def test_rendering_fails_loudly_on_a_missing_unknown_or_mistyped_variable(values, field):
    with pytest.raises(InvalidInput) as raised:
        TRIGGERS["payment_received"].render(values, "UTC")
    assert raised.value.field == field


def test_a_naive_datetime_is_refused():
    with pytest.raises(InvalidInput):
        TRIGGERS["appointment_reminder"].render(
            {"company": "A", "appointment_at": "2026-07-01T18:30:00"}, "UTC"
        )


def test_a_template_must_declare_exactly_its_placeholders():
    with pytest.raises(ValueError, match="placeholders"):
        Template(
            key="x", version=1, name="x", kind=MessageKind.TRIGGERED, text="Hi {{name}} {{other}}",
            variables={"name": VariableType.TEXT},
        )  # fmt: skip


def test_the_arabic_template_is_right_to_left_and_ucs2():
    template = TRIGGERS["payment_received_ar"]
    assert template.direction is Direction.RTL
    text = template.render({"company": "Acme", "amount": 500}, "UTC")
    assert "$5.00" in text
    assert count_segments(text).encoding is Encoding.UCS2
