"""Finding contacts by name: the keys a contact is found by, and how a typed name is compared.

A name is compared as its letters and digits only (of any script), accents removed and case folded,
words separated by one space ("José  O'Brien-Smith" is "jose o brien smith", "عمر  فاروق" keeps its
letters). A contact is found by a prefix of its
name from any word on: "Ada Lovelace" by "ada", "ada lov" and "love", so a family name typed alone
finds it too. Only the first ``MAX_NAME_WORDS`` words start a key, which bounds what a contact writes.
"""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_WORDS = 4
_NOT_WORD = re.compile(r"[\W_]+")


def normalized_name(name: str) -> str:
    """The name as compared: letters and digits, case folded, no accents, one space between words."""
    # Unicode's compatibility caseless form (NFKD(casefold(NFKD(casefold(NFD(name)))))), which is
    # stable: a key compares as itself however its characters decompose.
    once = unicodedata.normalize("NFKD", unicodedata.normalize("NFD", name).casefold())
    decomposed = unicodedata.normalize("NFKD", once.casefold())
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _NOT_WORD.sub(" ", bare).strip()


def name_keys(name: str) -> list[str]:
    """The normalized name from each of its first words on, longest first, without repeats."""
    words = normalized_name(name).split(" ")
    keys = [" ".join(words[start:]) for start in range(min(len(words), MAX_NAME_WORDS))]
    return list(dict.fromkeys(key for key in keys if key))


def matches_name(name: str, prefix: str) -> bool:
    """Whether a search for ``prefix`` (normalized) finds a contact called ``name``."""
    return any(key.startswith(prefix) for key in name_keys(name))
