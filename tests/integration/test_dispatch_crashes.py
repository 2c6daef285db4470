"""A dispatcher that dies mid-batch: no message sent twice, none lost, none charged for nothing.

A process kill cannot run in one interpreter, so the dying dispatcher is played: at its n-th carrier
call it stops dead (before or after the carrier took the message), and from then on does nothing at
all: no Sent records, no hand-back, no lease release, exactly what a killed process leaves.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError

from functions.carriers.base import CarrierRejected, OutboundSms
from functions.dal.leases import LeasesTable
from functions.dal.opt_outs import GLOBAL_SCOPE, OptOut, OptOutsTable
from functions.domain.ledger import EntryKind
from functions.domain.messages import RejectReason
from functions.logic.dispatch import Dispatcher
from functions.payments.simulator import shared_simulator
from local.demo import DEMO_OPENING_BALANCE_MICROS, OPERATOR_API_KEY
from tests.integration.balances import (
    balance,
    dispatcher_tables,
    entries,
    of_kind,
    queue_messages,
    statuses,
)
from tests.integration.concurrency import independent_dispatcher
from tests.integration.conftest import Platform


class Killed(BaseException):
    """The process died (a BaseException: nothing in the dispatcher handles it)."""


class DiesAtCall:
    """A carrier whose n-th call kills its dispatcher, before or after the real carrier took the message."""

    def __init__(self, inner, dies_at: int, after_send: bool) -> None:
        self._inner = inner
        self._calls = 0
        self._dies_at = dies_at
        self._after_send = after_send
        self.dead = False

    def send(self, sms: OutboundSms) -> str:
        self._calls += 1
        if self.dead:
            raise Killed
        if self._calls == self._dies_at:
            self.dead = True
            if self._after_send:
                self._inner.send(sms)
            raise Killed
        return self._inner.send(sms)


def dying(dispatcher: Dispatcher, carrier: DiesAtCall) -> Dispatcher:
    """From the carrier's kill on, the dispatcher does nothing more, not even its clean-up."""
    dispatcher._carrier = carrier
    for name in ("_flush_sent", "_hand_back", "_reconcile"):
        original = getattr(dispatcher, name)
        setattr(dispatcher, name, _unless_dead(carrier, original))
    settle = dispatcher._settle_results

    def settle_or_die() -> None:  # the control loop's every round: where the dead process stops
        if carrier.dead:
            raise Killed
        settle()

    dispatcher._settle_results = settle_or_die  # type: ignore[method-assign]
    leases = dispatcher._leases
    release, renew = leases.release, leases.renew
    leases.release = _unless_dead(carrier, release)  # type: ignore[method-assign]

    def renew_or_die(*args, **kwargs):
        if carrier.dead:
            raise Killed
        return renew(*args, **kwargs)

    leases.renew = renew_or_die  # type: ignore[method-assign]
    return dispatcher


def _unless_dead(carrier: DiesAtCall, call):
    def guarded(*args, **kwargs):
        if not carrier.dead:
            return call(*args, **kwargs)
        return None

    return guarded


def crash_then_recover(platform: Platform, dies_at: int, after_send: bool) -> list[str]:
    ids = queue_messages(platform, 5)
    doomed = independent_dispatcher(platform.demo.sending_number, dispatcher_tables(), shared_simulator())
    doomed.settings = replace(doomed.settings, lease_seconds=1.0, renew_seconds=0.3)
    dying(doomed, DiesAtCall(doomed._carrier, dies_at, after_send))
    with contextlib.suppress(Killed):
        doomed.run()
    # What reached the carrier is delivered (its receipts come), while the dead lease runs out.
    platform.deliver_receipts()
    time.sleep(1.1)
    heir = independent_dispatcher(platform.demo.sending_number, dispatcher_tables(), shared_simulator())
    heir.settings = replace(heir.settings, receipt_wait=timedelta(seconds=0.2), reconcile_seconds=0.1)
    report = heir.run()
    assert report.started
    platform.deliver_receipts()
    return ids


def test_killed_between_claim_and_send_none_twice_none_lost(platform: Platform):
    # GIVEN a batch of 5 claimed and paid, and a dispatcher that dies just before its third call
    ids = crash_then_recover(platform, dies_at=3, after_send=False)

    # THEN the next holder found the unsent claims in flight, waited for receipts that never came,
    # and sent them: every message reached the carrier exactly once, and was paid once
    reached = sorted(record.context["message_id"] for record in platform.simulator.records)
    assert reached == sorted(ids)
    assert statuses(platform, ids) == {"Delivered": 5}
    debits = of_kind(entries(platform), EntryKind.DEBIT)
    assert sorted(entry.message_id for entry in debits) == sorted(ids)
    assert sum(entry.amount_micros for entry in entries(platform)) == balance(platform).balance_micros


def test_killed_between_send_and_sent_none_twice_none_lost(platform: Platform):
    # GIVEN a dispatcher that dies right after the carrier took its third message (no Sent recorded
    # for it, nor for the two before it)
    ids = crash_then_recover(platform, dies_at=3, after_send=True)

    # THEN the receipts settled the three the carrier had, and the next holder sent only the others
    reached = sorted(record.context["message_id"] for record in platform.simulator.records)
    assert reached == sorted(ids)
    assert statuses(platform, ids) == {"Delivered": 5}
    assert len(of_kind(entries(platform), EntryKind.DEBIT)) == 5
    assert of_kind(entries(platform), EntryKind.REFUND) == []


def test_a_message_whose_call_keeps_failing_never_takes_its_batch_with_it(platform: Platform):
    # GIVEN a batch in which one message's carrier call always fails unexpectedly
    ids = queue_messages(platform, 4)
    poisoned = ids[1]
    dispatcher = independent_dispatcher(platform.demo.sending_number, dispatcher_tables(), shared_simulator())
    dispatcher.settings = replace(
        dispatcher.settings, receipt_wait=timedelta(seconds=0.1), reconcile_seconds=0.05
    )
    inner = dispatcher._carrier

    class Fails:
        def send(self, sms: OutboundSms) -> str:
            if sms.message_id == poisoned:
                raise RuntimeError("boom")
            return inner.send(sms)

    dispatcher._carrier = Fails()

    # WHEN it runs
    dispatcher.run()

    # THEN the others went; the failing one was tried again (no receipt ever came for it), then
    # ended Failed with a reason, refunded: no debited message is left without a final status
    sent = sorted(record.context["message_id"] for record in platform.simulator.records)
    assert sent == sorted(set(ids) - {poisoned})
    _, failed = platform.call("GET", f"/v1/messages/{poisoned}")
    assert (failed["status"], failed["reject_reason"]) == ("Failed", "unknown")
    (refund,) = of_kind(entries(platform), EntryKind.REFUND)
    assert refund.message_id == poisoned
    assert balance(platform).balance_micros == DEMO_OPENING_BALANCE_MICROS - 3 * 8_500
    assert platform.ready_count() == 0


def test_a_message_handed_back_to_be_sent_again_goes_in_the_same_run(platform: Platform):
    # GIVEN a dispatcher whose ready reads back off to half a second, whose idle time is far
    # shorter, and a message whose first carrier call fails unexpectedly (its outcome unknown)
    (message_id,) = queue_messages(platform, 1)
    dispatcher = independent_dispatcher(platform.demo.sending_number, dispatcher_tables(), shared_simulator())
    dispatcher.settings = replace(
        dispatcher.settings,
        receipt_wait=timedelta(seconds=0.1),
        reconcile_seconds=0.05,
        poll_seconds=(0.5, 0.5),
        idle_seconds=0.05,
    )
    inner = dispatcher._carrier
    calls: list[str] = []

    class FailsOnce:
        def send(self, sms: OutboundSms) -> str:
            calls.append(sms.message_id)
            if len(calls) == 1:
                raise RuntimeError("boom")
            return inner.send(sms)

    dispatcher._carrier = FailsOnce()

    # WHEN it runs, and no receipt comes for the failed call
    dispatcher.run()

    # THEN the message it handed back to be sent again was read at once and sent in the same run
    assert calls == [message_id, message_id]
    assert [record.context["message_id"] for record in platform.simulator.records] == [message_id]
    _, sent = platform.call("GET", f"/v1/messages/{message_id}")
    assert sent["status"] == "Sent"
    assert platform.ready_count() == 0


def _run_in_thread(dispatcher: Dispatcher) -> threading.Thread:
    runner = threading.Thread(target=dispatcher.run, daemon=True)
    runner.start()
    return runner


def test_a_call_in_doubt_that_its_receipt_settles_leaves_the_dispatcher_free_to_end(platform: Platform):
    # GIVEN a message the carrier took, whose call still ended in doubt (a read timeout), and whose
    # delivery event then came: it is Delivered, off the in-flight index
    (message_id,) = queue_messages(platform, 1)
    dispatcher = independent_dispatcher(platform.demo.sending_number, dispatcher_tables(), shared_simulator())
    dispatcher.settings = replace(
        dispatcher.settings, receipt_wait=timedelta(minutes=5), reconcile_seconds=0.05, idle_seconds=0.2
    )
    inner = dispatcher._carrier

    class TakenThenTimesOut:
        def send(self, sms: OutboundSms) -> str:
            inner.send(sms)
            platform.deliver_receipts()
            raise RuntimeError("read timeout")

    dispatcher._carrier = TakenThenTimesOut()

    # WHEN it runs
    runner = _run_in_thread(dispatcher)
    runner.join(10.0)

    # THEN nothing is left to settle: it ended (lease released), well before the receipt wait, and
    # the message was sent once
    assert not runner.is_alive()
    assert statuses(platform, [message_id]) == {"Delivered": 1}
    assert [record.context["message_id"] for record in platform.simulator.records] == [message_id]
    lease = LeasesTable(platform.table("LEASES_TABLE")).get(platform.demo.sending_number)
    assert lease is not None
    assert lease.expires_at_ms == 0


def test_a_claim_still_in_doubt_at_the_time_limit_is_left_to_the_next_holder(platform: Platform):
    # GIVEN a message whose call ended in doubt and for which no receipt came (the receipt wait is
    # far longer than the time the dispatcher has left)
    (message_id,) = queue_messages(platform, 1)
    dispatcher = independent_dispatcher(platform.demo.sending_number, dispatcher_tables(), shared_simulator())
    dispatcher.settings = replace(
        dispatcher.settings, receipt_wait=timedelta(minutes=5), reconcile_seconds=0.05
    )
    remaining = {"ms": 900_000}
    dispatcher._remaining_ms = lambda: remaining["ms"]

    class TimesOut:
        def send(self, sms: OutboundSms) -> str:
            raise RuntimeError("read timeout")

    dispatcher._carrier = TimesOut()
    runner = _run_in_thread(dispatcher)
    deadline = time.monotonic() + 10
    while not dispatcher._unsettled and time.monotonic() < deadline:
        time.sleep(0.02)
    assert dispatcher._unsettled == {message_id}

    # WHEN its time runs short
    remaining["ms"] = 5_000
    runner.join(10.0)

    # THEN it hands over (the claim stays In Progress for the next holder to reconcile), not waits
    # until it is killed
    assert not runner.is_alive()
    assert dispatcher.report.handed_over
    assert statuses(platform, [message_id]) == {"In Progress": 1}


def test_a_carrier_refusal_whose_failure_cannot_be_written_is_never_left_failed_and_unrefunded(
    platform: Platform,
):
    # GIVEN three messages, one of which the carrier refuses for good, and a store that refuses the
    # write of that message's failure and refund once (throttled)
    ids = queue_messages(platform, 3)
    refused = ids[0]
    dispatcher = independent_dispatcher(platform.demo.sending_number, dispatcher_tables(), shared_simulator())
    inner = dispatcher._carrier

    class Refuses:
        def send(self, sms: OutboundSms) -> str:
            if sms.message_id == refused:
                raise CarrierRejected(RejectReason.CARRIER_REJECTED, "ValidationException: refused")
            return inner.send(sms)

    dispatcher._carrier = Refuses()
    failures = dispatcher._claims.failures
    real = failures.fail_refunded

    def throttled_once(*args, **kwargs):
        failures.fail_refunded = real  # type: ignore[method-assign]
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "TransactWriteItems")

    failures.fail_refunded = throttled_once  # type: ignore[method-assign]

    # WHEN it runs (and ends on the fault), and a later holder of the code settles what it left
    with contextlib.suppress(ClientError):
        dispatcher.run()
    assert statuses(platform, [refused]) == {"In Progress": 1}  # not Failed without its refund
    heir = independent_dispatcher(platform.demo.sending_number, dispatcher_tables(), shared_simulator())
    heir._carrier = Refuses()
    heir.settings = replace(heir.settings, receipt_wait=timedelta(seconds=0), reconcile_seconds=0.05)
    heir.run()

    # THEN the refused message ended Failed and refunded, once; the others were paid and sent
    _, failed = platform.call("GET", f"/v1/messages/{refused}")
    assert (failed["status"], failed["reject_reason"]) == ("Failed", "carrier rejected")
    (refund,) = of_kind(entries(platform), EntryKind.REFUND)
    assert refund.message_id == refused
    assert balance(platform).balance_micros == DEMO_OPENING_BALANCE_MICROS - 2 * 8_500
    assert sum(entry.amount_micros for entry in entries(platform)) == balance(platform).balance_micros


def test_a_dispatcher_that_cannot_renew_its_lease_stops_sending_before_it_ends(platform: Platform):
    # GIVEN a backlog on a slow code, and a dispatcher whose lease renewals all fail (its store is
    # unreachable while the carrier is not); the lease lasts 3 s
    platform.call("PUT", f"/v1/operator/transport-codes/{platform.demo.sending_number}",
                  {"parts_per_second": 2, "tenant_ids": ["demo-isp"]}, key=OPERATOR_API_KEY)  # fmt: skip
    platform.simulator.settings.parts_per_second[platform.demo.sending_number] = 2
    ids = queue_messages(platform, 10)
    dispatcher = independent_dispatcher(platform.demo.sending_number, dispatcher_tables(), shared_simulator())
    dispatcher.settings = replace(dispatcher.settings, lease_seconds=3.0, renew_seconds=1.0)

    def unreachable(*args, **kwargs):
        raise ClientError({"Error": {"Code": "InternalServerError"}}, "UpdateItem")

    dispatcher._leases.renew = unreachable  # type: ignore[method-assign]
    started = time.time()

    # WHEN it runs
    report = dispatcher.run()

    # THEN it stopped sending before its lease could pass to another dispatcher
    assert report.lease_lost
    assert platform.simulator.records
    assert max(record.at for record in platform.simulator.records) < started + 3.0
    assert len(platform.simulator.records) < len(ids)

    # AND the next holder sends the rest: each message once
    time.sleep(3.0)
    heir = independent_dispatcher(platform.demo.sending_number, dispatcher_tables(), shared_simulator())
    heir.run()
    assert sorted(record.context["message_id"] for record in platform.simulator.records) == sorted(ids)


def test_a_paid_message_handed_back_then_refused_at_its_next_claim_is_refunded_once(platform: Platform):
    # GIVEN a message whose first call ended in doubt (so it was handed back to be sent again, its
    # debit kept), and whose number opted out meanwhile
    (message_id,) = queue_messages(platform, 1)
    dispatcher = independent_dispatcher(platform.demo.sending_number, dispatcher_tables(), shared_simulator())
    dispatcher.settings = replace(
        dispatcher.settings, receipt_wait=timedelta(seconds=0.1), reconcile_seconds=0.05, idle_seconds=0.3
    )

    class OptsOutThenFails:
        def send(self, sms: OutboundSms) -> str:
            OptOutsTable(platform.table("OPT_OUTS_TABLE")).add(
                OptOut(scope=GLOBAL_SCOPE, phone_number=sms.destination_number,
                       opted_out_at=datetime.now(UTC), source="keyword", actor="test")
            )  # fmt: skip
            raise RuntimeError("read timeout")

    dispatcher._carrier = OptsOutThenFails()

    # WHEN it runs: the next claim finds the opt-out
    dispatcher.run()

    # THEN the message is Failed (opted out) and its one debit given back, in the same write
    _, failed = platform.call("GET", f"/v1/messages/{message_id}")
    assert (failed["status"], failed["reject_reason"]) == ("Failed", "opted out")
    assert len(of_kind(entries(platform), EntryKind.DEBIT)) == 1
    (refund,) = of_kind(entries(platform), EntryKind.REFUND)
    assert refund.message_id == message_id
    assert balance(platform).balance_micros == DEMO_OPENING_BALANCE_MICROS
