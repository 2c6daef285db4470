"""API keys: hashed at rest, each bound to one tenant and a set of permissions."""

from __future__ import annotations

import hashlib
import secrets
from enum import StrEnum

from pydantic import BaseModel

from functions.dal.config import ConfigTable
from functions.domain.tenants import ApiKey

KEY_PREFIX = "sms_"
MAX_KEY_LENGTH = 200  # issued keys are 47 characters; anything far longer is not one


class Permission(StrEnum):
    CREATE_SMS = "sms:create"  # "Create a new SMS message"
    VIEW_SMS = "sms:view"  # "View SMS messages"
    MANAGE_CONFIGURATION = "config:manage"
    OPERATOR = "operator"


class Principal(BaseModel):
    tenant_id: str
    permissions: frozenset[Permission]
    key_name: str | None = None  # who made a change, for audit trails (the opt-out list)

    def to_context(self) -> dict[str, str]:
        context = {"tenant_id": self.tenant_id, "permissions": " ".join(sorted(self.permissions))}
        if self.key_name is not None:
            context["key_name"] = self.key_name
        return context

    @classmethod
    def from_context(cls, context: dict[str, object]) -> Principal | None:
        tenant_id = context.get("tenant_id")
        permissions = context.get("permissions")
        if not isinstance(tenant_id, str) or not isinstance(permissions, str):
            return None
        known = {permission.value for permission in Permission}
        key_name = context.get("key_name")
        return cls(
            tenant_id=tenant_id,
            permissions=frozenset(Permission(name) for name in permissions.split() if name in known),
            key_name=key_name if isinstance(key_name, str) else None,
        )


def hash_key(key: str) -> str:
    # Keys are 256 random bits, so a fast hash is as safe as a slow one and keeps the check cheap.
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class Authenticator:
    def __init__(self, config: ConfigTable) -> None:
        self._config = config

    def authenticate(self, authorization: str | None) -> Principal | None:
        token = bearer_token(authorization)
        if token is None or not token.startswith(KEY_PREFIX):
            return None
        if len(token) > MAX_KEY_LENGTH or not (token.isascii() and token.isprintable()):
            return None  # never hashed or looked up: not the shape of a key
        api_key = self._config.get_api_key(hash_key(token))
        if api_key is None:
            return None
        return Principal(
            tenant_id=api_key.tenant_id,
            permissions=frozenset(map(Permission, api_key.permissions)),
            key_name=api_key.name,
        )

    def issue(self, tenant_id: str, name: str, permissions: set[Permission]) -> str:
        key = new_key()
        self._config.put_api_key(
            ApiKey(key_hash=hash_key(key), tenant_id=tenant_id, name=name, permissions=sorted(permissions))
        )
        return key
