"""The six fixed signature texts; each carries the STOP instruction required for compliance."""

from __future__ import annotations

from enum import StrEnum

PHONE_PLACEHOLDER = "|DEPARTMENT_PHONE_NUMBER|"
EMAIL_PLACEHOLDER = "|DEPARTMENT_EMAIL|"
_CONTACT = f"Call {PHONE_PLACEHOLDER}. Email {EMAIL_PLACEHOLDER}. Reply STOP to unsubscribe."


class SignatureText(StrEnum):
    STOP_ONLY = "Reply STOP to unsubscribe."
    NEED_SOMETHING_ELSE = f"Need something else? {_CONTACT}"
    MORE_INFORMATION = f"Looking for more information? {_CONTACT}"
    HAVE_A_QUESTION = f"Have a question? {_CONTACT}"
    NEED_TO_CHAT = f"Need to chat? {_CONTACT}"
    HERE_TO_HELP = f"We're here to help! {_CONTACT}"


def render_signature(text: SignatureText, department_phone: str, department_email: str) -> str:
    return text.value.replace(PHONE_PLACEHOLDER, display_phone(department_phone)).replace(
        EMAIL_PLACEHOLDER, department_email
    )


def display_phone(e164: str) -> str:
    """+15145550100 -> 514-555-0100: the short NANP form costs fewer characters than E.164."""
    digits = e164.removeprefix("+1")
    return f"{digits[0:3]}-{digits[3:6]}-{digits[6:]}" if len(digits) == 10 else e164


def compose_body(main_text: str, signature: str) -> str:
    return f"{main_text}\n{signature}"
