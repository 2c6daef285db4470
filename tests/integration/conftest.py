"""The real handlers on moto (in-process), wired from the synthesized template like the local runtime."""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import moto  # import before creating clients, so they carry moto's hooks
import pytest

from functions.dal.config import ConfigTable
from functions.dal.ledger import LedgerTable
from functions.payments.providers import ProviderName
from functions.payments.simulator import shared_simulator
from infra.constants import FANOUT_QUEUE_ID, RECEIPTS_QUEUE_ID, SEND_QUEUE_ID
from local.carrier import CarrierSimulator, SimulatorSettings, sns_publisher
from local.demo import DEMO_API_KEY, Demo, seed_demo, seed_demo_balance
from local.http_front import Gateway
from local.lambda_runtime import LocalFunction, QueuePoller
from local.provision import Provisioned, event_destinations, provision, shared_environment
from local.template import load_template
from local.topology import Topology, read_topology


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

    def poller(self, construct_id: str, module: str, batch_size: int = 10) -> QueuePoller:
        lid = self.queue_id(construct_id)
        return QueuePoller(
            self.session.client("sqs"),
            self.provisioned.queue_urls[lid],
            self.provisioned.arns[lid],
            self.function(module),
            batch_size,
            True,
            threading.Event(),
        )

    def run_senders(self) -> int:
        """Drain the send queue through the sender, as Lambda's poller would; returns the batches run."""
        poller = self.poller(SEND_QUEUE_ID, "sender")
        batches = 0
        while poller.poll_once():
            batches += 1
        return batches

    def run_fanout(self) -> int:
        poller = self.poller(FANOUT_QUEUE_ID, "fanout", batch_size=1)
        steps = 0
        while poller.poll_once():
            steps += 1
        return steps

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
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def table(self, env_name: str) -> Any:
        return self.session.resource("dynamodb").Table(os.environ[env_name])


@pytest.fixture(scope="session")
def topology() -> Topology:
    return read_topology(load_template())


@pytest.fixture(scope="session")
def simulator() -> Iterator[CarrierSimulator]:
    simulator = CarrierSimulator(SimulatorSettings(receipt_delay_seconds=0.0))
    simulator.install()
    yield simulator
    simulator.uninstall()


@pytest.fixture(scope="session")
def session(simulator: CarrierSimulator) -> boto3.Session:
    return boto3.Session()


@pytest.fixture
def platform(topology: Topology, session: boto3.Session, simulator: CarrierSimulator) -> Iterator[Platform]:
    with moto.mock_aws():
        clients = session.client("dynamodb"), session.client("sqs"), session.client("sns")
        provisioned = provision(topology, *clients)
        os.environ.update(shared_environment(topology, provisioned))
        os.environ["PAYMENT_PROVIDER"] = ProviderName.SIMULATOR.value  # as the local runtime does
        shared_simulator().reset()
        simulator.reset()
        simulator.settings = SimulatorSettings(receipt_delay_seconds=0.0)
        simulator.connect(event_destinations(topology, provisioned), sns_publisher(clients[2]))
        functions = {lid: LocalFunction(spec) for lid, spec in topology.functions.items()}
        demo = seed_demo(ConfigTable(session.resource("dynamodb").Table(os.environ["CONFIG_TABLE"])))
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
