import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.domain.segments import GSM_BASIC, GSM_EXTENSION, Encoding, SegmentCount, count_segments

gsm_basic_text = st.text(alphabet=sorted(GSM_BASIC), max_size=700)
gsm_text = st.text(alphabet=sorted(GSM_BASIC | GSM_EXTENSION), max_size=700)
bmp_non_gsm = st.characters(min_codepoint=0x0100, max_codepoint=0xD7FF).filter(lambda c: c not in GSM_BASIC)


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", Encoding.GSM, 0, 1),
        ("a" * 160, Encoding.GSM, 160, 1),
        ("a" * 161, Encoding.GSM, 161, 2),
        ("a" * 306, Encoding.GSM, 306, 2),
        ("a" * 307, Encoding.GSM, 307, 3),
        ("€" * 80, Encoding.GSM, 160, 1),
        ("€" * 81, Encoding.GSM, 162, 2),
        ("a" * 152 + "€" + "a" * 10, Encoding.GSM, 164, 2),
        ("ą" * 70, Encoding.UCS2, 70, 1),
        ("ą" * 71, Encoding.UCS2, 71, 2),
        ("ą" * 134, Encoding.UCS2, 134, 2),
        ("ą" * 135, Encoding.UCS2, 135, 3),
        ("😀" * 35, Encoding.UCS2, 70, 1),
        ("a" * 66 + "😀" + "a" * 10, Encoding.UCS2, 78, 2),
        ("شكراً لك", Encoding.UCS2, 8, 1),
        ("Ça coûte 5€ {promo}", Encoding.UCS2, 19, 1),  # û is not GSM
        ("Ça côute", Encoding.UCS2, 8, 1),
        ("Ça va, ÄÖÑÜ§¿ à [ok]", Encoding.GSM, 22, 1),  # 20 characters, [ and ] take two
    ],
)
def test_known_counts(text, encoding, units, segments):
    assert count_segments(text) == SegmentCount(encoding, units, segments)


@given(gsm_basic_text)
def test_gsm_basic_text_splits_into_153_septet_parts(text):
    count = count_segments(text)
    assert count.encoding is Encoding.GSM
    assert count.units == len(text)
    assert count.segments == (1 if len(text) <= 160 else math.ceil(len(text) / 153))


@given(gsm_text)
def test_extension_characters_take_two_septets(text):
    count = count_segments(text)
    assert count.units == len(text) + sum(char in GSM_EXTENSION for char in text)
    assert count.segments >= (1 if count.units <= 160 else math.ceil(count.units / 153))


@given(gsm_basic_text, bmp_non_gsm, gsm_basic_text)
def test_one_non_gsm_character_makes_the_whole_message_ucs2(before, char, after):
    text = before + char + after
    count = count_segments(text)
    assert count.encoding is Encoding.UCS2
    assert count.units == len(text)  # BMP only: one UTF-16 unit each
    assert count.segments == (1 if len(text) <= 70 else math.ceil(len(text) / 67))


@given(st.text(max_size=400), st.text(min_size=1, max_size=5))
def test_appending_never_reduces_the_units_within_an_encoding(text, suffix):
    before, after = count_segments(text), count_segments(text + suffix)
    if before.encoding == after.encoding:
        assert after.units >= before.units
        assert after.segments >= before.segments


@given(st.text(max_size=400))
def test_ucs2_units_are_utf16_code_units(text):
    count = count_segments(text)
    if count.encoding is Encoding.UCS2:
        assert count.units == len(text.encode("utf-16-le")) // 2
