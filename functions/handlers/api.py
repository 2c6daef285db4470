"""The HTTP API: thin routes over the use cases; an OpenAPI document at GET /v1/openapi.json."""

from __future__ import annotations

import functools
import re
import unicodedata
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.domain.errors import MalformedBody, PlatformError
from functions.handlers import problems
from functions.handlers.contract import PUBLIC, SECURITY, SECURITY_SCHEMES, answers
from functions.handlers.request_body import RequestEvent, parse_json
from functions.handlers.routes import (
    balance,
    callbacks,
    configuration,
    console,
    inbound,
    mass,
    messages,
    operator,
)
from functions.handlers.routes.common import authorize_route, services
from functions.observability import logger, metrics, tracer
from functions.public_routes import OPENAPI_PATH

API_TITLE = "Outbound SMS"
API_VERSION = "1.0.0"


class _Resolver(APIGatewayHttpResolver):
    """Reads the body as UTF-8 JSON that the platform can store (request_body)."""

    def _to_proxy_event(self, event: dict[str, Any]) -> RequestEvent:
        return RequestEvent(event, self._json_body_deserializer)


app = _Resolver(enable_validation=True, json_body_deserializer=parse_json)
MAX_PATH_ID = 100  # an id, name or number in a path: what ids of the same kind allow in bodies


def _path_problem(value: str) -> str | None:
    """What is wrong with a path parameter's (decoded) value, or None."""
    if not value.strip():
        return "must not be blank"
    if len(value) > MAX_PATH_ID:
        return f"must be at most {MAX_PATH_ID} characters"
    if value != value.strip() or any(unicodedata.category(c) in ("Cc", "Cf") for c in value):
        return "must not begin or end with a space, nor hold control characters"
    return None


def check_path_parameters(resolver: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Every route's path parameters: visible text within an id's size (a 1,000-character id reached
    DynamoDB's key size limit, a 500; a blank one created a record named " ")."""
    route = resolver.context.get("_route")
    names = re.findall(r"<(\w+)>", route.path) if route is not None else []
    arguments = resolver.context.get("_route_args") or {}
    errors = [
        {"loc": ("path", name), "msg": problem, "type": "value_error"}
        for name in names
        if isinstance(value := arguments.get(name), str) and (problem := _path_problem(value)) is not None
    ]
    if errors and resolver.current_event.path.startswith("/v1/"):
        raise RequestValidationError(errors)
    return next_middleware(resolver)


app.use(middlewares=[check_path_parameters])
app.configure_openapi(
    title=API_TITLE, version=API_VERSION, security_schemes=SECURITY_SCHEMES, security=SECURITY
)
app.include_router(messages.router)
app.include_router(configuration.router)
app.include_router(mass.router)
app.include_router(operator.router)
app.include_router(balance.router)
app.include_router(inbound.router)
app.include_router(callbacks.router)
app.include_router(console.router)


@app.get(
    OPENAPI_PATH,
    summary="This document",
    responses=answers(
        HTTPStatus.OK,
        "OpenAPI 3.1",
        public=True,
        content={"application/json": {"schema": {"type": "object"}}},
    ),
    security=PUBLIC,
)
def openapi_document() -> Response[str]:
    return Response(status_code=200, content_type="application/json", body=app.get_openapi_json_schema())


@functools.cache
def _served_paths() -> tuple[tuple[re.Pattern[str], tuple[str, ...]], ...]:
    """Each documented path, matched as the resolver matches its routes, and the methods it answers."""
    found = []
    for path, item in (app.get_openapi_schema().paths or {}).items():
        operations = item.model_dump(exclude_none=True, by_alias=True)
        methods = tuple(sorted(method.upper() for method in operations))
        rule = re.sub(r"\{([^}/]+)\}", r"<\1>", path.replace(".", r"\."))
        found.append((app._compile_regex(rule), methods))
    return tuple(found)


def allowed_methods(path: str) -> tuple[str, ...]:
    """The methods served on ``path``; none when no route has it."""
    return next((methods for pattern, methods in _served_paths() if pattern.match(path)), ())


@app.exception_handler(PlatformError)
def handle_platform_error(error: PlatformError) -> Response[Any]:
    return problems.from_platform_error(error)


@app.exception_handler(MalformedBody)
def handle_malformed_body(error: MalformedBody) -> Response[Any]:
    return _authorize_first() or problems.from_platform_error(error)


@app.exception_handler(RequestValidationError)
def handle_validation_error(error: RequestValidationError) -> Response[Any]:
    return _authorize_first() or problems.from_validation_error(error)


@app.exception_handler(RequestUnsupportedContentType)
def handle_unsupported_content_type(_: RequestUnsupportedContentType) -> Response[Any]:
    content_type = app.current_event.headers.get("content-type", "")
    return _authorize_first() or problems.problem(
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        "Unsupported media type",
        f"send the body as application/json, not {content_type}",
        field="content-type",
    )


@app.exception_handler(ServiceError)
def handle_service_error(error: ServiceError) -> Response[Any]:
    status = HTTPStatus(error.status_code)
    return problems.problem(status, status.phrase, str(error.msg))


@app.exception_handler(Exception)
def handle_unexpected_error(error: Exception) -> Response[Any]:
    logger.exception("unexpected error", error_type=type(error).__name__)
    return problems.internal_error(_request_id(app.current_event.raw_event))


def _authorize_first() -> Response[Any] | None:
    """A request that could not be read is answered only once its key may use the route: the
    refusal if it may not. Public routes carry no authorizer context and need no permission.
    """
    route = app.context.get("_route")
    authorizer = app.current_event.request_context.authorizer
    if route is None or authorizer is None or not authorizer.get_lambda:
        return None
    try:
        authorize_route(route.func)
    except PlatformError as error:  # Forbidden (or Unauthorized)
        return problems.from_platform_error(error)
    return None


def _request_id(event: dict[str, Any]) -> str | None:
    context = event.get("requestContext") if isinstance(event, dict) else None
    request_id = context.get("requestId") if isinstance(context, dict) else None
    return request_id if isinstance(request_id, str) else None


@app.not_found
def handle_not_found(_: NotFoundError) -> Response[Any]:
    """No route: a 404, or a 405 naming the methods when the path is served with others (RFC 9110)."""
    event = app.current_event
    allowed = allowed_methods(event.path)
    if allowed:
        return problems.problem(
            HTTPStatus.METHOD_NOT_ALLOWED,
            "Method not allowed",
            f"{event.path} answers {', '.join(allowed)}, not {event.http_method}",
            headers={"Allow": ", ".join(allowed)},
            field="method",
        )
    return problems.problem(
        HTTPStatus.NOT_FOUND, "Not found", f"no route for {event.http_method} {event.path}", field="path"
    )


def unsupported_media(event: dict[str, Any]) -> dict[str, Any] | None:
    """A body must be JSON. Checked before routing: validation would otherwise parse a form body.
    A media type is case-insensitive (RFC 9110): ``APPLICATION/JSON`` is written lower case for
    the validation, which compares it as text."""
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    content_type = headers.get("content-type", "application/json")
    media_type, _, parameters = content_type.partition(";")
    if media_type.strip().lower() == "application/json":
        for name in event.get("headers") or {}:
            if name.lower() == "content-type":
                event["headers"][name] = "application/json" + (f";{parameters}" if parameters else "")
        return None
    if not event.get("body"):
        return None
    return problems.as_proxy_response(
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        "Unsupported media type",
        f"send the body as application/json, not {content_type}",
        field="content-type",
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        services().idempotency.register_lambda_context(
            context
        )  # an in-progress record lapses with the invocation
        return unsupported_media(event) or app.resolve(event, context)
    except Exception:  # outside routing (or in an error handler): still a problem document
        logger.exception("unexpected error outside routing")
        return problems.internal_error_proxy(_request_id(event))
