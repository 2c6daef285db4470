"""Recipient numbers: North American Numbering Plan only (US and Canada), stored as E.164.

Every number the platform is given (request bodies, query strings, URL paths, inbound payloads) is
parsed by ``to_e164``. A number in a URL path is first percent-decoded by ``from_path``: API Gateway's
HTTP API delivers the path already decoded (``rawPath`` and path parameters alike), a client or a
test may deliver it encoded; a valid number never holds ``%``, so decoding what is already decoded
changes nothing and both arrive at the same number.
"""

from __future__ import annotations

from urllib.parse import unquote

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
    if parsed.extension:
        raise InvalidInput(field, f"'{raw}' has an extension ({parsed.extension}); an SMS cannot reach one")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def from_path(segment: str) -> str:
    """A number as a URL path segment carries it, percent-decoded (then parse it like any other)."""
    return unquote(segment)
