"""Many senders at once against in-process moto, with moto's request handling serialized.

moto is not thread-safe: two concurrent conditional writes can both pass their conditions. The
lock around moto's botocore hook makes each request atomic, as a real DynamoDB item is (the
local runtime's moto server does the same around its dispatcher).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import boto3
from functions.dal.pacing import PacingTable
from functions.dal.send_queue import SendQueue, SendWork
from functions.domain.pacing import Lane
from functions.logic.pacer import Pacer
from functions.logic.send import RetryLater, Sender, SendOutcome
from moto.core.botocore_stubber import BotocoreStubber

from functions.carriers.aws_sms import AwsSmsCarrier
from functions.dal.config import ConfigTable
from functions.dal.jobs import JobsTable
from functions.dal.ledger import LedgerTable
from functions.dal.messages import MessagesTable
from functions.logic.ledger import AutoBuyer, LedgerWallet
from functions.payments.base import PaymentProvider


@contextmanager
def serialized_moto() -> Iterator[None]:
    lock = threading.Lock()
    original = BotocoreStubber.__call__

    def one_at_a_time(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
        with lock:
            return original(self, event_name, request, **kwargs)

    BotocoreStubber.__call__ = one_at_a_time  # type: ignore[method-assign]
    try:
        yield
    finally:
        BotocoreStubber.__call__ = original  # type: ignore[method-assign]


def independent_sender(tables: dict[str, str], provider: PaymentProvider, **wallet: Any) -> Sender:
    """A sender as one Lambda instance has it: its own boto3 clients, caches and wallet."""
    session = boto3.Session()
    dynamodb = session.resource("dynamodb")
    ledger = LedgerTable(dynamodb.Table(tables["LEDGER_TABLE"]))
    sqs = session.client("sqs")
    return Sender(
        MessagesTable(dynamodb.Table(tables["MESSAGES_TABLE"])),
        JobsTable(dynamodb.Table(tables["JOBS_TABLE"])),
        AwsSmsCarrier(session.client("pinpoint-sms-voice-v2"), tables.get("SMS_CONFIGURATION_SET"), 3600),
        LedgerWallet(ledger, AutoBuyer(ledger, provider), **wallet),
        Pacer(
            PacingTable(dynamodb.Table(tables["PACING_TABLE"])),
            ConfigTable(dynamodb.Table(tables["CONFIG_TABLE"])),
        ),
        {
            Lane.TRIGGERED: SendQueue(sqs, tables["SEND_QUEUE_URL"]),
            Lane.BULK: SendQueue(sqs, tables["BULK_QUEUE_URL"]),
        },
        lease=timedelta(seconds=60),
        validity=timedelta(hours=4),
    )


@dataclass
class RaceResult:
    outcomes: dict[SendOutcome, int] = field(default_factory=dict)
    retries: int = 0
    errors: list[BaseException] = field(default_factory=list)
    seconds: float = 0.0


def race(senders: list[Sender], work: list[SendWork]) -> RaceResult:
    """Every sender takes work from one shared queue at once, as concurrent Lambda instances would."""
    pending: queue.SimpleQueue[SendWork] = queue.SimpleQueue()
    for item in work:
        pending.put(item)
    result = RaceResult()
    tally = threading.Lock()
    start = threading.Barrier(len(senders))

    def run(sender: Sender) -> None:
        start.wait()
        while True:
            try:
                item = pending.get_nowait()
            except queue.Empty:
                return
            try:
                outcome = sender.process(item)
            except RetryLater:
                pending.put(item)  # SQS would redeliver it
                with tally:
                    result.retries += 1
                continue
            except Exception as error:  # a failed sender must fail the test, not vanish in its thread
                with tally:
                    result.errors.append(error)
                return
            with tally:
                result.outcomes[outcome] = result.outcomes.get(outcome, 0) + 1

    threads = [threading.Thread(target=run, args=(sender,)) for sender in senders]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)  # a guard against a hang; a busy machine may need minutes
    result.seconds = time.perf_counter() - began
    return result
