"""The operator's registered saved messages (campaign-registered texts), versioned.

A new wording is a new version: messages record the key and version they were rendered from.
"""

from __future__ import annotations

from functions.domain.templates import Direction, MessageKind, Template, VariableType

T = VariableType

_TRIGGERED: list[tuple[str, str, str, dict[str, VariableType]]] = [
    (
        "invoice_created",
        "Invoice created",
        "{{company}}: invoice {{invoice_number}} for {{amount}} is ready, due {{due_date}}.",
        {"company": T.TEXT, "invoice_number": T.TEXT, "amount": T.AMOUNT, "due_date": T.DATE},
    ),
    (
        "invoice_due_soon",
        "Invoice due soon",
        "{{company}}: invoice {{invoice_number}} for {{amount}} is due on {{due_date}}.",
        {"company": T.TEXT, "invoice_number": T.TEXT, "amount": T.AMOUNT, "due_date": T.DATE},
    ),
    (
        "invoice_overdue",
        "Invoice overdue",
        "{{company}}: invoice {{invoice_number}} for {{amount}} was due on {{due_date}} and is unpaid.",
        {"company": T.TEXT, "invoice_number": T.TEXT, "amount": T.AMOUNT, "due_date": T.DATE},
    ),
    (
        "payment_received",
        "Payment received",
        "{{company}}: thank you, we received your payment of {{amount}}.",
        {"company": T.TEXT, "amount": T.AMOUNT},
    ),
    (
        "payment_failed",
        "Payment failed",
        "{{company}}: your payment of {{amount}} could not be processed. Please update your payment method.",
        {"company": T.TEXT, "amount": T.AMOUNT},
    ),
    (
        "autopay_upcoming",
        "Automatic payment upcoming",
        "{{company}}: your automatic payment of {{amount}} will be charged on {{charge_date}}.",
        {"company": T.TEXT, "amount": T.AMOUNT, "charge_date": T.DATE},
    ),
    (
        "account_delinquent",
        "Account delinquent",
        "{{company}}: your account has a past-due balance of {{amount}}. Please pay to avoid interruption.",
        {"company": T.TEXT, "amount": T.AMOUNT},
    ),
    (
        "account_suspended",
        "Account suspended",
        "{{company}}: your service is suspended for a past-due balance of {{amount}}.",
        {"company": T.TEXT, "amount": T.AMOUNT},
    ),
    (
        "service_reactivated",
        "Service reactivated",
        "{{company}}: your service has been reactivated. Thank you!",
        {"company": T.TEXT},
    ),
    (
        "ticket_created",
        "Ticket created",
        "{{company}}: we opened ticket #{{ticket_number}} for your request.",
        {"company": T.TEXT, "ticket_number": T.TEXT},
    ),
    (
        "ticket_updated",
        "Ticket updated",
        "{{company}}: ticket #{{ticket_number}} was updated: {{ticket_status}}.",
        {"company": T.TEXT, "ticket_number": T.TEXT, "ticket_status": T.TEXT},
    ),
    (
        "ticket_closed",
        "Ticket closed",
        "{{company}}: ticket #{{ticket_number}} is closed.",
        {"company": T.TEXT, "ticket_number": T.TEXT},
    ),
    (
        "appointment_scheduled",
        "Appointment scheduled",
        "{{company}}: your appointment is booked for {{appointment_at}}.",
        {"company": T.TEXT, "appointment_at": T.DATETIME},
    ),
    (
        "appointment_reminder",
        "Appointment reminder",
        "{{company}}: reminder, your technician visit is on {{appointment_at}}.",
        {"company": T.TEXT, "appointment_at": T.DATETIME},
    ),
    (
        "appointment_cancelled",
        "Appointment cancelled",
        "{{company}}: your appointment on {{appointment_at}} was cancelled.",
        {"company": T.TEXT, "appointment_at": T.DATETIME},
    ),
    (
        "equipment_shipped",
        "Equipment shipped",
        "{{company}}: your equipment has shipped. Tracking number {{tracking_number}}.",
        {"company": T.TEXT, "tracking_number": T.TEXT},
    ),
    (
        "data_usage_threshold",
        "Data usage threshold reached",
        "{{company}}: you have used {{percent}}% of your monthly data.",
        {"company": T.TEXT, "percent": T.TEXT},
    ),
    (
        "payment_received_ar",
        "Payment received (Arabic)",
        "{{company}}: شكراً لك، استلمنا دفعتك بمبلغ {{amount}}.",
        {"company": T.TEXT, "amount": T.AMOUNT},
    ),
]

_MASS: list[tuple[str, str, str, dict[str, VariableType]]] = [
    (
        "planned_outage",
        "Planned Outage",
        "{{company}}: planned maintenance will interrupt service from {{outage_start}} to {{outage_end}}.",
        {"company": T.TEXT, "outage_start": T.DATETIME, "outage_end": T.DATETIME},
    ),
    (
        "unplanned_outage",
        "Unplanned Outage",
        "{{company}}: we are aware of a service outage since {{outage_start}}. "
        "We expect service back by {{outage_end}}.",
        {"company": T.TEXT, "outage_start": T.DATETIME, "outage_end": T.DATETIME},
    ),
    (
        "unplanned_outage_no_eta",
        "Unplanned Outage (no restoration ETA)",
        "{{company}}: we are aware of a service outage since {{outage_start}} and are working to restore it.",
        {"company": T.TEXT, "outage_start": T.DATETIME},
    ),
]


def _build() -> dict[str, Template]:
    templates = [
        Template(
            key=key,
            version=1,
            name=name,
            kind=MessageKind.TRIGGERED,
            trigger=key,
            text=text,
            variables=variables,
            direction=Direction.RTL if key.endswith("_ar") else Direction.LTR,
        )
        for key, name, text, variables in _TRIGGERED
    ] + [
        Template(key=key, version=1, name=name, kind=MessageKind.MASS, text=text, variables=variables)
        for key, name, text, variables in _MASS
    ]
    return {template.key: template for template in templates}


SAVED_MESSAGES: dict[str, Template] = _build()
TRIGGERS: dict[str, Template] = {
    template.trigger: template for template in SAVED_MESSAGES.values() if template.trigger is not None
}
