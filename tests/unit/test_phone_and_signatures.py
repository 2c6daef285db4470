import pytest

from functions.domain.errors import InvalidInput
from functions.domain.phone import from_path, to_e164
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


@pytest.mark.parametrize(
    "raw",
    [
        "+1 416 555 2671 ext 5",
        "+1 416 555 2671 ext. 5",
        "416-555-2671 x12",
        "+14165552671;ext=3",
        "+1 416 555 2671 #5",
        "4165552671,,5",
        "(416) 555-2671 extension 200",
    ],
)
def test_a_number_with_an_extension_is_refused_not_cut(raw):
    # an SMS cannot reach an extension: dropping it would message the switchboard
    with pytest.raises(InvalidInput, match="extension") as raised:
        to_e164(raw, "phone_number")
    assert raised.value.field == "phone_number"


@pytest.mark.parametrize(
    "segment", ["%2B14165559145", "%28416%29%20555-9145", "+14165559145", "(416) 555-9145", "416.555.9145"]
)
def test_a_number_in_a_url_path_is_parsed_encoded_or_decoded_alike(segment):
    assert to_e164(from_path(segment), "number") == "+14165559145"


def test_there_are_exactly_the_six_signatures_and_each_says_stop():
    assert len(SignatureText) == 6
    assert all(text.value.endswith("Reply STOP to unsubscribe.") for text in SignatureText)


def test_department_details_are_substituted():
    signature = render_signature(SignatureText.NEED_TO_CHAT, "+14165550199", "help@example.com")
    assert signature == "Need to chat? Call 416-555-0199. Email help@example.com. Reply STOP to unsubscribe."
    assert compose_body("Hello.", signature).endswith("Reply STOP to unsubscribe.")
