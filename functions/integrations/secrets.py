"""A secret from Secrets Manager, read once per container (on first use) and kept."""

from __future__ import annotations

import threading
from typing import Any, Protocol


class GetSecretValueClient(Protocol):
    def get_secret_value(self, *, SecretId: str) -> Any: ...


class SecretValue:
    def __init__(self, client: GetSecretValueClient, secret_id: str) -> None:
        self._client = client
        self._secret_id = secret_id
        self._value: str | None = None
        self._lock = threading.Lock()

    def get(self) -> str:
        with self._lock:
            if self._value is None:
                self._value = str(self._client.get_secret_value(SecretId=self._secret_id)["SecretString"])
            return self._value
