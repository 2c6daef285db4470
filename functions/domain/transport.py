"""Transport codes: the operator's sending numbers, what each may carry, and who it serves."""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field

from functions.domain.errors import InvalidInput
from functions.domain.phone import to_e164


class CodeKind(StrEnum):
    LONG_CODE = "long_code"
    TOLL_FREE = "toll_free"
    SHORT_CODE = "short_code"


# Carrier defaults in message parts per second; the registry holds each number's real figure.
DEFAULT_PARTS_PER_SECOND = {
    CodeKind.LONG_CODE: Decimal(1),
    CodeKind.TOLL_FREE: Decimal(3),
    CodeKind.SHORT_CODE: Decimal(100),
}
TOLL_FREE_AREA_CODES = frozenset({"800", "833", "844", "855", "866", "877", "888"})
GLOBAL_SCOPE = "global"
_SHORT_CODE = re.compile(r"^\d{5,6}$")
_DNC_GROUP = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class TransportCode(BaseModel):
    number: str  # E.164 for long codes and toll-free numbers, 5-6 digits for short codes
    kind: CodeKind
    parts_per_second: Decimal = Field(gt=0, le=10_000, decimal_places=3)
    daily_cap_parts: int | None = Field(default=None, gt=0)
    # "global": an opt-out received here applies to every tenant; otherwise the named DNC group.
    opt_out_scope: str = GLOBAL_SCOPE

    @property
    def limit_millis(self) -> int:
        """Parts per second times a thousand: the pacer's integer arithmetic."""
        return int(self.parts_per_second * 1000)


def normalize_code_number(number: str, field: str) -> str:
    """A short code as its digits, any other number as E.164 (NANP)."""
    digits = number.strip()
    if _SHORT_CODE.match(digits):
        return digits
    return to_e164(number, field)


def kind_of(number: str) -> CodeKind:
    if _SHORT_CODE.match(number):
        return CodeKind.SHORT_CODE
    if number.startswith("+1") and number[2:5] in TOLL_FREE_AREA_CODES:
        return CodeKind.TOLL_FREE
    return CodeKind.LONG_CODE


def checked_kind(number: str, kind: CodeKind | None, field: str = "kind") -> CodeKind:
    """The number's kind, which its form fixes: 5-6 digits are a short code, a number in a toll-free
    area code is toll-free, any other a long code. A ``kind`` given that contradicts it is refused:
    it would pace the number at another kind's throughput."""
    actual = kind_of(number)
    if kind is not None and kind is not actual:
        raise InvalidInput(field, f"{number} is a {actual.value} number, not a {kind.value}")
    return actual


def default_code(number: str) -> TransportCode:
    """What a number may carry before the operator says otherwise: its kind's carrier default."""
    kind = kind_of(number)
    return TransportCode(number=number, kind=kind, parts_per_second=DEFAULT_PARTS_PER_SECOND[kind])


def validate_scope(scope: str, field: str) -> str:
    if scope == GLOBAL_SCOPE:
        return scope
    group = scope.removeprefix("dnc:")
    if scope.startswith("dnc:") and _DNC_GROUP.match(group):
        return scope
    raise InvalidInput(field, "must be 'global' or 'dnc:<group>' (lowercase letters, digits, dashes)")
