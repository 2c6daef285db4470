"""Every error the API returns is an RFC 9457 problem details document, mapped here and only here."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from functions.domain.errors import (
    Forbidden,
    InvalidInput,
    NotFound,
    PlatformError,
    Refused,
    Unauthorized,
    Unavailable,
)

PROBLEM_JSON = "application/problem+json"

_STATUS: dict[type[PlatformError], HTTPStatus] = {
    InvalidInput: HTTPStatus.BAD_REQUEST,
    Unauthorized: HTTPStatus.UNAUTHORIZED,
    Forbidden: HTTPStatus.FORBIDDEN,
    NotFound: HTTPStatus.NOT_FOUND,
    Refused: HTTPStatus.CONFLICT,
    Unavailable: HTTPStatus.SERVICE_UNAVAILABLE,
}


def _document(status: HTTPStatus, title: str, detail: str, extra: dict[str, Any]) -> str:
    body = {"type": "about:blank", "title": title, "status": status.value, "detail": detail}
    body.update({key: value for key, value in extra.items() if value is not None})
    return json.dumps(body)


def problem(
    status: HTTPStatus, title: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> Response[Any]:
    return Response(
        status_code=status.value,
        content_type=PROBLEM_JSON,
        body=_document(status, title, detail, extra),
        headers=headers,
    )


def as_proxy_response(status: HTTPStatus, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    """The same document as an API Gateway proxy response, for refusals made before routing."""
    return {
        "statusCode": status.value,
        "headers": {"Content-Type": PROBLEM_JSON},
        "body": _document(status, title, detail, extra),
        "isBase64Encoded": False,
    }


def from_platform_error(error: PlatformError) -> Response[Any]:
    status = next((code for kind, code in _STATUS.items() if isinstance(error, kind)), HTTPStatus.BAD_REQUEST)
    if isinstance(error, Refused):
        retry = error.retry_after_seconds
        return problem(
            status,
            error.title,
            error.detail,
            headers={"Retry-After": str(retry)} if retry is not None else None,
            field=error.field,
            reason=error.reason,
            **error.extra,
        )
    return problem(status, error.title, error.detail, field=error.field)


def from_validation_error(error: RequestValidationError) -> Response[Any]:
    """Pydantic's errors, one per field, with the field's dotted path (body.contact_id...)."""
    errors = [
        {"field": ".".join(str(part) for part in item.get("loc", ())), "message": item.get("msg", "")}
        for item in error.errors()
    ]
    malformed = any(item.get("type") == "json_invalid" for item in error.errors())
    if malformed:
        return problem(
            HTTPStatus.BAD_REQUEST, "Malformed JSON", "the request body is not valid JSON", field="body"
        )
    first = errors[0]["field"] if errors else None
    detail = "; ".join(f"{item['field']}: {item['message']}" for item in errors) or "invalid request"
    return problem(HTTPStatus.UNPROCESSABLE_ENTITY, "Invalid request", detail, field=first, errors=errors)


def internal_error(correlation_id: str | None) -> Response[Any]:
    """An unexpected error: a problem document that names the request, so the logs can be found."""
    return problem(
        HTTPStatus.INTERNAL_SERVER_ERROR,
        "Internal server error",
        "the request failed unexpectedly; nothing was accepted unless its answer said so. Quote the "
        "correlation id when you report it",
        correlation_id=correlation_id,
    )


def internal_error_proxy(correlation_id: str | None) -> dict[str, Any]:
    """The same, as a proxy response, for an error outside routing."""
    response = internal_error(correlation_id)
    return {
        "statusCode": response.status_code,
        "headers": {"Content-Type": PROBLEM_JSON},
        "body": response.body,
        "isBase64Encoded": False,
    }
