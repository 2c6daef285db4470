"""Registered message templates: declared, typed variables and loud rendering."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, model_validator

from functions.domain.errors import InvalidInput

# The largest amount a template shows, either way: $1,000,000,000.00 (a larger one is a mistake).
MAX_AMOUNT_CENTS = 100_000_000_000
PLACEHOLDER = re.compile(r"\{\{\s*([a-z][a-z0-9_]*)\s*\}\}")


class VariableType(StrEnum):
    TEXT = "text"
    AMOUNT = "amount"  # integer minor units (cents), shown as dollars
    DATE = "date"  # ISO date
    DATETIME = "datetime"  # ISO datetime with offset, shown in the tenant's time zone


class Direction(StrEnum):
    LTR = "ltr"
    RTL = "rtl"


class MessageKind(StrEnum):
    TRIGGERED = "triggered"
    MASS = "mass"
    TENANT = "tenant"  # tenant-authored, operator-approved (calling lists)


class Template(BaseModel):
    """A registered text; the platform never sends free text."""

    model_config = ConfigDict(frozen=True)

    key: str
    version: int
    name: str
    kind: MessageKind
    text: str
    variables: dict[str, VariableType]
    direction: Direction = Direction.LTR
    trigger: str | None = None

    @model_validator(mode="after")
    def _placeholders_match_declaration(self) -> Template:
        used = set(PLACEHOLDER.findall(self.text))
        declared = set(self.variables)
        if used != declared:
            raise ValueError(
                f"template {self.key}: placeholders {sorted(used)} differ from declared {sorted(declared)}"
            )
        return self

    def render(self, values: dict[str, Any], time_zone: str, from_text: bool = False) -> str:
        return self.fill(self.rendered_values(values, time_zone, from_text))

    def rendered_values(
        self, values: dict[str, Any], time_zone: str, from_text: bool = False
    ) -> dict[str, str]:
        """Each variable as it shows in the text. Values are JSON-typed and strict: text is a string,
        an amount an integer, a date or date-time an ISO string. ``from_text``: every value came as text
        (a CSV cell), so an amount may be written as digits."""
        unknown = sorted(set(values) - set(self.variables))
        if unknown:
            raise InvalidInput(f"variables.{unknown[0]}", f"'{unknown[0]}' is not a variable of {self.name}")
        return {
            name: _format(name, kind, values, time_zone, from_text) for name, kind in self.variables.items()
        }

    def fill(self, rendered: dict[str, str]) -> str:
        return PLACEHOLDER.sub(lambda match: rendered[match.group(1)], self.text)


def _format(name: str, kind: VariableType, values: dict[str, Any], time_zone: str, from_text: bool) -> str:
    field = f"variables.{name}"
    if name not in values or values[name] is None or values[name] == "":
        raise InvalidInput(field, f"the variable '{name}' is required")
    value = values[name]
    try:
        if kind is VariableType.AMOUNT:
            if from_text and isinstance(value, str) and value.strip().lstrip("-").isdigit():
                value = int(value)
            if isinstance(value, Decimal) and value == value.to_integral_value():
                value = int(value)  # a stored job's number, as DynamoDB gives it back
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError
            if abs(value) > MAX_AMOUNT_CENTS:
                raise InvalidInput(field, f"'{name}' must be at most {MAX_AMOUNT_CENTS:,} cents either way")
            sign = "-" if value < 0 else ""
            return f"{sign}${abs(value) // 100:,}.{abs(value) % 100:02d}"
        if not isinstance(value, str):
            raise TypeError
        if kind is VariableType.TEXT:
            if not value.strip() or not visible(value):
                raise InvalidInput(field, f"'{name}' must be visible text (not blank, no control characters)")
            return value
        if kind is VariableType.DATE:
            return date.fromisoformat(value).strftime("%b %-d, %Y")
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise InvalidInput(field, f"'{name}' needs a time zone offset")
        return moment.astimezone(ZoneInfo(time_zone)).strftime("%b %-d, %Y %-I:%M %p %Z")
    except (TypeError, ValueError, OverflowError) as error:
        expected = {
            VariableType.TEXT: "text (a JSON string)",
            VariableType.AMOUNT: "an integer amount in cents",
            VariableType.DATE: "an ISO date string (YYYY-MM-DD)",
            VariableType.DATETIME: "an ISO date-time string with an offset",
        }[kind]
        raise InvalidInput(field, f"'{name}' must be {expected}") from error


def visible(text: str) -> bool:
    """No control characters but tabs and line breaks."""
    return not any(unicodedata.category(c) == "Cc" and c not in "\t\n\r" for c in text)
