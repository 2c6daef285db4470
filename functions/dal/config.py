"""The Config table: tenants and everything a tenant configures, plus API keys.

Keys and access patterns (``pk``, ``sk``):
- ``TENANT#<id>`` / ``TENANT``: a tenant's settings.
- ``TENANT#<id>`` / ``DEPARTMENT#<id>``: a department (phone and email for signatures).
- ``TENANT#<id>`` / ``SIGNATURE#<id>``: a signature; the tenant's signatures by ``begins_with``.
- ``TENANT#<id>`` / ``CONTACT#<id>``: a contact with its phone numbers.
- ``APIKEY#<sha256>`` / ``APIKEY``: an API key's tenant and permissions, looked up by the key's hash.
Every tenant-owned item sits under its tenant's partition, so a key never reads another tenant's data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from boto3.dynamodb.conditions import Key
from pydantic import BaseModel

from functions.domain.tenants import ApiKey, Contact, Department, Signature, Tenant

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

Model = TypeVar("Model", bound=BaseModel)


def _tenant_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"


def _strip(item: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if key not in {"pk", "sk"}}


class ConfigTable:
    def __init__(self, table: Table) -> None:
        self._table = table

    def _put(self, pk: str, sk: str, model: BaseModel) -> None:
        self._table.put_item(Item={"pk": pk, "sk": sk, **model.model_dump(mode="json")})

    def _get(self, pk: str, sk: str, model: type[Model]) -> Model | None:
        item = self._table.get_item(Key={"pk": pk, "sk": sk}).get("Item")
        return model.model_validate(_strip(item)) if item else None

    def put_tenant(self, tenant: Tenant) -> None:
        self._put(_tenant_pk(tenant.tenant_id), "TENANT", tenant)

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        return self._get(_tenant_pk(tenant_id), "TENANT", Tenant)

    def put_department(self, tenant_id: str, department: Department) -> None:
        self._put(_tenant_pk(tenant_id), f"DEPARTMENT#{department.department_id}", department)

    def get_department(self, tenant_id: str, department_id: str) -> Department | None:
        return self._get(_tenant_pk(tenant_id), f"DEPARTMENT#{department_id}", Department)

    def put_signature(self, tenant_id: str, signature: Signature) -> None:
        self._put(_tenant_pk(tenant_id), f"SIGNATURE#{signature.signature_id}", signature)

    def get_signature(self, tenant_id: str, signature_id: str) -> Signature | None:
        return self._get(_tenant_pk(tenant_id), f"SIGNATURE#{signature_id}", Signature)

    def list_signatures(self, tenant_id: str) -> list[Signature]:
        items = self._table.query(
            KeyConditionExpression=Key("pk").eq(_tenant_pk(tenant_id)) & Key("sk").begins_with("SIGNATURE#")
        )["Items"]
        return [Signature.model_validate(_strip(item)) for item in items]

    def put_contact(self, tenant_id: str, contact: Contact) -> None:
        self._put(_tenant_pk(tenant_id), f"CONTACT#{contact.contact_id}", contact)

    def get_contact(self, tenant_id: str, contact_id: str) -> Contact | None:
        return self._get(_tenant_pk(tenant_id), f"CONTACT#{contact_id}", Contact)

    def put_api_key(self, api_key: ApiKey) -> None:
        self._put(f"APIKEY#{api_key.key_hash}", "APIKEY", api_key)

    def get_api_key(self, key_hash: str) -> ApiKey | None:
        return self._get(f"APIKEY#{key_hash}", "APIKEY", ApiKey)
