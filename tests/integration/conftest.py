"""The real handlers on moto (in-process), wired from the synthesized template like the local runtime."""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import moto  # import before creating clients, so they carry moto's hooks
import pytest
from moto.core.botocore_stubber import BotocoreStubber

from functions.dal.config import ConfigTable
from functions.dal.ledger import LedgerTable
from functions.handlers import sender as sender_handler
from functions.payments.providers import ProviderName
from functions.payments.simulator import shared_simulator
from infra.constants import (
    BULK_QUEUE_ID,
    FANOUT_QUEUE_ID,
    LIST_UPLOADS_QUEUE_ID,
    PREVIEW_QUEUE_ID,
    RECEIPTS_QUEUE_ID,
    SEND_QUEUE_ID,
)
from local import moto_fixes
from local.carrier import CARRIER_ENDPOINT_ENV, CarrierSimulator, SimulatorSettings, sns_publisher
from local.demo import DEMO_API_KEY, Demo, seed_demo, seed_demo_balance
from local.http_front import Gateway
from local.lambda_runtime import LocalFunction, QueuePoller
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


@dataclass
class Platform:
    topology: Topology
    provisioned: Provisioned
    functions: dict[str, LocalFunction]
    gateway: Gateway
    simulator: CarrierSimulator
    demo: Demo
    session: boto3.Session

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

    def run_senders_concurrently(
        self, until: Callable[[], bool], instances: int = 4, timeout: float = 30.0
    ) -> float:
        """Sender instances on both lanes at once, in real time, until ``until()``; the seconds it took."""
        stop = threading.Event()
        pollers = [
            self.poller(lane, "sender", stop=stop)
            for lane in (SEND_QUEUE_ID, BULK_QUEUE_ID)
            for _ in range(instances)
        ]
        threads = [threading.Thread(target=poller.run, daemon=True) for poller in pollers]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        try:
            while not until():
                assert time.monotonic() - started < timeout, "the senders did not finish in time"
                time.sleep(0.05)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        return time.monotonic() - started

    def run_senders(self, lanes: tuple[str, ...] = (SEND_QUEUE_ID, BULK_QUEUE_ID)) -> int:
        """Drain both send lanes through the sender, as Lambda's pollers would; returns the batches run.

        Messages put back with a delay (waiting for their slot) are not waited for.
        """
        pollers = [self.poller(lane, "sender") for lane in lanes]
        batches = 0
        while any([poller.poll_once() for poller in pollers]):
            batches += 1
        return batches

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
    # Serialized: a sender sends a batch's messages from several threads, and moto is not thread-safe.
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
        sender_handler.sender.cache_clear()  # its transport-code cache would outlive the test's data
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
        )
