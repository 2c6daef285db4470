"""Many dispatchers at once against in-process moto, with moto's request handling serialized.

moto is not thread-safe: two concurrent conditional writes can both pass their conditions. The
lock around moto's botocore hook makes each request atomic, as a real DynamoDB item is (the
local runtime's moto server does the same around its dispatcher).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import boto3
from moto.core.botocore_stubber import BotocoreStubber

from functions.carriers.aws_sms import AwsSmsCarrier
from functions.dal.claims import ClaimsWriter
from functions.dal.config import ConfigTable
from functions.dal.jobs import JobsTable
from functions.dal.leases import LeasesTable
from functions.dal.ledger import LedgerTable
from functions.dal.messages import MessagesTable
from functions.dal.opt_outs import OptOutsTable
from functions.logic.dispatch import Dispatcher, DispatchSettings
from functions.logic.ledger import AutoBuyer, LedgerWallet
from functions.payments.base import PaymentProvider

TABLES = (
    "LEDGER_TABLE", "MESSAGES_TABLE", "JOBS_TABLE", "SMS_CONFIGURATION_SET", "LEASES_TABLE",
    "CONFIG_TABLE", "OPT_OUTS_TABLE",
)  # fmt: skip
# Quick to end once nothing is ready: a test waits for its dispatchers.
TEST_DISPATCH = DispatchSettings(idle_seconds=0.05, poll_seconds=(0.02, 0.05))


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


def independent_dispatcher(
    code: str, tables: dict[str, str], provider: PaymentProvider, holder: str | None = None, **wallet: Any
) -> Dispatcher:
    """A dispatcher as one Lambda invocation has it: its own boto3 clients, caches and wallet."""
    session = boto3.Session()
    dynamodb = session.resource("dynamodb")
    ledger = LedgerTable(dynamodb.Table(tables["LEDGER_TABLE"]))
    messages = MessagesTable(dynamodb.Table(tables["MESSAGES_TABLE"]))
    leases = LeasesTable(dynamodb.Table(tables["LEASES_TABLE"]))
    return Dispatcher(
        code,
        messages,
        leases,
        ClaimsWriter(messages, ledger, leases),
        ConfigTable(dynamodb.Table(tables["CONFIG_TABLE"])),
        JobsTable(dynamodb.Table(tables["JOBS_TABLE"])),
        OptOutsTable(dynamodb.Table(tables["OPT_OUTS_TABLE"])),
        LedgerWallet(ledger, AutoBuyer(ledger, provider), **wallet),
        AwsSmsCarrier(session.client("pinpoint-sms-voice-v2"), tables.get("SMS_CONFIGURATION_SET"), 3600),
        replace(TEST_DISPATCH),
        holder=holder,
    )
