"""Posting a tenant's replies to its webhook: one signed POST, a short timeout, no redirects."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

DEFAULT_TIMEOUT_SECONDS = 3.0


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect could lead the post anywhere (an internal address): it counts as a failure."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class HttpWebhookPoster:
    def __init__(self, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self._timeout = timeout_seconds
        self._opener = urllib.request.build_opener(_NoRedirects)

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> str:
        # The URL was validated (https, or loopback where allowed) just before.
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                status = int(response.status)
        except urllib.error.HTTPError as error:
            return f"failed: HTTP {error.code}"
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            return f"failed: {getattr(error, 'reason', error)}"
        return "delivered" if 200 <= status < 300 else f"failed: HTTP {status}"
