"""The prepaid balance through the API and the dispatchers: debits, refunds, credits, purchases, auto-buy, previews."""

from __future__ import annotations

from datetime import timedelta

import pytest

from functions.domain.ledger import EntryKind
from functions.payments.simulator import PaymentSimulator, shared_simulator
from local.demo import DEMO_OPENING_BALANCE_MICROS, DEMO_TENANT_ID, OPERATOR_API_KEY
from tests.integration.balances import (
    GOOD,
    PRICE,
    TRIGGER,
    balance,
    dispatcher_tables,
    entries,
    of_kind,
    queue_messages,
    start_balance,
    statuses,
)
from tests.integration.concurrency import independent_dispatcher
from tests.integration.conftest import Platform

CREDITS = f"/v1/operator/tenants/{DEMO_TENANT_ID}/credits"


@pytest.fixture
def payments() -> PaymentSimulator:
    return shared_simulator()


def ok(platform: Platform, method: str, path: str, body=None, key=None, status=200, headers=None):
    kwargs = {"key": key} if key else {}
    code, result = platform.call(method, path, body, headers=headers, **kwargs)
    assert code == status, result
    return result


def message(platform: Platform, message_id: str):
    return ok(platform, "GET", f"/v1/messages/{message_id}")


# ---- a dispatcher pays for what it sends ----


def test_a_sent_message_is_debited_its_price_once(platform: Platform):
    created = platform.send(TRIGGER, GOOD)

    platform.run_dispatchers()
    platform.dispatcher().run()  # a second kick finds nothing to pay for

    assert message(platform, created["id"])["status"] == "Sent"
    assert len(platform.simulator.records) == 1
    (debit,) = of_kind(entries(platform), EntryKind.DEBIT)
    assert (debit.amount_micros, debit.message_id) == (-PRICE, created["id"])
    assert ok(platform, "GET", "/v1/balance")["balance_micros"] == DEMO_OPENING_BALANCE_MICROS - PRICE


def test_a_message_the_balance_cannot_pay_is_not_sent(platform: Platform):
    start_balance(platform, PRICE - 1)
    created = platform.send(TRIGGER, GOOD)

    platform.run_dispatchers()

    found = message(platform, created["id"])
    assert (found["status"], found["reject_reason"]) == ("Insufficient funds", "insufficient funds")
    # Refused in the claim itself: never In Progress, never a slot.
    assert [change["status"] for change in found["history"]] == ["Pending", "Insufficient funds"]
    assert platform.simulator.records == []
    assert balance(platform).balance_micros == PRICE - 1
    assert platform.ready_count() == 0


def test_a_tenant_without_any_balance_sends_nothing(platform: Platform):
    start_balance(platform, 0)
    created = platform.send(TRIGGER, GOOD)
    platform.run_dispatchers()
    assert message(platform, created["id"])["status"] == "Insufficient funds"
    assert ok(platform, "GET", "/v1/balance")["balance_micros"] == 0


def test_a_carrier_refusal_is_refunded(platform: Platform):
    platform.simulator.settings.opted_out.add("+14165550123")
    created = platform.send(TRIGGER, GOOD)

    platform.run_dispatchers()

    assert message(platform, created["id"])["reject_reason"] == "opted out"
    found = entries(platform)
    (debit,) = of_kind(found, EntryKind.DEBIT)
    (refund,) = of_kind(found, EntryKind.REFUND)
    assert (refund.amount_micros, refund.message_id) == (PRICE, debit.message_id)
    assert balance(platform).balance_micros == DEMO_OPENING_BALANCE_MICROS
    assert sum(entry.amount_micros for entry in found) == DEMO_OPENING_BALANCE_MICROS


# ---- reading the balance and the ledger ----


def test_the_balance_and_the_ledger_newest_first_in_pages(platform: Platform):
    for _ in range(3):
        platform.send(TRIGGER, GOOD)
    platform.run_dispatchers()

    current = ok(platform, "GET", "/v1/balance")
    assert current["balance_micros"] == DEMO_OPENING_BALANCE_MICROS - 3 * PRICE
    assert current["auto_buy"] == {"enabled": False, "threshold_micros": 0, "amount_micros": 0}
    assert current["pending_purchase"] is None

    first = ok(platform, "GET", "/v1/balance/ledger?limit=3")
    assert [item["kind"] for item in first["items"]] == ["debit", "debit", "debit"]
    assert all(item["amount_micros"] == -PRICE and item["message_id"] for item in first["items"])
    rest = ok(platform, "GET", f"/v1/balance/ledger?limit=3&cursor={first['next_cursor']}")
    (opening,) = rest["items"]
    assert (opening["kind"], opening["amount_micros"]) == ("credit", DEMO_OPENING_BALANCE_MICROS)
    assert rest["next_cursor"] is None


@pytest.mark.parametrize("query", ["cursor=not-a-cursor", "limit=0", "limit=201"])
def test_a_bad_ledger_page_request_is_refused(platform: Platform, query):
    code, problem = platform.call("GET", f"/v1/balance/ledger?{query}")
    assert code in {400, 422}
    assert problem["field"] in {"cursor", "query.limit"}


def test_the_balance_needs_a_tenant_permission(platform: Platform):
    assert platform.call("GET", "/v1/balance", key=OPERATOR_API_KEY)[0] == 403


# ---- operator credits ----


def test_an_operator_credit_is_idempotent_on_its_reference(platform: Platform):
    body = {"amount_micros": 5_000_000, "reference": "inv-2026-001", "note": "wire transfer"}
    entry = ok(platform, "POST", CREDITS, body, key=OPERATOR_API_KEY, status=201)
    assert (entry["kind"], entry["amount_micros"], entry["reference"]) == (
        "credit",
        5_000_000,
        "inv-2026-001",
    )

    again = ok(platform, "POST", CREDITS, body, key=OPERATOR_API_KEY, status=200)
    assert again == entry
    code, problem = platform.call("POST", CREDITS, {**body, "amount_micros": 6_000_000}, key=OPERATOR_API_KEY)
    assert (code, problem["reason"], problem["field"]) == (409, "reference_used", "reference")
    assert balance(platform).balance_micros == DEMO_OPENING_BALANCE_MICROS + 5_000_000


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"amount_micros": 1.5, "reference": "r1"}, 422, "body.amount_micros"),
        ({"amount_micros": 2.0, "reference": "r1"}, 422, "body.amount_micros"),
        ({"amount_micros": "100", "reference": "r1"}, 422, "body.amount_micros"),
        ({"amount_micros": True, "reference": "r1"}, 422, "body.amount_micros"),
        ({"amount_micros": 0, "reference": "r1"}, 422, "body.amount_micros"),
        ({"amount_micros": -5, "reference": "r1"}, 422, "body.amount_micros"),
        ({"amount_micros": 10**13, "reference": "r1"}, 422, "body.amount_micros"),
        ({"amount_micros": 100}, 422, "body.reference"),
        ({"amount_micros": 100, "reference": "has spaces"}, 422, "body.reference"),
    ],
)
def test_a_credit_must_be_a_positive_whole_number_of_micros(platform: Platform, body, status, field):
    code, problem = platform.call("POST", CREDITS, body, key=OPERATOR_API_KEY)
    assert (code, problem["field"]) == (status, field), problem
    assert balance(platform).balance_micros == DEMO_OPENING_BALANCE_MICROS


def test_only_the_operator_credits_and_only_known_tenants(platform: Platform):
    body = {"amount_micros": 100, "reference": "r1"}
    assert platform.call("POST", CREDITS, body)[0] == 403
    code, problem = platform.call("POST", "/v1/operator/tenants/nobody/credits", body, key=OPERATOR_API_KEY)
    assert (code, problem["field"]) == (404, "tenant_id")


# ---- purchases through the payment provider ----


def test_a_purchase_is_charged_once_per_idempotency_key(platform: Platform, payments: PaymentSimulator):
    headers = {"idempotency-key": "buy-1"}
    entry = ok(
        platform, "POST", "/v1/balance/purchases", {"amount_micros": 20_000_000}, headers=headers, status=201
    )
    again = ok(
        platform, "POST", "/v1/balance/purchases", {"amount_micros": 20_000_000}, headers=headers, status=201
    )

    assert entry == again
    assert (entry["kind"], entry["amount_micros"]) == ("purchase", 20_000_000)
    assert len(payments.charges) == 1
    assert balance(platform).balance_micros == DEMO_OPENING_BALANCE_MICROS + 20_000_000
    code, problem = platform.call(
        "POST", "/v1/balance/purchases", {"amount_micros": 1_000_000}, headers=headers
    )
    assert (code, problem["field"]) == (400, "idempotency-key")


def test_a_declined_purchase_is_recorded_and_adds_nothing(platform: Platform, payments: PaymentSimulator):
    payments.declined_tenants.add(DEMO_TENANT_ID)
    code, problem = platform.call("POST", "/v1/balance/purchases", {"amount_micros": 20_000_000})
    assert (code, problem["reason"]) == (409, "payment_declined")
    (declined,) = of_kind(entries(platform), EntryKind.PURCHASE_FAILED)
    assert (declined.amount_micros, declined.purchase_id) == (0, problem["purchase_id"])
    assert balance(platform).balance_micros == DEMO_OPENING_BALANCE_MICROS


def test_an_unavailable_provider_is_a_503_and_adds_nothing(platform: Platform, payments: PaymentSimulator):
    payments.unavailable = True
    code, problem = platform.call("POST", "/v1/balance/purchases", {"amount_micros": 20_000_000})
    assert code == 503, problem
    assert balance(platform).balance_micros == DEMO_OPENING_BALANCE_MICROS


def test_a_purchase_needs_the_configuration_permission(platform: Platform):
    viewer = platform.call("POST", "/v1/balance/purchases", {"amount_micros": 1}, key=OPERATOR_API_KEY)
    assert viewer[0] == 403


# ---- auto-buy ----


def test_auto_buy_settings_are_stored_and_shown(platform: Platform):
    body = {"enabled": True, "threshold_micros": 1_000_000, "amount_micros": 10_000_000}
    shown = ok(platform, "PUT", "/v1/balance/auto-buy", body)
    assert shown["auto_buy"] == body
    assert shown["balance_micros"] == DEMO_OPENING_BALANCE_MICROS
    assert ok(platform, "GET", "/v1/balance")["auto_buy"] == body
    off = ok(platform, "PUT", "/v1/balance/auto-buy", {**body, "enabled": False})
    assert off["auto_buy"]["enabled"] is False


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"enabled": True, "threshold_micros": 1_000, "amount_micros": 0}, 400, "amount_micros"),
        ({"enabled": True, "threshold_micros": 0, "amount_micros": 1_000}, 400, "threshold_micros"),
        ({"enabled": True, "threshold_micros": 1_000, "amount_micros": 0.5}, 422, "body.amount_micros"),
        ({"enabled": True, "threshold_micros": "1000", "amount_micros": 5}, 422, "body.threshold_micros"),
        ({"enabled": "yes", "threshold_micros": 1_000, "amount_micros": 5}, 422, "body.enabled"),
        ({"enabled": True, "threshold_micros": -1, "amount_micros": 5}, 422, "body.threshold_micros"),
    ],
)
def test_bad_auto_buy_settings_are_refused(platform: Platform, body, status, field):
    code, problem = platform.call("PUT", "/v1/balance/auto-buy", body)
    assert (code, problem["field"]) == (status, field), problem
    assert balance(platform).auto_buy.enabled is False


def test_a_debit_below_the_threshold_buys_once(platform: Platform, payments: PaymentSimulator):
    start_balance(platform, 3 * PRICE)
    body = {"enabled": True, "threshold_micros": 2 * PRICE, "amount_micros": 10 * PRICE}
    ok(platform, "PUT", "/v1/balance/auto-buy", body)
    for _ in range(3):
        platform.send(TRIGGER, GOOD)

    platform.run_dispatchers()

    assert len(payments.charges) == 1
    assert ok(platform, "GET", "/v1/balance")["balance_micros"] == 3 * PRICE - 3 * PRICE + 10 * PRICE
    kinds = [item["kind"] for item in ok(platform, "GET", "/v1/balance/ledger")["items"]]
    assert sorted(kinds) == ["auto_buy", "credit", "debit", "debit", "debit"]


# ---- previews say whether the balance covers the cost ----


def test_a_mass_preview_states_the_balance_and_whether_it_covers(platform: Platform):
    outage = {
        "saved_message": "unplanned_outage_no_eta",
        "outage_start": "2026-03-01T08:00:00-05:00",
        "variables": {"company": "Demo Fiber"},
    }
    created = ok(platform, "POST", "/v1/mass-messages", outage, status=202)["preview"]
    assert created["balance_micros"] == DEMO_OPENING_BALANCE_MICROS
    assert created["balance_covers"] is True
    assert isinstance(created["total_micros"], int)
    assert created["total_micros"] > 0

    start_balance(platform, created["total_micros"] - 1)
    short = ok(platform, "POST", "/v1/mass-messages", outage, status=202)["preview"]
    assert (short["balance_micros"], short["balance_covers"]) == (created["total_micros"] - 1, False)


def test_a_calling_list_preview_states_the_balance(platform: Platform):
    body = {
        "name": "Fence follow-ups",
        "template_id": "tpl-fence-painting",
        "phone_field": "phone",
        "mapping": {"first_name": "first", "quote": "quote"},
        "records": [{"phone": "+14165550301", "first": "Mary", "quote": 12000}],
    }
    preview = ok(platform, "POST", "/v1/calling-lists", body, status=202)["preview"]
    assert preview["balance_micros"] == DEMO_OPENING_BALANCE_MICROS
    assert preview["balance_covers"] is True


def test_the_openapi_document_lists_the_balance_routes(platform: Platform):
    document = ok(platform, "GET", "/v1/openapi.json", key=None)
    assert {
        "/v1/balance",
        "/v1/balance/ledger",
        "/v1/balance/auto-buy",
        "/v1/balance/purchases",
        "/v1/operator/tenants/{tenant_id}/credits",
    } <= set(document["paths"])
    amount = document["components"]["schemas"]["CreditBody"]["properties"]["amount_micros"]
    assert amount["type"] == "integer"


# ---- what a sender leaves behind: cancelled retries, purchases the provider did not answer ----


def test_a_cancelled_mass_message_refunds_what_waited_for_a_retry(platform: Platform):
    # GIVEN a mass message to three numbers, and a sending number that takes one part a second
    platform.simulator.settings.parts_per_second[platform.demo.sending_number] = 1
    outage = {
        "saved_message": "unplanned_outage_no_eta",
        "outage_start": "2026-03-01T08:00:00-05:00",
        "variables": {"company": "Demo Fiber"},
    }
    job = ok(platform, "POST", "/v1/mass-messages", outage, status=202)
    price = job["preview"]["price_per_message_micros"]
    body = {"confirmation_token": job["confirmation_token"]}
    ok(platform, "POST", f"/v1/mass-messages/{job['id']}/confirm", body, status=202)
    platform.run_fanout()
    # WHEN its batch is claimed and paid, one message goes, the carrier throttles the next, and the
    # dispatcher hands over then (its time is up): the rest go back unsent, their debits with them
    dispatcher = platform.dispatcher(remaining_ms=lambda: 0 if platform.simulator.throttled else 900_000)
    dispatcher.run()
    assert len(platform.simulator.records) == 1
    assert len(of_kind(entries(platform), EntryKind.DEBIT)) == job["preview"]["recipients"]
    assert platform.ready_count() == job["preview"]["recipients"] - 1

    # WHEN the job is cancelled and the sweep fails the waiting ones
    ok(platform, "POST", f"/v1/mass-messages/{job['id']}/cancel")
    platform.run_fanout()

    # THEN those are refunded: only the sent message is paid for
    found = entries(platform)
    assert len(of_kind(found, EntryKind.REFUND)) == job["preview"]["recipients"] - 1
    assert balance(platform).balance_micros == DEMO_OPENING_BALANCE_MICROS - price
    assert sum(entry.amount_micros for entry in found) == balance(platform).balance_micros


def test_an_auto_buy_the_provider_did_not_answer_is_resumed(platform: Platform, payments: PaymentSimulator):
    start_balance(platform, 3 * PRICE)
    body = {"enabled": True, "threshold_micros": 2 * PRICE, "amount_micros": 10 * PRICE}
    ok(platform, "PUT", "/v1/balance/auto-buy", body)
    # GIVEN a crossing while the payment provider does not answer
    payments.unavailable = True
    first = queue_messages(platform, 3)
    code = platform.demo.sending_number
    dispatcher = independent_dispatcher(
        code, dispatcher_tables(), payments, stale_purchase=timedelta(0), settings_cache_seconds=0
    )
    dispatcher.run()
    assert statuses(platform, first) == {"Sent": 3}
    pending = balance(platform).pending_purchase
    assert pending is not None
    assert payments.charges == []

    # WHEN the provider answers again and a dispatcher next reads the balance
    payments.unavailable = False
    last = queue_messages(platform, 1)
    independent_dispatcher(
        code, dispatcher_tables(), payments, stale_purchase=timedelta(0), settings_cache_seconds=0
    ).run()
    assert statuses(platform, last) == {"Sent": 1}

    # THEN the same purchase was made, once, and the fourth message was paid from it
    (charge,) = payments.charges
    assert charge.request.idempotency_key == pending.purchase_id
    (bought,) = of_kind(entries(platform), EntryKind.AUTO_BUY)
    assert bought.purchase_id == pending.purchase_id
    assert balance(platform).pending_purchase is None
    assert balance(platform).balance_micros == 3 * PRICE - 4 * PRICE + 10 * PRICE
