"""Recipient numbers: North American Numbering Plan only (US and Canada), stored as E.164."""

from __future__ import annotations

import phonenumbers

from functions.domain.errors import InvalidInput

ALLOWED_REGIONS = frozenset({"US", "CA"})


def to_e164(raw: str, field: str = "phone_number") -> str:
    """Parse a US or Canadian number written in any common form; refuse everything else."""
    try:
        parsed = phonenumbers.parse(raw, "US")
    except phonenumbers.NumberParseException as error:
        raise InvalidInput(field, f"'{raw}' is not a phone number") from error
    region = phonenumbers.region_code_for_number(parsed)
    if parsed.country_code != 1 or region not in ALLOWED_REGIONS:
        raise InvalidInput(field, f"'{raw}' is not a US or Canadian number")
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidInput(field, f"'{raw}' is not a valid US or Canadian number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
