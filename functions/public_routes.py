"""Routes served without an API key (the stack and the local runtime both read this)."""

OPENAPI_PATH = "/v1/openapi.json"
# Carriers post inbound messages here; each request carries its own HMAC signature instead of a key.
CARRIER_WEBHOOK_PATH = "/v1/inbound/{carrier}"
# The web console's page and its static files; it signs in with an API key it sends on every call.
CONSOLE_PATH = "/console"
CONSOLE_ASSETS_PATH = "/console/{proxy+}"
# Beside the OpenAPI document: the console's API explorer, which reads it and calls the API with a key.
EXPLORER_PATH = "/v1/docs"
PUBLIC_ROUTES: tuple[tuple[str, str], ...] = (
    ("GET", OPENAPI_PATH),
    ("POST", CARRIER_WEBHOOK_PATH),
    ("GET", CONSOLE_PATH),
    ("GET", CONSOLE_ASSETS_PATH),
    ("GET", EXPLORER_PATH),
)
