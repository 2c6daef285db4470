"""Finding contacts by name or by number through the real handler on moto (GET /v1/contacts)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from local.demo import OPERATOR_API_KEY
from tests.integration.conftest import Platform


def found(platform: Platform, key: str | None = None, **query: Any) -> list[str]:
    """The names of the contacts a search finds, in the order answered."""
    args = {} if key is None else {"key": key}
    status, result = platform.call("GET", f"/v1/contacts?{urlencode(query)}", **args)
    assert status == 200, result
    return [contact["name"] for contact in result]


def problem(platform: Platform, **query: Any) -> tuple[int, str]:
    status, result = platform.call("GET", f"/v1/contacts?{urlencode(query)}")
    return status, result.get("field")


def test_a_contact_is_found_by_a_prefix_of_its_name_or_of_a_later_word(platform: Platform):
    # GIVEN the demo tenant's contacts (Ada Lovelace, Charles Babbage, Grace Hopper, Alan Turing)
    # THEN a prefix finds them whatever its case, first name or family name, in name order
    assert found(platform, name="ada") == ["Ada Lovelace"]
    assert found(platform, name="LOVE") == ["Ada Lovelace"]
    assert found(platform, name="ada lov") == ["Ada Lovelace"]
    assert found(platform, name="a") == ["Ada Lovelace", "Alan Turing"]
    assert found(platform, name="a", limit=1) == ["Ada Lovelace"]
    assert found(platform, name="zed") == []

    # WHEN a contact with accents and punctuation is added
    status, created = platform.call("POST", "/v1/contacts", {
        "name": "José O'Brien-Smith", "contact_type": "Billing", "related_entity_id": "acct-search",
        "related_entity_name": "O'Brien home", "phones": [],
    })  # fmt: skip
    assert status == 201, created
    # THEN it is found without them, by any of its words
    assert found(platform, name="jose") == ["José O'Brien-Smith"]
    assert found(platform, name="josé o'b") == ["José O'Brien-Smith"]
    assert found(platform, name="smith") == ["José O'Brien-Smith"]


def test_a_contact_is_found_by_any_of_its_numbers_in_any_form(platform: Platform):
    assert found(platform, phone_number="(416) 555-0123") == ["Ada Lovelace"]
    assert found(platform, phone_number="+1 416 555 0124") == ["Ada Lovelace"]  # her Home number
    assert found(platform, phone_number="212.555.0187") == ["Grace Hopper"]
    assert found(platform, phone_number="416-555-0199") == []


def test_a_changed_contact_is_found_by_what_it_is_now_only(platform: Platform):
    # GIVEN a contact found by its name and number
    body = {
        "name": "Mary Somerville", "contact_type": "Billing", "related_entity_id": "acct-search",
        "related_entity_name": "Somerville home",
        "phones": [{"number": "416-555-0161", "number_type": "Mobile", "sms_opt_in": True}],
    }  # fmt: skip
    status, created = platform.call("POST", "/v1/contacts", body)
    assert status == 201, created
    assert found(platform, phone_number="4165550161") == ["Mary Somerville"]

    # WHEN its name and number change
    changed = {
        **body,
        "name": "Mary Fairfax",
        "phones": [{"number": "416-555-0162", "number_type": "Mobile"}],
    }
    status, result = platform.call("PUT", f"/v1/contacts/{created['id']}", changed)
    assert status == 200, result

    # THEN the old ones find nothing, the new ones find it, the unchanged word still does
    assert found(platform, phone_number="4165550161") == []
    assert found(platform, name="somer") == []
    assert found(platform, phone_number="4165550162") == ["Mary Fairfax"]
    assert found(platform, name="fairfax") == ["Mary Fairfax"]
    assert found(platform, name="mary") == ["Mary Fairfax"]


def test_another_tenant_finds_none_of_them(platform: Platform):
    status, _ = platform.call("POST", "/v1/operator/tenants", {
        "tenant_id": "search-co", "name": "Search Co", "sending_numbers": ["+18335550177"],
    }, key=OPERATOR_API_KEY)  # fmt: skip
    assert status == 201
    status, issued = platform.call(
        "POST", "/v1/operator/tenants/search-co/api-keys",
        {"name": "ops", "permissions": ["config:manage"]}, key=OPERATOR_API_KEY,
    )  # fmt: skip
    assert status == 201
    other = issued["api_key"]
    assert found(platform, key=other, name="ada") == []
    assert found(platform, key=other, phone_number="(416) 555-0123") == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({}, "entity_id"),
        ({"phone_number": "555"}, "phone_number"),
        ({"phone_number": "+44 20 7946 0958"}, "phone_number"),
        ({"name": "--"}, "name"),
        ({"name": "ada", "phone_number": "4165550123"}, "phone_number"),
        ({"entity_id": "acct-1001", "name": "ada"}, "name"),
    ],
)
def test_a_search_it_cannot_answer_is_a_problem_naming_the_field(platform: Platform, query, field):
    assert problem(platform, **query) == (400, field)


def test_a_limit_out_of_range_is_refused(platform: Platform):
    status, result = platform.call("GET", "/v1/contacts?name=a&limit=101")
    assert status == 422
    assert [error["field"] for error in result["errors"]] == ["query.limit"]
