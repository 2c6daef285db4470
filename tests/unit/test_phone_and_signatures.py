import pytest

from functions.domain.errors import InvalidInput
from functions.domain.phone import to_e164
from functions.domain.signatures import SignatureText, compose_body, render_signature


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("(416) 555-0123", "+14165550123"),
        ("416.555.0123", "+14165550123"),
        ("+1 212 555 0187", "+12125550187"),
        ("1-604-555-0142", "+16045550142"),
    ],
)
def test_us_and_canadian_numbers_become_e164(raw, e164):
    assert to_e164(raw) == e164


@pytest.mark.parametrize(
    "raw", ["+44 20 7183 8750", "+52 55 1234 5678", "555-0123", "not a number", "+1 000 555 0123"]
)
def test_anything_else_is_refused_with_the_field(raw):
    with pytest.raises(InvalidInput) as raised:
        to_e164(raw, "phone")
    assert raised.value.field == "phone"


def test_there_are_exactly_the_six_signatures_and_each_says_stop():
    assert len(SignatureText) == 6
    assert all(text.value.endswith("Reply STOP to unsubscribe.") for text in SignatureText)


def test_department_details_are_substituted():
    signature = render_signature(SignatureText.NEED_TO_CHAT, "+14165550199", "help@example.com")
    assert signature == "Need to chat? Call 416-555-0199. Email help@example.com. Reply STOP to unsubscribe."
    assert compose_body("Hello.", signature).endswith("Reply STOP to unsubscribe.")
