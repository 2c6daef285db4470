"""Routes served without an API key (the stack and the local runtime both read this)."""

OPENAPI_PATH = "/v1/openapi.json"
PUBLIC_ROUTES: tuple[tuple[str, str], ...] = (("GET", OPENAPI_PATH),)
