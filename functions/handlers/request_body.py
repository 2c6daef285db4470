"""Reading a request body: UTF-8 JSON, nested at most as deep as a DynamoDB item, every string text.

Powertools parses the body with ``parse_json`` (its json_body_deserializer) and reads it through
``RequestEvent``. Anything the platform could not store or send later is refused here, by field:
a lone UTF-16 surrogate (``"\\ud800"``) is valid JSON but no text, and cannot be encoded to UTF-8
for DynamoDB, SQS or the carrier.
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
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def parse_json(text: str) -> Any:
    try:
        document = json.loads(text)
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
        field = path.encode("utf-8", "backslashreplace").decode() or "body"
        raise MalformedBody(field, "the string holds a lone UTF-16 surrogate, which is not text") from error


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
