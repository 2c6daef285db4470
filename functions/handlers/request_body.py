"""Reading a request body: UTF-8 JSON, nested at most as deep as a DynamoDB item, every string text.

Powertools parses the body with ``parse_json`` (its json_body_deserializer) and reads it through
``RequestEvent``. Anything the platform could not store or send later is refused here, by field:
a lone UTF-16 surrogate (``"\\ud800"``) is valid JSON but no text, and cannot be encoded to UTF-8
for DynamoDB, SQS or the carrier; an integer of more than 38 digits is more than a DynamoDB number
holds (and past 4,300 digits Python will not read it); ``NaN`` and ``Infinity``, which Python's
reader admits, are not JSON.
"""

from __future__ import annotations

import binascii
import json
import re
from functools import cached_property
from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from functions.domain.errors import MalformedBody

# DynamoDB stores at most 32 levels of nested attributes; a body is never deeper than what it stores.
MAX_DEPTH = 32
# A DynamoDB number has at most 38 significant digits.
MAX_INTEGER_DIGITS = 38
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class _Unreadable:
    """A value the parser met that the platform cannot take (named by field once the document is walked)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _integer(text: str) -> int | _Unreadable:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        return _Unreadable(f"the integer has {len(text.lstrip('-')):,} digits; at most {MAX_INTEGER_DIGITS}")
    return int(text)


def _constant(text: str) -> _Unreadable:
    return _Unreadable(f"{text} is not a JSON number")


def parse_json(text: str) -> Any:
    try:
        document = json.loads(text, parse_int=_integer, parse_constant=_constant)
    except RecursionError as error:
        raise MalformedBody("body", f"the JSON is nested more than {MAX_DEPTH} levels deep") from error
    check_document(document, texts=_may_hold_surrogates(text))
    return document


def _may_hold_surrogates(text: str) -> bool:
    """Only an escape (or a text that is not UTF-8 itself) can put a lone surrogate in a string."""
    return _SURROGATE_ESCAPE.search(text) is not None or not _encodes(text)


def check_document(document: Any, texts: bool = True) -> None:
    """Refuse a document nested deeper than MAX_DEPTH or (``texts``) holding a string that is not
    UTF-8 text."""
    pending: list[tuple[Any, str, int]] = [(document, "", 0)]
    while pending:
        value, path, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise MalformedBody(path or "body", f"the JSON is nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, str):
            if texts:
                _check_text(value, path)
        elif isinstance(value, _Unreadable):
            raise MalformedBody(_shown(path), value.reason)
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                if texts:
                    _check_text(key, child)
                pending.append((item, child, depth + 1))
        elif isinstance(value, list):
            pending.extend(
                (item, f"{path}.{index}" if path else str(index), depth + 1)
                for index, item in enumerate(value)
            )


def _encodes(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_text(value: str, path: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise MalformedBody(
            _shown(path), "the string holds a lone UTF-16 surrogate, which is not text"
        ) from error


def _shown(path: str) -> str:
    """A field's path as a problem document can carry it (a key may itself hold a lone surrogate)."""
    return path.encode("utf-8", "backslashreplace").decode() or "body"


class RequestEvent(APIGatewayProxyEventV2):
    """The HTTP API event, whose body must be UTF-8 (API Gateway base64-encodes any other bytes)."""

    @cached_property
    def decoded_body(self) -> str | None:
        body = self.body
        if not (self.is_base64_encoded and body):
            return body
        try:
            return binascii.a2b_base64(body.encode()).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise MalformedBody("body", "the request body is not UTF-8 text") from error
