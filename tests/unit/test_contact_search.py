"""How a contact's name is keyed and compared for a search (functions/domain/contact_search.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from functions.domain.contact_search import MAX_NAME_WORDS, matches_name, name_keys, normalized_name


def test_a_name_is_compared_without_case_accents_or_punctuation():
    assert normalized_name("  José  O'Brien-Smith ") == "jose o brien smith"
    assert normalized_name("ÅSA ÖBERG") == "asa oberg"
    assert normalized_name("--") == ""
    assert normalized_name("عمر  فاروق") == "عمر فاروق"  # letters of any script stay


def test_a_name_is_keyed_from_each_of_its_first_words_on():
    assert name_keys("Ada Lovelace") == ["ada lovelace", "lovelace"]
    assert name_keys("Ada Ada") == ["ada ada", "ada"]
    assert name_keys("a b c d e f") == ["a b c d e f", "b c d e f", "c d e f", "d e f"]


@given(st.text(max_size=60))
def test_every_key_is_a_normalized_suffix_and_a_name_finds_itself(name: str):
    keys = name_keys(name)
    normalized = normalized_name(name)
    assert len(keys) <= MAX_NAME_WORDS
    assert all(normalized.endswith(key) and normalized_name(key) == key and "#" not in key for key in keys)
    if normalized:
        assert matches_name(name, normalized)
        assert matches_name(name, normalized[:1])
