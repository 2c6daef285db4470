"""What the OpenAPI document promises each route answers, stated once and used by every route.

Every route names its success (the status, and the body from its return annotation) and the
refusals particular to it (404, 409, 503); ``answers`` adds what any route can answer:

- 400, 422 and 415: a problem document (a value refused, a body that fails the schema, a body that
  is not JSON); 404: a problem document (nothing by that id, or a path no route takes);
- 401 and 403: API Gateway's own ``{"message": ...}`` when the key is missing or wrong (the
  authorizer refuses it before the function runs), or a problem document when a valid key lacks
  the route's permission;
- 429: API Gateway's throttling answer; 500: an unexpected error.

The key is a bearer token (``securitySchemes.apiKey``), required everywhere except on the routes
marked ``security=PUBLIC`` (the OpenAPI document, the console, the carriers' signed webhook).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer, SecurityScheme
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse, OpenAPIResponseHeader
from pydantic import BaseModel, ConfigDict, Field

from functions.handlers.problems import PROBLEM_JSON

JSON = "application/json"
API_KEY_SCHEME = "apiKey"
SECURITY_SCHEMES: dict[str, SecurityScheme] = {
    API_KEY_SCHEME: HTTPBearer(
        description="An API key issued by the operator: Authorization: Bearer sms_...",
        bearerFormat="API key",
    )
}
SECURITY: list[dict[str, list[str]]] = [{API_KEY_SCHEME: []}]
# An empty requirement: the route is served without a key.
PUBLIC: list[dict[str, list[str]]] = [{}]


class FieldError(BaseModel):
    field: str = Field(description="The dotted path of the value: body.contact_id, query.limit...")
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem details document (application/problem+json)."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = Field(default="about:blank")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    field: str | None = Field(default=None, description="The offending field, header or path part")
    reason: str | None = Field(default=None, description="Why a well-formed request was refused")
    errors: list[FieldError] | None = Field(default=None, description="Every field that failed the schema")


class GatewayError(BaseModel):
    """API Gateway's own answer, given before the function runs."""

    message: str


def _problem(description: str) -> OpenAPIResponse:
    return {"description": description, "content": {PROBLEM_JSON: {"model": Problem}}}


def _gateway(description: str, *, or_problem: bool = False) -> OpenAPIResponse:
    content: dict[str, Any] = {JSON: {"model": GatewayError}}
    if or_problem:
        content[PROBLEM_JSON] = {"model": Problem}
    return {"description": description, "content": content}


_REFUSALS: dict[HTTPStatus, OpenAPIResponse] = {
    HTTPStatus.BAD_REQUEST: _problem("A value is refused, or the body is not valid JSON (field names it)"),
    HTTPStatus.UNAUTHORIZED: _gateway(
        "No API key (or, on the carriers' webhook, no valid signature)", or_problem=True
    ),
    HTTPStatus.FORBIDDEN: _gateway(
        "The API key is unknown or revoked, or it lacks this route's permission", or_problem=True
    ),
    HTTPStatus.NOT_FOUND: _problem("The thing named in the path does not exist (or is another tenant's)"),
    HTTPStatus.CONFLICT: _problem("Refused by the platform's rules (reason says which)"),
    HTTPStatus.UNSUPPORTED_MEDIA_TYPE: _problem("The body is not application/json"),
    HTTPStatus.UNPROCESSABLE_ENTITY: _problem("The request does not match this document (errors lists each)"),
    HTTPStatus.TOO_MANY_REQUESTS: _gateway("API Gateway's throttling: retry later"),
    HTTPStatus.INTERNAL_SERVER_ERROR: _gateway("An unexpected error", or_problem=True),
    HTTPStatus.SERVICE_UNAVAILABLE: _problem("A dependency failed; nothing was accepted, retry"),
}
KEY_REFUSALS = (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN)
COMMON = (
    HTTPStatus.BAD_REQUEST,
    HTTPStatus.NOT_FOUND,  # also a path segment no route takes, or a key whose tenant is gone
    HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
    HTTPStatus.UNPROCESSABLE_ENTITY,
    HTTPStatus.TOO_MANY_REQUESTS,
    HTTPStatus.INTERNAL_SERVER_ERROR,
)
RETRY_AFTER: dict[str, OpenAPIResponseHeader] = {
    "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}
}


def answers(
    status: HTTPStatus,
    description: str,
    *refusals: HTTPStatus,
    also: dict[HTTPStatus, str] | None = None,
    content: dict[str, Any] | None = None,
    headers: dict[str, OpenAPIResponseHeader] | None = None,
    refusal_headers: dict[HTTPStatus, dict[str, OpenAPIResponseHeader]] | None = None,
    public: bool = False,
) -> dict[int, OpenAPIResponse]:
    """The route's responses: ``status`` (and ``also``) with the return annotation's JSON body, or
    ``content`` when given ({} for none); the common refusals, the key's (unless ``public``) and
    ``refusals``."""
    found: dict[int, OpenAPIResponse] = {}
    for code, text in {status: description, **(also or {})}.items():
        success: OpenAPIResponse = {"description": text}
        if content is not None:
            success["content"] = content
        if headers:
            success["headers"] = headers
        found[code.value] = success
    for code in (*COMMON, *(() if public else KEY_REFUSALS), *refusals):
        refusal = dict(_REFUSALS[code])
        if refusal_headers and code in refusal_headers:
            refusal["headers"] = refusal_headers[code]
        found[code.value] = refusal  # type: ignore[assignment]
    return found
