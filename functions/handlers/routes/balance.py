"""The prepaid balance: read it and its ledger, buy funds, set auto-buy; the operator's credits.

Money is integer micro-dollars (1 USD = 1,000,000) in and out; a float or a string is refused.
"""

from __future__ import annotations

from datetime import datetime
from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Header, Query
from pydantic import BaseModel, Field

from functions.domain.ledger import AutoBuy, Balance, EntryKind, LedgerEntry
from functions.domain.values import IDEMPOTENCY_KEY, Flag, Micros, PositiveMicros, RequestBody
from functions.handlers.contract import answers
from functions.handlers.routes.common import principal, services
from functions.logic.auth import Permission

router = Router()


class AutoBuyBody(RequestBody):
    enabled: Flag
    threshold_micros: Micros = Field(description="Buy when a debit takes the balance below this")
    amount_micros: Micros = Field(description="How much each auto-buy buys (more than 0 when enabled)")


class PurchaseBody(RequestBody):
    amount_micros: PositiveMicros


class CreditBody(RequestBody):
    amount_micros: PositiveMicros
    reference: str = Field(
        pattern=r"^[A-Za-z0-9._:-]{1,100}$",
        description="The operator's reference (an invoice, a payment); a repeat returns the first credit",
    )
    note: str | None = Field(default=None, max_length=500)


class PendingPurchaseView(BaseModel):
    purchase_id: str
    amount_micros: int
    armed_at: datetime


class BalanceView(BaseModel):
    balance_micros: int
    auto_buy: AutoBuy
    pending_purchase: PendingPurchaseView | None = Field(description="An auto-buy on its way, if any")
    updated_at: datetime | None


class EntryView(BaseModel):
    id: str
    kind: EntryKind
    amount_micros: int = Field(description="Signed: what the entry did to the balance")
    at: datetime
    message_id: str | None
    purchase_id: str | None
    reference: str | None
    note: str | None


class LedgerPage(BaseModel):
    items: list[EntryView]
    next_cursor: str | None


def balance_view(balance: Balance) -> BalanceView:
    pending = balance.pending_purchase
    return BalanceView(
        balance_micros=balance.balance_micros,
        auto_buy=balance.auto_buy,
        pending_purchase=PendingPurchaseView.model_validate(pending.model_dump()) if pending else None,
        updated_at=balance.updated_at,
    )


def entry_view(entry: LedgerEntry) -> EntryView:
    return EntryView(id=entry.entry_id, **entry.model_dump(exclude={"entry_id", "tenant_id"}))


@router.get(
    "/v1/balance",
    summary="The prepaid balance and the auto-buy settings",
    responses=answers(HTTPStatus.OK, "The balance"),
)
def get_balance() -> BalanceView:
    tenant = principal(router, Permission.VIEW_SMS, Permission.MANAGE_CONFIGURATION)
    return balance_view(services().balances.balance(tenant.tenant_id))


@router.get(
    "/v1/balance/ledger",
    summary="The ledger: every credit, purchase, debit and refund, newest first",
    responses=answers(HTTPStatus.OK, "A page of the ledger"),
)
def get_ledger(
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> LedgerPage:
    tenant = principal(router, Permission.VIEW_SMS, Permission.MANAGE_CONFIGURATION)
    entries, next_cursor = services().balances.ledger(tenant.tenant_id, limit, cursor)
    return LedgerPage(items=[entry_view(entry) for entry in entries], next_cursor=next_cursor)


@router.put(
    "/v1/balance/auto-buy",
    summary="Set auto-buy: buy an amount when the balance falls below a threshold",
    responses=answers(HTTPStatus.OK, "The balance with its auto-buy", HTTPStatus.CONFLICT),
)
def put_auto_buy(body: AutoBuyBody) -> BalanceView:
    tenant = principal(router, Permission.MANAGE_CONFIGURATION)
    auto_buy = AutoBuy(**body.model_dump())
    return balance_view(services().balances.set_auto_buy(tenant.tenant_id, auto_buy))


@router.post(
    "/v1/balance/purchases",
    summary="Buy funds through the payment provider",
    responses=answers(
        HTTPStatus.CREATED,
        "The purchase's ledger entry",
        HTTPStatus.CONFLICT,
        HTTPStatus.SERVICE_UNAVAILABLE,
    ),
)
def purchase(
    body: PurchaseBody,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="idempotency-key",
            min_length=1,
            max_length=200,
            pattern=IDEMPOTENCY_KEY,
            description="Retries with it never buy twice",
        ),
    ] = None,
) -> Response[EntryView]:
    tenant = principal(router, Permission.MANAGE_CONFIGURATION)
    entry = services().balances.purchase(tenant.tenant_id, body.amount_micros, idempotency_key)
    return Response(
        status_code=HTTPStatus.CREATED.value, content_type="application/json", body=entry_view(entry)
    )


@router.post(
    "/v1/operator/tenants/<tenant_id>/credits",
    summary="Add funds to a tenant's balance",
    responses=answers(
        HTTPStatus.CREATED,
        "Credited",
        HTTPStatus.NOT_FOUND,
        HTTPStatus.CONFLICT,
        also={HTTPStatus.OK: "This reference was credited before"},
    ),
)
def credit_tenant(tenant_id: str, body: CreditBody) -> Response[EntryView]:
    principal(router, Permission.OPERATOR)
    entry, new = services().balances.credit(tenant_id, body.amount_micros, body.reference, body.note)
    status = HTTPStatus.CREATED if new else HTTPStatus.OK
    return Response(status_code=status.value, content_type="application/json", body=entry_view(entry))
