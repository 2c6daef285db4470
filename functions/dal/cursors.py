"""The API's pagination cursors: a page's last key, as URL-safe base64 of its JSON.

A client can edit a cursor, so each table's decoder takes one only with the keys it hands out, each
a non-empty string short enough to be a DynamoDB key (an empty or oversized key value, or a number
where a string key belongs, would fail the query itself: a server error instead of a 400).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

MAX_KEY_BYTES = 1024  # DynamoDB's limit on a sort key value (a partition key's is 2,048)


def encode(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def decode(cursor: str) -> Any:
    """The cursor's JSON value; ValueError if it is not base64 of JSON."""
    try:
        return json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, binascii.Error) as error:
        raise ValueError("not a cursor") from error


def is_key_text(value: object) -> bool:
    """Whether ``value`` can be a string key's value: non-empty text within the key size."""
    return isinstance(value, str) and 0 < len(value.encode("utf-8", "surrogatepass")) <= MAX_KEY_BYTES


def decode_key(cursor: str, keys: frozenset[str]) -> dict[str, str] | None:
    """A start key with exactly ``keys``, each key text; None if the cursor is not one."""
    try:
        value = decode(cursor)
    except ValueError:
        return None
    if not isinstance(value, dict) or set(value) != keys or not all(is_key_text(v) for v in value.values()):
        return None
    return value
