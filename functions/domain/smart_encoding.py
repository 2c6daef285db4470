# ruff: noqa: RUF003 (typographic look-alikes are what this file is about)
"""Smart encoding: look-alike typographic characters replaced by GSM-7 ones, when that makes a body GSM-7.

One curly apostrophe makes a whole message UCS-2 (70 characters a part instead of 160), so a
160-character notice costs three parts instead of one. A tenant that turns ``smart_encoding`` on
has the characters of ``REPLACEMENTS`` replaced, before its messages are counted and priced, when
that is all that stands between the body and GSM-7. The body is left exactly as written when it
holds any other character outside GSM-7 (Arabic, an emoji, ``ê``): it is UCS-2 anyway, and its
typography then costs nothing. It is also left as written when the GSM-7 form would need more parts
(an ellipsis becomes three characters), so smart encoding never costs more.

Accented letters outside GSM-7 are not in the table: replacing them would change the words.
"""

from __future__ import annotations

from dataclasses import dataclass

from functions.domain.segments import SegmentCount, count_segments, is_gsm

# Each look-alike and what replaces it; every replacement is GSM-7 basic (one septet each).
REPLACEMENTS: dict[str, str] = {
    # apostrophes and single quotes
    "\u2018": "'",  # ‘ left single quotation mark
    "\u2019": "'",  # ’ right single quotation mark (the typographic apostrophe)
    "\u201a": "'",  # ‚ single low-9 quotation mark
    "\u201b": "'",  # ‛ single high-reversed-9 quotation mark
    "\u2032": "'",  # ′ prime
    "\u02bc": "'",  # ʼ modifier letter apostrophe
    "\u00b4": "'",  # ´ acute accent
    "`": "'",  # grave accent (ASCII, but not GSM-7)
    "\u2039": "'",  # ‹ single left-pointing angle quotation mark
    "\u203a": "'",  # › single right-pointing angle quotation mark
    # double quotes
    "\u201c": '"',  # “ left double quotation mark
    "\u201d": '"',  # ” right double quotation mark
    "\u201e": '"',  # „ double low-9 quotation mark
    "\u201f": '"',  # ‟ double high-reversed-9 quotation mark
    "\u2033": '"',  # ″ double prime
    "\u00ab": '"',  # « left-pointing double angle quotation mark
    "\u00bb": '"',  # » right-pointing double angle quotation mark
    # dashes, hyphens and minus
    "\u2010": "-",  # ‐ hyphen
    "\u2011": "-",  # ‑ non-breaking hyphen
    "\u2012": "-",  # ‒ figure dash
    "\u2013": "-",  # – en dash
    "\u2014": "-",  # — em dash
    "\u2015": "-",  # ― horizontal bar
    "\u2212": "-",  # − minus sign
    # ellipsis
    "\u2026": "...",  # … horizontal ellipsis
    # spaces
    "\t": " ",  # tab
    "\u00a0": " ",  # no-break space
    "\u2000": " ",  # en quad
    "\u2001": " ",  # em quad
    "\u2002": " ",  # en space
    "\u2003": " ",  # em space
    "\u2004": " ",  # three-per-em space
    "\u2005": " ",  # four-per-em space
    "\u2006": " ",  # six-per-em space
    "\u2007": " ",  # figure space
    "\u2008": " ",  # punctuation space
    "\u2009": " ",  # thin space
    "\u200a": " ",  # hair space
    "\u202f": " ",  # narrow no-break space
    "\u205f": " ",  # medium mathematical space
    "\u3000": " ",  # ideographic space
    # line breaks
    "\u2028": "\n",  # line separator
    "\u2029": "\n",  # paragraph separator
    # invisible characters, dropped
    "\u200b": "",  # zero-width space
    "\u2060": "",  # word joiner
    "\ufeff": "",  # zero-width no-break space (byte order mark)
    "\u00ad": "",  # soft hyphen
    # slashes
    "\u2044": "/",  # ⁄ fraction slash
    "\u2215": "/",  # ∕ division slash
}

_TRANSLATION = str.maketrans(REPLACEMENTS)


@dataclass(frozen=True)
class EncodedBody:
    """What is sent (``body``, counted in ``count``) and, when smart encoding changed it, what was written."""

    body: str
    count: SegmentCount
    original_body: str | None = None  # None: sent as written


def replace_look_alikes(text: str) -> str:
    """Every character of the table replaced; the rest as written."""
    return text.translate(_TRANSLATION)


def encode_body(text: str, smart: bool) -> EncodedBody:
    """The body to send: with ``smart``, its GSM-7 form when only look-alikes keep it from GSM-7 and
    that form needs no more parts; otherwise the text as written."""
    written = count_segments(text)
    if not smart or is_gsm(text):
        return EncodedBody(body=text, count=written)
    replaced = replace_look_alikes(text)
    if not is_gsm(replaced):
        return EncodedBody(body=text, count=written)  # a real non-GSM character: left as written
    count = count_segments(replaced)
    if count.segments > written.segments:
        return EncodedBody(body=text, count=written)
    return EncodedBody(body=replaced, count=count, original_body=text)
