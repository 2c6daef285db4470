"""Typed errors of the platform; the API maps each kind to one HTTP status in one place."""

from __future__ import annotations


class PlatformError(Exception):
    """Base of every error the platform raises on purpose."""

    title = "Request refused"

    def __init__(self, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class InvalidInput(PlatformError):
    """The request names a value the platform cannot accept."""

    title = "Invalid input"

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail, field)


class NotFound(PlatformError):
    title = "Not found"


class Refused(PlatformError):
    """The request is well formed but the platform's rules forbid it (feature off, opted out...)."""

    title = "Refused"

    def __init__(
        self,
        reason: str,
        detail: str,
        field: str | None = None,
        extra: dict[str, object] | None = None,
        retry_after_seconds: int | None = None,
    ) -> None:
        super().__init__(detail, field)
        self.reason = reason
        self.extra = extra or {}
        # When the same request may succeed later (one still running), how long to wait.
        self.retry_after_seconds = retry_after_seconds


class Unauthorized(PlatformError):
    title = "Unauthorized"


class Forbidden(PlatformError):
    title = "Forbidden"


class Unavailable(PlatformError):
    """A dependency failed; nothing was accepted, the caller may retry."""

    title = "Service unavailable"


class MalformedBody(InvalidInput):
    """The request body cannot be read: not UTF-8, nested too deeply, or a string that is not text."""

    title = "Malformed request body"
