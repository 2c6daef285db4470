"""Segment counting for SMS bodies (GSM 03.38 7-bit or UCS-2), as carriers bill them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# GSM 03.38 basic character set (the escape code 0x1B itself is not a printable character).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each character takes an escape plus itself, two septets.
GSM_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM_SINGLE_PART = 160
GSM_MULTI_PART = 153
UCS2_SINGLE_PART = 70
UCS2_MULTI_PART = 67


class Encoding(StrEnum):
    GSM = "GSM"
    UCS2 = "UCS2"


@dataclass(frozen=True)
class SegmentCount:
    encoding: Encoding
    units: int  # septets for GSM, UTF-16 code units for UCS-2
    segments: int


def is_gsm(text: str) -> bool:
    return all(char in GSM_BASIC or char in GSM_EXTENSION for char in text)


def _unit_sizes(text: str, encoding: Encoding) -> list[int]:
    if encoding is Encoding.GSM:
        return [2 if char in GSM_EXTENSION else 1 for char in text]
    # A character outside the Basic Multilingual Plane is a surrogate pair: two units, never split.
    return [2 if ord(char) > 0xFFFF else 1 for char in text]


def _pack(sizes: list[int], per_part: int) -> int:
    """Parts needed when every character stays whole inside one part."""
    parts, used = 1, 0
    for size in sizes:
        if used + size > per_part:
            parts, used = parts + 1, 0
        used += size
    return parts


def count_segments(text: str) -> SegmentCount:
    encoding = Encoding.GSM if is_gsm(text) else Encoding.UCS2
    sizes = _unit_sizes(text, encoding)
    units = sum(sizes)
    single, multi = (
        (GSM_SINGLE_PART, GSM_MULTI_PART) if encoding is Encoding.GSM else (UCS2_SINGLE_PART, UCS2_MULTI_PART)
    )
    segments = 1 if units <= single else _pack(sizes, multi)
    return SegmentCount(encoding=encoding, units=units, segments=segments)


# AWS End User Messaging SMS (SendTextMessage) takes a MessageBody of 1 to 1,600 characters.
CARRIER_MAX_CHARACTERS = 1_600
# Carriers reassemble long messages unreliably and bill every part: ten parts is a sane bound.
DEFAULT_MAX_SEGMENTS = 10


@dataclass(frozen=True)
class MessageLimits:
    """The longest message the platform creates; every path that creates a message checks it."""

    max_characters: int = CARRIER_MAX_CHARACTERS
    max_segments: int = DEFAULT_MAX_SEGMENTS

    def excess(self, body: str, count: SegmentCount | None = None) -> str | None:
        """Why ``body`` is too long to send, or None when it fits."""
        count = count or count_segments(body)
        if len(body) <= self.max_characters and count.segments <= self.max_segments:
            return None
        return (
            f"the message would be {len(body):,} characters in {count.segments:,} {count.encoding.value} "
            f"segments; at most {self.max_characters:,} characters in {self.max_segments} segments are sent"
        )


DEFAULT_LIMITS = MessageLimits()
