# ruff: noqa: RUF001 (typographic look-alikes are what this file is about)
"""Smart encoding: look-alikes replaced only when that makes a body GSM-7, never costing more parts."""

from hypothesis import given, settings
from hypothesis import strategies as st

from functions.domain.segments import GSM_BASIC, GSM_EXTENSION, Encoding, count_segments, is_gsm
from functions.domain.smart_encoding import REPLACEMENTS, encode_body, replace_look_alikes

GSM_CHARS = sorted(GSM_BASIC | GSM_EXTENSION)
LOOK_ALIKES = sorted(REPLACEMENTS)
# Characters outside GSM-7 that are not look-alikes: Arabic, accented letters, emoji, CJK.
OTHERS = ["ع", "ê", "á", "ç", "😀", "中", "ł", "™"]
# Look-alikes that never lengthen the text: their GSM-7 form can never need more parts.
ONE_FOR_ONE = [char for char, replacement in REPLACEMENTS.items() if len(replacement) <= 1]


def test_a_typographic_notice_becomes_gsm_and_one_part():
    # GIVEN a 150-character notice with a curly apostrophe, an em dash and an ellipsis
    written = "We’re upgrading your line — service may drop for 10 minutes… Call us with questions."
    written = written + " " * (150 - len(written))

    # WHEN smart encoding is on
    encoded = encode_body(written, smart=True)

    # THEN the sent text is GSM-7 in one part (three as written), and the written text is kept
    assert count_segments(written).segments == 3
    assert encoded.body.startswith("We're upgrading your line - service may drop for 10 minutes...")
    assert (encoded.count.encoding, encoded.count.segments) == (Encoding.GSM, 1)
    assert encoded.original_body == written


def test_off_or_already_gsm_the_body_is_as_written():
    curly = "Don’t miss it"
    assert encode_body(curly, smart=False).body == curly
    assert encode_body(curly, smart=False).original_body is None
    plain = "Don't miss it"
    assert encode_body(plain, smart=True).original_body is None


def test_a_real_non_gsm_character_leaves_the_body_as_written():
    written = "“مرحبا” — your bill is ready"
    encoded = encode_body(written, smart=True)
    assert (encoded.body, encoded.original_body, encoded.count.encoding) == (written, None, Encoding.UCS2)
    emoji = "Thanks’ 😀"
    assert encode_body(emoji, smart=True).body == emoji


def test_a_body_of_ellipses_stays_ucs2_rather_than_take_more_parts():
    # 70 ellipses are one UCS-2 part; as 210 dots they would be two GSM-7 parts.
    written = "…" * 70
    encoded = encode_body(written, smart=True)
    assert (encoded.body, encoded.count.segments) == (written, 1)
    assert count_segments("." * 210).segments == 2


def test_the_table_replaces_with_gsm_basic_characters_only():
    for char, replacement in REPLACEMENTS.items():
        assert not is_gsm(char), char
        assert all(c in GSM_BASIC for c in replacement), char


def test_invisible_characters_are_dropped_and_spaces_become_spaces():
    assert replace_look_alikes("a\u200bb\u00a0c\u202fd\u00ade") == "ab c de"


def bodies(alphabet: list[str]) -> st.SearchStrategy[str]:
    return st.text(alphabet=st.sampled_from(alphabet), min_size=1, max_size=400)


@settings(max_examples=400, deadline=None)
@given(text=bodies(GSM_CHARS + LOOK_ALIKES))
def test_gsm_whenever_only_look_alikes_stand_in_the_way_and_it_costs_no_more(text):
    encoded = encode_body(text, smart=True)
    as_written = count_segments(text)
    gsm_form = count_segments(replace_look_alikes(text))
    assert gsm_form.encoding is Encoding.GSM
    if gsm_form.segments <= as_written.segments:
        assert encoded.count.encoding is Encoding.GSM
        assert encoded.body == replace_look_alikes(text)
    assert encoded.count == count_segments(encoded.body)


@settings(max_examples=300, deadline=None)
@given(text=bodies(GSM_CHARS + ONE_FOR_ONE))
def test_without_ellipses_only_look_alikes_always_give_gsm(text):
    assert encode_body(text, smart=True).count.encoding is Encoding.GSM


@settings(max_examples=400, deadline=None)
@given(text=bodies(GSM_CHARS + LOOK_ALIKES + OTHERS))
def test_never_more_parts_than_without(text):
    encoded = encode_body(text, smart=True)
    assert encoded.count.segments <= count_segments(text).segments
    assert (encoded.original_body is None) == (encoded.body == text)
    if encoded.original_body is not None:
        assert encoded.original_body == text


@settings(max_examples=200, deadline=None)
@given(text=bodies(GSM_CHARS + LOOK_ALIKES), other=st.sampled_from(OTHERS), at=st.integers(0, 400))
def test_a_body_with_a_real_non_gsm_character_is_never_changed(text, other, at):
    written = text[:at] + other + text[at:]
    assert encode_body(written, smart=True).body == written
