"""A dispatcher's writes across tables: a batch's claim with its debit, and a batch's Sent records.

A message that fails after its claim (the carrier refused it for good, or its claim was left in
doubt past its validity) moves to Failed in the same transaction as its refund, so no fault between
two writes can leave it final and still paid for.

A claim is one TransactWriteItems call: the lease check (the claimer still holds its code), each
message's move (Pending and still ready -> In Progress; or -> Insufficient funds / Failed), the
balance's conditional update by the batch's total and one ledger entry per paid message. So a
message is claimed exactly when it is paid for, the entries always sum to the balance, and a
dispatcher that lost its lease claims nothing. Up to 10 messages: 1 + 10 + 1 + 10 = 22 items,
within DynamoDB's 100.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from functions.dal.leases import Lease, LeasesTable
from functions.dal.ledger import DebitResult, LedgerTable
from functions.dal.messages import (
    CONDITION_FAILED,
    TRANSACTION_CONFLICT,
    MessagesTable,
    StatusMove,
    cancellation_reasons,
)
from functions.domain.ledger import AutoBuy, Balance, LedgerEntry, PendingPurchase, debit_id

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


@dataclass(frozen=True)
class BatchDebit:
    tenant_id: str
    entries: list[LedgerEntry]
    seen: AutoBuy
    arm: PendingPurchase | None = None
    exact_balance: int | None = None  # set when part of the batch was refused for want of funds


class FailResult(StrEnum):
    REFUNDED = "refunded"  # Failed, and its debit given back
    FAILED = "failed"  # Failed; nothing to give back (never debited, or refunded already)
    NOT_MOVED = "not_moved"  # no longer as the move expects (someone else moved it): left as it is
    CONFLICT = "conflict"  # another transaction held an item: try again


class CommitResult(StrEnum):
    COMMITTED = "committed"
    STALE = "stale"  # some messages were no longer as read: ``stale`` names them
    REFUSED = "refused"  # the balance was not what the plan assumed: ``balance`` is what it is
    CONFLICT = "conflict"  # another transaction held an item: try again
    LEASE_LOST = "lease_lost"


@dataclass
class Commit:
    result: CommitResult
    stale: set[str] = field(default_factory=set)
    balance: Balance | None = None


class FailureWriter:
    """A debited message's move to Failed and its refund, in one transaction."""

    def __init__(self, messages: MessagesTable, ledger: LedgerTable) -> None:
        self._messages = messages
        self._ledger = ledger
        self._client: DynamoDBClient = messages.client

    def fail_refunded(self, move: StatusMove, refund: LedgerEntry) -> FailResult:
        """The move to Failed and the refund of its debit, in one transaction (the move alone when
        there is no debit to give back)."""
        items = [
            self._messages.transaction_item(move),
            *self._ledger.refund_items(refund, debit_id(move.message_id)),
        ]
        try:
            self._client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
        except ClientError as error:
            reasons = cancellation_reasons(error)
            if reasons is None or len(reasons) != len(items):
                raise
            if reasons[0] == CONDITION_FAILED:
                return FailResult.NOT_MOVED
            if reasons[1] == CONDITION_FAILED or reasons[3] == CONDITION_FAILED:
                moved = self._messages.write_alone(move)
                return FailResult.FAILED if moved else FailResult.NOT_MOVED
            if TRANSACTION_CONFLICT in reasons:
                return FailResult.CONFLICT
            raise
        return FailResult.REFUNDED

    def fail(self, move: StatusMove) -> bool:
        """The move alone (nothing was paid); whether it applied."""
        return self._messages.write_alone(move)


class ClaimsWriter:
    def __init__(self, messages: MessagesTable, ledger: LedgerTable, leases: LeasesTable) -> None:
        self._messages = messages
        self._ledger = ledger
        self._leases = leases
        self._client: DynamoDBClient = messages.client
        self.failures = FailureWriter(messages, ledger)

    def claim(self, lease: Lease, now_ms: int, moves: list[StatusMove], debit: BatchDebit | None) -> Commit:
        items: list[dict[str, Any]] = [self._leases.check_item(lease, now_ms)]
        items += [self._messages.transaction_item(move) for move in moves]
        offset = len(items)
        if debit is not None and debit.entries:
            items += self._ledger.debit_items(
                debit.tenant_id, debit.entries, debit.seen, debit.arm, debit.exact_balance
            )
        try:
            self._client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
        except ClientError as error:
            reasons = cancellation_reasons(error)
            if reasons is None:
                raise
            if reasons[0] == CONDITION_FAILED:
                return Commit(CommitResult.LEASE_LOST)
            stale = {
                move.message_id
                for move, reason in zip(moves, reasons[1:offset], strict=True)
                if reason == CONDITION_FAILED
            }
            if stale:
                return Commit(CommitResult.STALE, stale=stale)
            if debit is not None and debit.entries:
                attempt = self._ledger.debit_refusal(error, debit.tenant_id, offset, len(debit.entries))
                if attempt is not None and attempt.result is DebitResult.REFUSED:
                    return Commit(CommitResult.REFUSED, balance=attempt.current)
                if attempt is not None and attempt.result is DebitResult.ALREADY_DEBITED:
                    # The entry exists though the message did not say so: read the messages again.
                    return Commit(CommitResult.STALE, stale={move.message_id for move in moves})
            if TRANSACTION_CONFLICT in reasons:
                return Commit(CommitResult.CONFLICT)
            raise
        return Commit(CommitResult.COMMITTED)

    def record(self, moves: list[StatusMove]) -> set[str]:
        """Apply the moves in one transaction; the ids whose condition failed (they are left as they are).

        A receipt may have moved a message on before its Sent record: that one is dropped and the
        rest are written.
        """
        return self._messages.write_together(list(moves))
