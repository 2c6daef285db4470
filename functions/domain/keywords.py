"""Inbound keywords: what a reply asks for (opt out, opt back in, help) or that it is just a reply.

The rules, in order (the first that applies decides):

1. The text is normalized: accents dropped, case folded, apostrophes removed ("don't" -> "dont"),
   every other character that is not a letter or a digit becomes a space, spaces collapse.
   So " Stop! ", "STOP." and "opt-out" match like "stop" and "opt out".
2. The whole text is a keyword: an opt-out keyword (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT,
   REVOKE, OPT OUT, OPTOUT, OPT-OUT, REMOVE, ARRET, TD), an opt-in keyword (START, UNSTOP, YES) or
   a help keyword (HELP, INFO).
3. Anywhere in a reply of any length, a phrase that can only mean "stop messaging me" opts out:
   UNSUBSCRIBE, STOPALL, OPT OUT / OPTOUT, STOP followed within three words by a word about messages
   ("stop texting me", "please stop sending these"), REMOVE ME / REMOVE MY NUMBER, DO NOT / DONT
   followed by TEXT, MESSAGE, CONTACT or SEND, NO MORE TEXTS / MESSAGES.
4. A short reply (at most ``SHORT_REPLY_MAX_WORDS`` words) that contains one of the FCC's opt-out
   words (STOP, QUIT, END, REVOKE, CANCEL, UNSUBSCRIBE, OPT OUT) or ARRET as a word opts out, unless that word
   directly follows a negation ("I can't stop laughing, thanks" and "don't stop" do not opt out).
   The FCC treats these words inside a reply as an opt-out when a reasonable person would read it
   so; a machine cannot always tell, so opt-out wins when in doubt: "when will the outage end?" is
   taken as an opt-out, and the confirmation says how to undo it (reply START).
5. Anything else is a reply. Opt-in and help are recognized only as the whole text: a missed opt-in
   costs a message, a wrong one would message someone who asked not to be.

Opt-out wins over everything: "STOP HELP" and "yes stop" opt out.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class KeywordFamily(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    NONE = "none"  # not a keyword: a reply, for the tenant's agents


OPT_OUT_KEYWORDS = frozenset(
    {
        "stop",
        "stopall",
        "unsubscribe",
        "cancel",
        "end",
        "quit",
        "revoke",
        "opt out",  # also OPT-OUT, once normalized
        "optout",
        "remove",
        "arret",  # ARRÊT, Canadian French
        "td",
    }
)
OPT_IN_KEYWORDS = frozenset({"start", "unstop", "yes"})
HELP_KEYWORDS = frozenset({"help", "info"})

# The words the FCC's 2024 order names as opt-out requests, also inside a reply (and ARRET, the
# French STOP: Canadian recipients reply in French).
SHORT_REPLY_OPT_OUT_WORDS = frozenset(
    {"stop", "quit", "end", "revoke", "cancel", "unsubscribe", "optout", "stopall", "arret"}
)
SHORT_REPLY_MAX_WORDS = 6
# "stop" followed by one of these within STOP_REACH words is unambiguous at any length.
MESSAGING_WORDS = frozenset(
    {
        "text",
        "texts",
        "texting",
        "txt",
        "txts",
        "txting",
        "message",
        "messages",
        "messaging",
        "msg",
        "msgs",
        "sms",
        "sending",
        "send",
        "contacting",
        "contact",
    }
)
STOP_REACH = 3
NEGATIONS = frozenset({"not", "never", "dont", "cant", "cannot", "wont", "shouldnt", "doesnt", "didnt"})
_NOT_WORD = re.compile(r"[^0-9a-z]+")
_APOSTROPHES = re.compile(r"['\u2019\u2018`]")


@dataclass(frozen=True)
class KeywordMatch:
    family: KeywordFamily
    keyword: str | None  # the keyword or phrase that decided it, normalized; None for a plain reply
    rule: str  # "exact", "phrase", "short_reply" or "none": which rule decided


REPLY = KeywordMatch(KeywordFamily.NONE, None, "none")


def normalize(text: str) -> str:
    """Accents dropped, case folded, apostrophes removed, other punctuation as spaces, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()
    return " ".join(_NOT_WORD.sub(" ", _APOSTROPHES.sub("", plain)).split())


def classify(text: str) -> KeywordMatch:
    normalized = normalize(text)
    if normalized in OPT_OUT_KEYWORDS:
        return KeywordMatch(KeywordFamily.OPT_OUT, normalized, "exact")
    if normalized in OPT_IN_KEYWORDS:
        return KeywordMatch(KeywordFamily.OPT_IN, normalized, "exact")
    if normalized in HELP_KEYWORDS:
        return KeywordMatch(KeywordFamily.HELP, normalized, "exact")
    words = _join_opt_out(normalized.split())
    phrase = _opt_out_phrase(words)
    if phrase is not None:
        return KeywordMatch(KeywordFamily.OPT_OUT, phrase, "phrase")
    if len(words) <= SHORT_REPLY_MAX_WORDS:
        for index, word in enumerate(words):
            if word in SHORT_REPLY_OPT_OUT_WORDS and (index == 0 or words[index - 1] not in NEGATIONS):
                return KeywordMatch(KeywordFamily.OPT_OUT, word, "short_reply")
    return REPLY


def _join_opt_out(words: list[str]) -> list[str]:
    """ "opt out" as one word, so it counts as one word and one keyword."""
    joined: list[str] = []
    for word in words:
        if word == "out" and joined and joined[-1] == "opt":
            joined[-1] = "optout"
        else:
            joined.append(word)
    return joined


def _opt_out_phrase(words: list[str]) -> str | None:
    for index, word in enumerate(words):
        following = words[index + 1 : index + 1 + STOP_REACH]
        if word in {"unsubscribe", "stopall", "optout"}:
            return word
        about_messages = [later for later in following if later in MESSAGING_WORDS]
        if word == "stop" and about_messages and (index == 0 or words[index - 1] not in NEGATIONS):
            return f"stop {about_messages[0]}"
        if word == "remove" and following[:1] == ["me"]:
            return "remove me"
        if word == "remove" and following[:2] == ["my", "number"]:
            return "remove my number"
        asks_not = word == "dont" or (word == "not" and index > 0 and words[index - 1] == "do")
        if asks_not and following[:1] and following[0] in {"text", "message", "contact", "send"}:
            return f"{word} {following[0]}"
        if word == "no" and following[:1] == ["more"] and following[1:2] and following[1] in MESSAGING_WORDS:
            return f"no more {following[1]}"
    return None
