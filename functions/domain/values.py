"""Constrained value types shared by every request model and the rules behind them.

A request's money and counts are strict integers (``"100"``, ``2.0`` and ``true`` are refused, not
coerced), flags strict booleans, rates JSON numbers, date-times ISO 8601 strings with an offset (a
bare number, or a string of digits, is not read as a Unix time), and a time zone an IANA name.
"""

from __future__ import annotations

import functools
from datetime import datetime
from decimal import Decimal
from importlib import resources
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StrictInt,
    WithJsonSchema,
    field_validator,
)

from functions.domain.errors import InvalidInput
from functions.domain.ledger import MAX_AMOUNT_MICROS
from functions.domain.templates import visible

# An Idempotency-Key: printable ASCII without spaces (an empty one is refused, not taken as a key).
IDEMPOTENCY_KEY = r"^[!-~]+$"
# The longest IANA name is 32 characters ("America/Argentina/ComodRivadavia"); anything longer is not one.
MAX_TIME_ZONE_LENGTH = 64


def _json_number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("must be a number")
    return value


_ISO_DATE_TIME = "must be an ISO 8601 date-time string with an offset, e.g. 2025-07-01T09:00:00-04:00"


def _iso_text(value: Any) -> Any:
    """An ISO 8601 string read as ISO 8601 only: pydantic's own parsing would take ``"12345"`` as a
    Unix time, as it takes the number."""
    if isinstance(value, datetime):  # a model built in code, not from JSON
        return value
    if not isinstance(value, str):
        raise ValueError(_ISO_DATE_TIME)
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(_ISO_DATE_TIME) from None


Micros = Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT_MICROS, description="1 USD = 1,000,000 micros")]
PositiveMicros = Annotated[
    StrictInt, Field(gt=0, le=MAX_AMOUNT_MICROS, description="More than 0; 1 USD = 1,000,000 micros")
]
PositiveCount = Annotated[StrictInt, Field(gt=0, le=1_000_000_000)]
Flag = StrictBool
Number = Annotated[Decimal, BeforeValidator(_json_number), WithJsonSchema({"type": "number"})]


def _as_json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


# A rate in an answer: a JSON number (3, 0.5), as a request gives it, so what is read can be put back.
NumberOut = Annotated[Decimal, PlainSerializer(_as_json_number, return_type=int | float, when_used="json")]
IsoDateTime = Annotated[AwareDatetime, BeforeValidator(_iso_text)]


@functools.cache
def _known_zones() -> frozenset[str]:
    """The IANA names, from the pinned tzdata package: the same on every host. zoneinfo's own list also
    walks the host's zoneinfo folder, which holds files that are no IANA zone (``localtime``, the
    host's own setting), so a name would be accepted here and mean another zone, or none, in Lambda."""
    return frozenset(resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8").split())


def time_zone_name(value: str, field: str = "time_zone") -> str:
    """``value`` if it is an IANA time zone name; InvalidInput naming ``field`` otherwise.

    Checked against the known names, never opened as a file first: a long or odd name is a refusal,
    not an OSError.
    """
    if len(value) > MAX_TIME_ZONE_LENGTH or value not in _known_zones():
        shown = value if len(value) <= MAX_TIME_ZONE_LENGTH else value[:MAX_TIME_ZONE_LENGTH] + "..."
        raise InvalidInput(field, f"'{shown}' is not an IANA time zone (e.g. America/Toronto)")
    return value


def visible_text(value: str) -> str:
    """Text a person typed: not blank, and no control characters but tabs and line breaks."""
    if not value.strip():
        raise ValueError("must not be blank")
    if not visible(value):
        raise ValueError("must not hold control characters")
    return value


# A free-text query parameter (an audit note, a name to search): visible text, as in a body.
VisibleText = Annotated[str, AfterValidator(visible_text)]


class RequestBody(BaseModel):
    """A request body: unknown fields refused, and every text field (and list of texts) visible text."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _texts_are_visible(cls, value: Any) -> Any:
        for text in [value] if isinstance(value, str) else value if isinstance(value, list) else []:
            if isinstance(text, str):
                visible_text(text)
        return value
