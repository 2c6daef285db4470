"""Inbound keyword rules: exact keywords in any dress, short-reply opt-outs, and opt-out winning."""

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.domain.errors import Unauthorized
from functions.domain.keywords import (
    HELP_KEYWORDS,
    OPT_IN_KEYWORDS,
    OPT_OUT_KEYWORDS,
    SHORT_REPLY_MAX_WORDS,
    KeywordFamily,
    classify,
    normalize,
)
from functions.domain.signing import sign, verify

OPT_OUT, OPT_IN, HELP, NONE = (
    KeywordFamily.OPT_OUT,
    KeywordFamily.OPT_IN,
    KeywordFamily.HELP,
    KeywordFamily.NONE,
)
# Spaces, tabs, line breaks and punctuation a phone keyboard adds around a word.
surroundings = st.text(alphabet=" \t\r\n.,!?;:-'\"()*…¡¿", max_size=6)


def dressed(keyword: str) -> st.SearchStrategy[str]:
    cases = st.lists(st.booleans(), min_size=len(keyword), max_size=len(keyword)).map(
        lambda upper: "".join(c.upper() if u else c for c, u in zip(keyword, upper, strict=True))
    )
    return st.tuples(surroundings, cases, surroundings).map("".join)


@given(st.sampled_from(sorted(OPT_OUT_KEYWORDS | {"opt-out", "arrêt", "ARRÊT"})).flatmap(dressed))
def test_every_opt_out_keyword_opts_out_in_any_case_and_punctuation(text):
    assert classify(text).family is OPT_OUT


@given(st.sampled_from(sorted(OPT_IN_KEYWORDS)).flatmap(dressed))
def test_every_opt_in_keyword_opts_in(text):
    match = classify(text)
    assert match.family is OPT_IN
    assert match.rule == "exact"


@given(st.sampled_from(sorted(HELP_KEYWORDS)).flatmap(dressed))
def test_every_help_keyword_asks_for_help(text):
    assert classify(text).family is HELP


neutral_words = st.sampled_from(
    [
        "thanks",
        "ok",
        "when",
        "is",
        "my",
        "bill",
        "due",
        "yes",
        "help",
        "start",
        "please",
        "the",
        "internet",
        "info",
    ]
)


@given(
    st.lists(neutral_words, max_size=SHORT_REPLY_MAX_WORDS - 1),
    st.sampled_from(["stop", "STOP", "Quit", "end", "revoke", "cancel", "unsubscribe", "opt out", "opt-out"]),
    st.integers(min_value=0, max_value=SHORT_REPLY_MAX_WORDS),
)
def test_opt_out_wins_in_any_short_reply_that_holds_an_opt_out_word(words, keyword, position):
    words.insert(min(position, len(words)), keyword)
    assert classify(" ".join(words)).family is OPT_OUT


@given(st.lists(neutral_words, min_size=1, max_size=20))
def test_a_reply_without_an_opt_out_word_never_opts_out(words):
    text = " ".join(words)
    assert classify(text).family is not OPT_OUT
    if len(words) > 1:  # opt-in and help only ever as the whole text
        assert classify(text).family is NONE


@pytest.mark.parametrize(
    ("text", "family"),
    [
        ("STOP", OPT_OUT),
        ("  stop.  ", OPT_OUT),
        ("Stop!!!", OPT_OUT),
        ("OPT-OUT", OPT_OUT),
        ("opt out", OPT_OUT),
        ("Opt Out.", OPT_OUT),
        ("ARRÊT", OPT_OUT),
        ("td", OPT_OUT),
        ("Remove", OPT_OUT),
        ("Stop texting me", OPT_OUT),
        ("please unsubscribe", OPT_OUT),
        ("Please stop", OPT_OUT),
        ("STOP STOP STOP", OPT_OUT),
        ("stop help", OPT_OUT),  # opt-out wins
        ("Yes stop", OPT_OUT),
        ("cancel please", OPT_OUT),
        ("I said QUIT", OPT_OUT),
        ("Unsubscribe me from all of your marketing and billing lists right now", OPT_OUT),
        ("Hi, could you please stop sending me these messages, I moved away", OPT_OUT),
        ("I really do not text with companies so take me off whatever list this is", OPT_OUT),
        ("remove me from this list, I never signed up for anything like it", OPT_OUT),
        ("no more texts please, thank you kindly for understanding my request here", OPT_OUT),
        ("When will the outage end?", OPT_OUT),  # short and holds END: opt-out wins when in doubt
        ("I can't stop laughing, thanks", NONE),  # negated: not a request to stop
        ("Don't stop, this is useful", NONE),
        ("I can\u2019t stop reading these", NONE),  # a typographic apostrophe
        ("START", OPT_IN),
        ("unstop", OPT_IN),
        ("Yes.", OPT_IN),
        ("yes please", NONE),  # opt-in only as the whole text
        ("HELP", HELP),
        ("info?", HELP),
        ("help me with my bill please", NONE),
        ("Is the outage in my area over yet? My modem keeps blinking red since this morning", NONE),
        ("The internet stopped working at the end of the day yesterday, can someone call me", NONE),
        ("", NONE),
        ("👍", NONE),
    ],
)
def test_phrasings(text, family):
    assert classify(text).family is family


def test_normalization_drops_accents_case_apostrophes_and_punctuation():
    assert normalize("  Arrêt, S'IL vous-plaît!  ") == "arret sil vous plait"


# ---- signed webhooks ----


def test_a_signed_fresh_request_verifies_and_any_change_or_delay_is_refused():
    now = time.time()
    body = b'{"from": "+14165550123", "body": "STOP"}'
    signature = sign("secret", int(now), body)
    verify("secret", str(int(now)), signature, body, now)  # no exception
    verify("secret", str(int(now)), signature.upper(), body, now + 299)
    for timestamp, sig, payload, at in [
        (None, signature, body, now),
        (str(int(now)), None, body, now),
        (str(int(now)), signature, body + b" ", now),
        (str(int(now)), sign("other", int(now), body), body, now),
        (str(int(now) + 1), signature, body, now),
        (str(int(now)), signature, body, now + 301),
        ("yesterday", signature, body, now),
    ]:
        with pytest.raises(Unauthorized):
            verify("secret", timestamp, sig, payload, at)
