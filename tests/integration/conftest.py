"""The real handlers on moto (in-process), wired from the synthesized template like the local runtime."""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import boto3
import moto  # import before creating clients, so they carry moto's hooks
import pytest
from moto.core.botocore_stubber import BotocoreStubber

from functions.dal.config import ConfigTable
from functions.dal.ledger import LedgerTable
from functions.dal.messages import MessagesTable
from functions.handlers import dispatcher as dispatcher_handler
from functions.integrations import dispatcher_invoker
from functions.logic.dispatch import Dispatcher
from functions.payments.providers import ProviderName
from functions.payments.simulator import shared_simulator
from infra.constants import (
    FANOUT_QUEUE_ID,
    LIST_UPLOADS_QUEUE_ID,
    PREVIEW_QUEUE_ID,
    RECEIPTS_QUEUE_ID,
)
from local import moto_fixes
from local.carrier import CARRIER_ENDPOINT_ENV, CarrierSimulator, SimulatorSettings, sns_publisher
from local.demo import DEMO_API_KEY, Demo, seed_demo, seed_demo_balance
from local.http_front import Gateway
from local.lambda_runtime import LocalContext, LocalFunction, QueuePoller
from local.provision import Provisioned, event_destinations, inbound_topic, provision, shared_environment
from local.template import load_template
from local.topology import Topology, read_topology


@contextmanager
def serialized_moto() -> Iterator[None]:
    """One request at a time through moto, as a real DynamoDB item serializes its writes."""
    lock = threading.RLock()
    original = BotocoreStubber.__call__

    def locked(self: BotocoreStubber, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return original(self, *args, **kwargs)

    BotocoreStubber.__call__ = locked  # type: ignore[method-assign]
    try:
        yield
    finally:
        BotocoreStubber.__call__ = original  # type: ignore[method-assign]


class RecordedStarts:
    """The dispatcher invoker in tests: records which codes a kick, the schedule or a hand-over started."""

    def __init__(self) -> None:
        self.codes: list[str] = []

    def start(self, code: str) -> None:
        self.codes.append(code)


@dataclass
class Platform:
    topology: Topology
    provisioned: Provisioned
    functions: dict[str, LocalFunction]
    gateway: Gateway
    simulator: CarrierSimulator
    demo: Demo
    session: boto3.Session
    started: RecordedStarts

    def function(self, module: str) -> LocalFunction:
        (found,) = [
            f
            for f in self.functions.values()
            if f.spec.handler == f"functions.handlers.{module}.lambda_handler"
        ]
        return found

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        key: str | None = DEMO_API_KEY,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        all_headers = {"content-type": "application/json", **(headers or {})}
        if key is not None:
            all_headers["authorization"] = f"Bearer {key}"
        raw = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else b"")
        status, _, payload = self.gateway.handle(method, path, all_headers, raw)
        return status, json.loads(payload) if payload else None

    def send(self, path: str, body: Any, key: str = DEMO_API_KEY) -> dict[str, Any]:
        """POST a send that must yield exactly one message; that message."""
        status, result = self.call("POST", path, body, key=key)
        assert status == 202, result
        (message,) = result["messages"]
        return message

    def queue_id(self, construct_id: str) -> str:
        """The logical id of the queue whose construct id is ``construct_id`` (infra.constants)."""
        (lid,) = [lid for lid in self.provisioned.queue_urls if construct_id in lid]
        return lid

    def queue_url(self, construct_id: str) -> str:
        return self.provisioned.queue_urls[self.queue_id(construct_id)]

    def poller(
        self, construct_id: str, module: str, batch_size: int = 10, stop: threading.Event | None = None
    ) -> QueuePoller:
        lid = self.queue_id(construct_id)
        return QueuePoller(
            self.session.client("sqs"),
            self.provisioned.queue_urls[lid],
            self.provisioned.arns[lid],
            self.function(module),
            batch_size,
            True,
            stop or threading.Event(),
        )

    def codes(self) -> list[str]:
        """Every transport code in the registry."""
        return [code.number for code in ConfigTable(self.table("CONFIG_TABLE")).list_transport_codes()]

    def messages(self) -> MessagesTable:
        return MessagesTable(self.table("MESSAGES_TABLE"))

    def ready_count(self, code: str | None = None) -> int:
        """Messages ready to send (on the ready index), of one code or of every code."""
        codes = [code] if code else self.codes()
        return sum(self.messages().ready_count(number, up_to=10_000) for number in codes)

    def dispatcher(
        self, code: str | None = None, remaining_ms: Callable[[], int] | None = None, **settings: Any
    ) -> Dispatcher:
        """A dispatcher of ``code`` (the demo number) as the dispatcher function builds it.

        ``remaining_ms`` plays the invocation's time left (its hand-over); ``settings`` replace its own.
        """
        context: Any = LocalContext("dispatcher", 256, "arn:local", "test", time.monotonic() + 900)
        if remaining_ms is not None:
            context.get_remaining_time_in_millis = remaining_ms
        built = dispatcher_handler.dispatcher(code or self.demo.sending_number, context)
        if settings:
            built.settings = replace(built.settings, **settings)
        return built

    def run_dispatchers(self, timeout: float = 60.0) -> int:
        """Run each code's dispatcher function in turn, as kicks would, until no code has a ready message
        (or a round sends none). Each ends once it finds nothing more to claim; returns how many ran."""
        runs = 0
        started = time.monotonic()
        before = self.ready_count()
        while before:
            busy = [code for code in self.codes() if self.messages().ready_count(code, up_to=1)]
            for code in busy:
                self.function("dispatcher").invoke({"code": code})  # as an asynchronous invoke would
                runs += 1
            after = self.ready_count()
            if after == before:
                return runs  # what is left cannot go now (a spent daily cap)
            before = after
            assert time.monotonic() - started < timeout, "the dispatchers did not drain the ready index"
        return runs

    def run_fanout(self) -> int:
        poller = self.poller(FANOUT_QUEUE_ID, "fanout", batch_size=1)
        steps = 0
        while poller.poll_once():
            steps += 1
        return steps

    def run_previews(self) -> int:
        """Drain the preview queue once through the preview function (delayed items are not waited for)."""
        poller = self.poller(PREVIEW_QUEUE_ID, "preview", batch_size=1)
        steps = 0
        while poller.poll_once():
            steps += 1
        return steps

    def run_uploads(self) -> int:
        """Drain the uploads queue (the lists bucket's arrivals) through the validation function."""
        poller = self.poller(LIST_UPLOADS_QUEUE_ID, "list_uploads", batch_size=1)
        steps = 0
        while poller.poll_once():
            steps += 1
        return steps

    def settle(self, path: str, timeout: float = 20.0) -> dict[str, Any]:
        """GET a job until no computation of its preview runs (the preview queue drained meanwhile)."""
        deadline = time.monotonic() + timeout
        while True:
            self.run_uploads()
            self.run_previews()
            status, job = self.call("GET", path)
            assert status == 200, job
            if job["status"] not in {"validating", "previewing", "confirming", "starting"}:
                return job
            assert time.monotonic() < deadline, f"the job stayed {job['status']}"
            time.sleep(0.2)

    def deliver_receipts(self) -> int:
        self.simulator.pump(now=math.inf)
        poller = self.poller(RECEIPTS_QUEUE_ID, "receipts")
        batches = 0
        while poller.poll_once():
            batches += 1
        return batches

    def queue_depth(self, construct_id: str) -> int:
        attributes = self.session.client("sqs").get_queue_attributes(
            QueueUrl=self.queue_url(construct_id),
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return sum(int(count) for count in attributes.values())

    def table(self, env_name: str) -> Any:
        return self.session.resource("dynamodb").Table(os.environ[env_name])


@pytest.fixture(scope="session", autouse=True)
def _moto_fixes() -> None:
    moto_fixes.apply()  # as the local runtime runs moto


@pytest.fixture(scope="session")
def topology() -> Topology:
    return read_topology(load_template())


@pytest.fixture(scope="session")
def simulator() -> Iterator[CarrierSimulator]:
    simulator = CarrierSimulator(SimulatorSettings(receipt_delay_seconds=0.0))
    # Over HTTP, as the local runtime serves it: moto passes requests to 127.0.0.1 through.
    os.environ[CARRIER_ENDPOINT_ENV] = simulator.serve()
    yield simulator
    simulator.shutdown()
    os.environ.pop(CARRIER_ENDPOINT_ENV, None)


@pytest.fixture(scope="session")
def session(simulator: CarrierSimulator) -> boto3.Session:
    return boto3.Session()


@pytest.fixture
def platform(topology: Topology, session: boto3.Session, simulator: CarrierSimulator) -> Iterator[Platform]:
    # Serialized: a dispatcher sends from several threads, and moto is not thread-safe.
    with moto.mock_aws(), serialized_moto():
        clients = session.client("dynamodb"), session.client("sqs"), session.client("sns")
        provisioned = provision(topology, *clients)
        os.environ.update(shared_environment(topology, provisioned))
        os.environ["PAYMENT_PROVIDER"] = ProviderName.SIMULATOR.value  # as the local runtime does
        os.environ["REPLY_WEBHOOK_ALLOW_LOOPBACK"] = "true"  # reply webhooks to a local test server
        shared_simulator().reset()
        simulator.reset()
        simulator.settings = SimulatorSettings(receipt_delay_seconds=0.0)
        simulator.connect(
            event_destinations(topology, provisioned),
            sns_publisher(clients[2]),
            inbound_topic(topology, provisioned),
        )
        functions = {lid: LocalFunction(spec) for lid, spec in topology.functions.items()}
        # Dispatchers end as soon as nothing is ready; their balance views must not outlive the test.
        os.environ["DISPATCH_IDLE_SECONDS"] = "0.05"
        dispatcher_handler.reset()
        started = RecordedStarts()
        dispatcher_invoker.use(started)
        demo = seed_demo(ConfigTable(session.resource("dynamodb").Table(os.environ["CONFIG_TABLE"])))
        simulator.match_codes({code.number: float(code.parts_per_second) for code in demo.transport_codes})
        seed_demo_balance(LedgerTable(session.resource("dynamodb").Table(os.environ["LEDGER_TABLE"])))
        yield Platform(
            topology=topology,
            provisioned=provisioned,
            functions=functions,
            gateway=Gateway(topology, functions),
            simulator=simulator,
            demo=demo,
            session=session,
            started=started,
        )
        dispatcher_invoker.use(None)
