"""The Config table: tenants and everything a tenant configures, plus API keys.

Keys and access patterns (``pk``, ``sk``; GSI ``by_entity`` on ``gsi1pk``, ``gsi1sk``):
- ``TENANT#<id>`` / ``TENANT``: a tenant's settings, its signature defaults and phone number types.
- ``TENANT#<id>`` / ``COMPANY#<id>``, ``DEPARTMENT#<id>``: companies and their departments.
- ``TENANT#<id>`` / ``SIGNATURE#<id>``: a signature; ``SIGNATURE_NAME#<name>`` holds its name, so names
  are unique per tenant (written in one transaction with the signature).
- ``TENANT#<id>`` / ``CONTACT#<id>``: a contact with its numbers. ``by_entity``:
  ``TENANT#<id>#ENTITY#<type>#<entity id>`` / ``CONTACT#<id>``: the contacts of an account or site.
- ``TENANT#<id>`` / ``LOOKUP#PHONE#<e164>#<contact id>`` and ``LOOKUP#NAME#<name key>#<contact id>``:
  what a contact is found by (its numbers; its normalized name from each word on, see
  ``functions/domain/contact_search.py``), written with the contact in one transaction; the contact
  keeps the list (``lookup_keys``), so a change deletes the keys it no longer has. A search is one
  Query of the tenant's partition (an exact number, or a name prefix: ``begins_with``) and one
  BatchGetItem of the contacts found, checked again against what was asked.
- ``TENANT#<id>`` / ``ACCOUNT#<id>``: an account's filter attributes (status, network site, groups),
  copied onto its contacts, so a mass send pages ``CONTACT#`` items alone (one query per page).
- ``TENANT#<id>`` / ``TEMPLATE#<id>``: a tenant-authored template. ``by_entity``:
  ``TEMPLATES#pending`` / ``<created>#<tenant>#<id>``: the operator's review queue (pending only).
- ``APIKEY#<sha256>`` / ``APIKEY``: an API key's tenant and permissions, looked up by the key's hash.
- ``TRANSPORT_CODES`` / ``CODE#<number>``: the operator's transport codes (one small partition: get
  one by number for a dispatcher, query all for the registry and the minute schedule).
Every tenant-owned item sits under its tenant's partition: a key never reads another tenant's data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError
from pydantic import BaseModel

from functions.domain.contact_search import name_keys
from functions.domain.tenants import (
    Account,
    ApiKey,
    Company,
    Contact,
    Department,
    Signature,
    TemplateStatus,
    Tenant,
    TenantTemplate,
)
from functions.domain.transport import TransportCode

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

Model = TypeVar("Model", bound=BaseModel)
BY_ENTITY_INDEX = "by_entity"
PENDING_TEMPLATES = "TEMPLATES#pending"
TRANSPORT_CODES = "TRANSPORT_CODES"
_KEYS = frozenset({"pk", "sk", "gsi1pk", "gsi1sk", "revision", "lookup_keys"})
LOOKUP = "LOOKUP#"
# A contact's save is one transaction: the contact and its lookup keys added and removed.
_MAX_TRANSACTION_ITEMS = 100


class AlreadyExists(Exception):
    """A conditional create found the item (or its unique name) already there."""


def tenant_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"


# Items read together at the start of a ``read_together`` block, by (pk, sk); None: it does not exist.
_READ_TOGETHER: ContextVar[dict[tuple[str, str], dict[str, Any] | None] | None] = ContextVar(
    "config_read_together", default=None
)


def entity_pk(tenant_id: str, entity_type: str, entity_id: str) -> str:
    return f"TENANT#{tenant_id}#ENTITY#{entity_type}#{entity_id}"


def _by_entity(tenant_id: str, contact: Contact) -> dict[str, str]:
    return {
        "gsi1pk": entity_pk(tenant_id, contact.related_entity_type.value, contact.related_entity_id),
        "gsi1sk": f"CONTACT#{contact.contact_id}",
    }


def phone_lookup(number: str) -> str:
    return f"{LOOKUP}PHONE#{number}#"


def name_lookup(prefix: str) -> str:
    return f"{LOOKUP}NAME#{prefix}"


def _lookup_keys(contact: Contact) -> list[str]:
    """The sort keys a contact is found by (its numbers, then its name from each word on)."""
    phones = [phone_lookup(phone.number) + contact.contact_id for phone in contact.phones]
    names = [f"{name_lookup(key)}#{contact.contact_id}" for key in name_keys(contact.name)]
    return list(dict.fromkeys(phones + names))


class ConcurrentChange(Exception):
    """Another save of the same contact changed its lookup keys in between: read and save again."""


def _strip(item: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if key not in _KEYS}


def _name_key(name: str) -> str:
    return f"SIGNATURE_NAME#{name.strip().casefold()}"


def _condition_failed(error: ClientError) -> bool:
    code = error.response["Error"]["Code"]
    if code == "ConditionalCheckFailedException":
        return True
    reasons = error.response.get("CancellationReasons", [])
    return code == "TransactionCanceledException" and any(
        r.get("Code") == "ConditionalCheckFailed" for r in reasons
    )


class ConfigTable:
    def __init__(self, table: Table) -> None:
        self._table = table
        self._client = table.meta.client

    # ---- generic ----

    def _item(
        self, pk: str, sk: str, model: BaseModel, index: dict[str, str] | None = None
    ) -> dict[str, Any]:
        return {"pk": pk, "sk": sk, **(index or {}), **model.model_dump(mode="json", exclude_none=True)}

    def _put(
        self,
        pk: str,
        sk: str,
        model: BaseModel,
        create_only: bool = False,
        index: dict[str, str] | None = None,
    ) -> None:
        request: dict[str, Any] = {"Item": self._item(pk, sk, model, index)}
        if create_only:
            request["ConditionExpression"] = "attribute_not_exists(pk)"
        try:
            self._table.put_item(**request)
        except ClientError as error:
            if _condition_failed(error):
                raise AlreadyExists(sk) from error
            raise

    def _get(self, pk: str, sk: str, model: type[Model]) -> Model | None:
        together = _READ_TOGETHER.get()
        if together is not None and (pk, sk) in together:
            item = together[pk, sk]
        else:
            item = self._table.get_item(Key={"pk": pk, "sk": sk}, ConsistentRead=True).get("Item")
        return model.model_validate(_strip(item)) if item else None

    @contextmanager
    def read_together(
        self,
        tenant_id: str,
        signature_id: str | None = None,
        contact_id: str | None = None,
        transport_code: str | None = None,
    ) -> Iterator[None]:
        """Within the block, the items named are read as of its start, in one consistent BatchGetItem
        instead of a GetItem each: what composing a triggered message reads after its tenant. Only
        this thread's reads inside the block see them (a context variable); other items, and every
        read after the block, go to the table as before."""
        keys = [
            (tenant_pk(tenant_id), f"SIGNATURE#{signature_id}") if signature_id else None,
            (tenant_pk(tenant_id), f"CONTACT#{contact_id}") if contact_id else None,
            (TRANSPORT_CODES, f"CODE#{transport_code}") if transport_code else None,
        ]
        wanted = [key for key in keys if key is not None]
        found: dict[tuple[str, str], dict[str, Any] | None] = dict.fromkeys(wanted)
        found.update(self._get_many(wanted))
        token = _READ_TOGETHER.set(found)
        try:
            yield
        finally:
            _READ_TOGETHER.reset(token)

    def _get_many(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """The items of these keys that exist (at most 100: one consistent BatchGetItem, and its
        unprocessed keys again), by (pk, sk)."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        request = [{"pk": pk, "sk": sk} for pk, sk in keys]
        while request:
            answer: dict[str, Any] = self._client.batch_get_item(  # type: ignore[assignment]
                RequestItems={self._table.name: {"Keys": request, "ConsistentRead": True}}
            )
            for item in answer["Responses"].get(self._table.name, []):
                found[str(item["pk"]), str(item["sk"])] = item
            request = answer.get("UnprocessedKeys", {}).get(self._table.name, {}).get("Keys", [])
        return found

    def _query(self, model: type[Model], **query: Any) -> Iterator[Model]:
        while True:
            page = self._table.query(**query)
            for item in page["Items"]:
                yield model.model_validate(_strip(item))
            if "LastEvaluatedKey" not in page:
                return
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _children(self, tenant_id: str, prefix: str, model: type[Model]) -> list[Model]:
        condition = Key("pk").eq(tenant_pk(tenant_id)) & Key("sk").begins_with(prefix)
        return list(self._query(model, KeyConditionExpression=condition))

    def _delete(self, pk: str, sk: str) -> bool:
        response = self._table.delete_item(Key={"pk": pk, "sk": sk}, ReturnValues="ALL_OLD")
        return "Attributes" in response

    # ---- tenants ----

    def create_tenant(self, tenant: Tenant) -> None:
        self._put(tenant_pk(tenant.tenant_id), "TENANT", tenant, create_only=True)

    def put_tenant(self, tenant: Tenant) -> None:
        self._put(tenant_pk(tenant.tenant_id), "TENANT", tenant)

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        return self._get(tenant_pk(tenant_id), "TENANT", Tenant)

    def list_tenants(self) -> list[Tenant]:
        # The operator's rare listing; tenants are few, so a filtered scan is the honest tool.
        items = []
        scan: dict[str, Any] = {"FilterExpression": Key("sk").eq("TENANT")}
        while True:
            page = self._table.scan(**scan)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return [Tenant.model_validate(_strip(item)) for item in items]

    def update_tenant(self, tenant_id: str, change: Callable[[Tenant], Tenant]) -> Tenant:
        """Read-modify-write guarded by a revision number, retried if another writer got there first."""
        for _ in range(5):
            item = self._table.get_item(
                Key={"pk": tenant_pk(tenant_id), "sk": "TENANT"}, ConsistentRead=True
            ).get("Item")
            if item is None:
                raise KeyError(tenant_id)
            revision = int(item.get("revision", 0))  # type: ignore[arg-type]
            updated = change(Tenant.model_validate(_strip(item)))
            try:
                self._table.put_item(
                    Item={**self._item(tenant_pk(tenant_id), "TENANT", updated), "revision": revision + 1},
                    ConditionExpression="attribute_not_exists(revision) OR revision = :seen",
                    ExpressionAttributeValues={":seen": revision},
                )
                return updated
            except ClientError as error:
                if not _condition_failed(error):
                    raise
        raise RuntimeError(f"tenant {tenant_id} kept changing under this update")

    # ---- transport codes ----

    def put_transport_code(self, code: TransportCode, create_only: bool = False) -> None:
        self._put(TRANSPORT_CODES, f"CODE#{code.number}", code, create_only=create_only)

    def get_transport_code(self, number: str) -> TransportCode | None:
        return self._get(TRANSPORT_CODES, f"CODE#{number}", TransportCode)

    def list_transport_codes(self) -> list[TransportCode]:
        return list(self._query(TransportCode, KeyConditionExpression=Key("pk").eq(TRANSPORT_CODES)))

    def delete_transport_code(self, number: str) -> bool:
        return self._delete(TRANSPORT_CODES, f"CODE#{number}")

    # ---- companies and departments ----

    def put_company(self, tenant_id: str, company: Company) -> None:
        self._put(tenant_pk(tenant_id), f"COMPANY#{company.company_id}", company)

    def get_company(self, tenant_id: str, company_id: str) -> Company | None:
        return self._get(tenant_pk(tenant_id), f"COMPANY#{company_id}", Company)

    def list_companies(self, tenant_id: str) -> list[Company]:
        return self._children(tenant_id, "COMPANY#", Company)

    def put_department(self, tenant_id: str, department: Department) -> None:
        self._put(tenant_pk(tenant_id), f"DEPARTMENT#{department.department_id}", department)

    def get_department(self, tenant_id: str, department_id: str) -> Department | None:
        return self._get(tenant_pk(tenant_id), f"DEPARTMENT#{department_id}", Department)

    def list_departments(self, tenant_id: str) -> list[Department]:
        return self._children(tenant_id, "DEPARTMENT#", Department)

    # ---- signatures ----

    def put_signature(self, tenant_id: str, signature: Signature, previous_name: str | None = None) -> None:
        """Write a signature and claim its name in one transaction; AlreadyExists if the name is taken."""
        pk = tenant_pk(tenant_id)
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table.name,
                    "Item": self._item(pk, f"SIGNATURE#{signature.signature_id}", signature),
                }
            }
        ]
        if previous_name is None or _name_key(previous_name) != _name_key(signature.name):
            items.append({
                "Put": {
                    "TableName": self._table.name,
                    "Item": {"pk": pk, "sk": _name_key(signature.name), "signature_id": signature.signature_id},  # noqa: E501
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            })  # fmt: skip
            if previous_name is not None:
                items.append(
                    {
                        "Delete": {
                            "TableName": self._table.name,
                            "Key": {"pk": pk, "sk": _name_key(previous_name)},
                        }
                    }
                )
        try:
            self._client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
        except ClientError as error:
            if _condition_failed(error):
                raise AlreadyExists(signature.name) from error
            raise

    def get_signature(self, tenant_id: str, signature_id: str) -> Signature | None:
        return self._get(tenant_pk(tenant_id), f"SIGNATURE#{signature_id}", Signature)

    def list_signatures(self, tenant_id: str) -> list[Signature]:
        return self._children(tenant_id, "SIGNATURE#", Signature)

    def delete_signature(self, tenant_id: str, signature: Signature) -> None:
        pk = tenant_pk(tenant_id)
        self._client.transact_write_items(
            TransactItems=[
                {
                    "Delete": {
                        "TableName": self._table.name,
                        "Key": {"pk": pk, "sk": f"SIGNATURE#{signature.signature_id}"},
                    }
                },
                {
                    "Delete": {
                        "TableName": self._table.name,
                        "Key": {"pk": pk, "sk": _name_key(signature.name)},
                    }
                },
            ]
        )

    # ---- contacts ----

    def put_contact(self, tenant_id: str, contact: Contact) -> None:
        """Save a contact and its lookup keys; a concurrent save of it in between is tried again."""
        for _ in range(3):
            try:
                self._put_contact_once(tenant_id, contact)
                return
            except ConcurrentChange:
                continue
        raise ConcurrentChange(contact.contact_id)

    def _put_contact_once(self, tenant_id: str, contact: Contact) -> None:
        pk, sk = tenant_pk(tenant_id), f"CONTACT#{contact.contact_id}"
        found = self._table.get_item(
            Key={"pk": pk, "sk": sk}, ConsistentRead=True, ProjectionExpression="lookup_keys"
        ).get("Item")
        before: list[str] | None = None if found is None else list(found.get("lookup_keys", []))  # type: ignore[arg-type]
        after = _lookup_keys(contact)
        item = {**self._item(pk, sk, contact, _by_entity(tenant_id, contact)), "lookup_keys": after}
        put: dict[str, Any] = {"TableName": self._table.name, "Item": item}
        if found is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        elif "lookup_keys" not in found:  # saved before contacts had lookup keys
            put["ConditionExpression"] = "attribute_not_exists(lookup_keys)"
        else:
            put["ConditionExpression"] = "lookup_keys = :before"
            put["ExpressionAttributeValues"] = {":before": before}
        items: list[dict[str, Any]] = [{"Put": put}]
        items += [
            {
                "Put": {
                    "TableName": self._table.name,
                    "Item": {"pk": pk, "sk": key, "contact_id": contact.contact_id},
                }
            }
            for key in after
            if key not in (before or [])
        ]
        items += [
            {"Delete": {"TableName": self._table.name, "Key": {"pk": pk, "sk": key}}}
            for key in before or []
            if key not in after
        ]
        assert len(items) <= _MAX_TRANSACTION_ITEMS, "a contact has at most 20 numbers and 4 name keys"
        try:
            self._client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
        except ClientError as error:
            if _condition_failed(error):
                raise ConcurrentChange(contact.contact_id) from error
            raise

    def put_contacts(self, tenant_id: str, contacts: list[Contact]) -> None:
        """Many contacts at once (an import), with their lookup keys, 25 items to a BatchWriteItem."""
        with self._table.batch_writer() as batch:
            for contact in contacts:
                pk, keys = tenant_pk(tenant_id), _lookup_keys(contact)
                item = self._item(
                    pk, f"CONTACT#{contact.contact_id}", contact, _by_entity(tenant_id, contact)
                )
                batch.put_item(Item={**item, "lookup_keys": keys})
                # An import writes keys and deletes none: a search checks each contact it finds.
                for key in keys:
                    batch.put_item(Item={"pk": pk, "sk": key, "contact_id": contact.contact_id})

    def get_contact(self, tenant_id: str, contact_id: str) -> Contact | None:
        return self._get(tenant_pk(tenant_id), f"CONTACT#{contact_id}", Contact)

    def contacts_of(self, tenant_id: str, entity_type: str, entity_id: str) -> list[Contact]:
        return list(
            self._query(
                Contact,
                IndexName=BY_ENTITY_INDEX,
                KeyConditionExpression=Key("gsi1pk").eq(entity_pk(tenant_id, entity_type, entity_id)),
            )
        )

    def contacts_page(
        self, tenant_id: str, start: dict[str, Any] | None, limit: int | None = None
    ) -> tuple[list[Contact], dict[str, Any] | None]:
        """One page of every contact of a tenant, for mass sends; the key to continue from, or None."""
        query: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(tenant_pk(tenant_id)) & Key("sk").begins_with("CONTACT#")
        }
        if start:
            query["ExclusiveStartKey"] = start
        if limit:
            query["Limit"] = limit
        page = self._table.query(**query)
        contacts = [Contact.model_validate(_strip(item)) for item in page["Items"]]
        return contacts, page.get("LastEvaluatedKey")

    def contacts_range_page(
        self, tenant_id: str, lo: str, hi: str, start: dict[str, Any] | None, limit: int | None = None
    ) -> tuple[list[Contact], dict[str, Any] | None]:
        """One page of a tenant's contacts whose sort key is in [lo, hi), for a preview's segment."""
        query: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(tenant_pk(tenant_id)) & Key("sk").between(lo, hi)
        }
        if start:
            query["ExclusiveStartKey"] = start
        if limit:
            query["Limit"] = limit
        page = self._table.query(**query)
        contacts = [Contact.model_validate(_strip(item)) for item in page["Items"] if item["sk"] != hi]
        return contacts, page.get("LastEvaluatedKey")

    # ---- accounts ----

    def put_account(self, tenant_id: str, account: Account) -> None:
        self._put(tenant_pk(tenant_id), f"ACCOUNT#{account.account_id}", account)

    def get_account(self, tenant_id: str, account_id: str) -> Account | None:
        return self._get(tenant_pk(tenant_id), f"ACCOUNT#{account_id}", Account)

    def delete_contact(self, tenant_id: str, contact_id: str) -> bool:
        pk = tenant_pk(tenant_id)
        response = self._table.delete_item(
            Key={"pk": pk, "sk": f"CONTACT#{contact_id}"}, ReturnValues="ALL_OLD"
        )
        old = response.get("Attributes")
        if old is None:
            return False
        with self._table.batch_writer() as batch:
            for key in old.get("lookup_keys", []):  # type: ignore[union-attr]
                batch.delete_item(Key={"pk": pk, "sk": str(key)})
        return True

    def find_contacts(self, tenant_id: str, lookup: str, limit: int) -> list[Contact]:
        """Up to ``limit`` contacts whose lookup key starts with ``lookup`` (``phone_lookup`` for an
        exact number, ``name_lookup`` for a name prefix), in key order; not yet checked again."""
        condition = Key("pk").eq(tenant_pk(tenant_id)) & Key("sk").begins_with(lookup)
        query: dict[str, Any] = {"KeyConditionExpression": condition, "ProjectionExpression": "contact_id"}
        found: list[str] = []
        while len(found) < limit:
            page = self._table.query(**query, Limit=2 * limit)
            for item in page["Items"]:
                if item["contact_id"] not in found and len(found) < limit:
                    found.append(str(item["contact_id"]))
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return self._contacts_by_id(tenant_id, found)

    def _contacts_by_id(self, tenant_id: str, contact_ids: list[str]) -> list[Contact]:
        """The contacts with these ids (at most 100: one BatchGetItem, and its unprocessed keys again)."""
        if not contact_ids:
            return []
        pk = tenant_pk(tenant_id)
        items = self._get_many([(pk, f"CONTACT#{contact_id}") for contact_id in contact_ids])
        ordered = [items.get((pk, f"CONTACT#{contact_id}")) for contact_id in contact_ids]
        return [Contact.model_validate(_strip(item)) for item in ordered if item is not None]

    # ---- tenant templates ----

    def put_template(self, template: TenantTemplate) -> None:
        index: dict[str, str] = {}
        if template.status is TemplateStatus.PENDING:
            index = {
                "gsi1pk": PENDING_TEMPLATES,
                "gsi1sk": f"{template.created_at.isoformat()}#{template.tenant_id}#{template.template_id}",
            }
        self._put(tenant_pk(template.tenant_id), f"TEMPLATE#{template.template_id}", template, index=index)

    def get_template(self, tenant_id: str, template_id: str) -> TenantTemplate | None:
        return self._get(tenant_pk(tenant_id), f"TEMPLATE#{template_id}", TenantTemplate)

    def list_templates(self, tenant_id: str) -> list[TenantTemplate]:
        return self._children(tenant_id, "TEMPLATE#", TenantTemplate)

    def pending_templates(self) -> list[TenantTemplate]:
        return list(
            self._query(
                TenantTemplate,
                IndexName=BY_ENTITY_INDEX,
                KeyConditionExpression=Key("gsi1pk").eq(PENDING_TEMPLATES),
            )
        )

    # ---- API keys ----

    def put_api_key(self, api_key: ApiKey) -> None:
        self._put(f"APIKEY#{api_key.key_hash}", "APIKEY", api_key)

    def get_api_key(self, key_hash: str) -> ApiKey | None:
        return self._get(f"APIKEY#{key_hash}", "APIKEY", ApiKey)
