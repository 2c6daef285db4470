"""The whole service in one process: moto, the template's resources, the functions and the carrier."""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from functions.dal.config import ConfigTable
from functions.dal.ledger import LedgerTable
from functions.integrations import dispatcher_invoker
from functions.observability import logger as function_logger
from functions.payments.providers import ProviderName
from functions.payments.simulator import shared_simulator
from local.carrier import CARRIER_ENDPOINT_ENV, CarrierSimulator, SimulatorSettings, sns_publisher
from local.demo import Demo, seed_demo, seed_demo_balance
from local.demo_activity import DEMO_BLOCKED_NUMBER, DemoActivity
from local.http_front import Gateway, HttpFront
from local.lambda_runtime import LocalDispatcherInvoker, LocalFunction, QueuePoller, StreamPoller, Ticker
from local.moto_server import MotoServer
from local.provision import (
    REGION,
    Provisioned,
    allow_api_origin,
    event_destinations,
    inbound_topic,
    provision,
    shared_environment,
)
from local.template import load_template
from local.topology import Topology, read_topology

log = logging.getLogger("local")
SWITCH_INTERVAL_SECONDS = 0.001
GC_THRESHOLDS = (50_000, 20, 100)  # Python's: (700, 10, 10)
# Services the local runtime serves from moto; the carrier (pinpoint-sms-voice-v2) is not among them.
# DynamoDB, which takes most requests, has a moto server (a process) of its own; the others share
# one, as moto delivers from SNS and EventBridge to SQS inside a process.
MOTO_SERVICES = {
    "DYNAMODB": "tables",
    "DYNAMODB_STREAMS": "tables",
    "SQS": "messaging",
    "SNS": "messaging",
    "SCHEDULER": "messaging",
    "EVENTBRIDGE": "messaging",
    "SECRETS_MANAGER": "messaging",
    "S3": "messaging",  # with SQS: moto delivers a bucket's notifications to a queue in its process
}


@dataclass
class RuntimeSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    # Concurrent "Lambda instances" polling each queue, by handler module (receipts, inbound...); default 1.
    instances: dict[str, int] = field(default_factory=dict)
    tick_seconds: float | None = None  # default: each schedule's own rate
    max_batching_window_seconds: float | None = None  # default: each mapping's own window
    # "simulator": the carrier simulator over HTTP on 127.0.0.1; "aws": the real client as configured
    # (AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2 and the AWS credentials).
    carrier: str = "simulator"
    simulator: SimulatorSettings = field(default_factory=SimulatorSettings)
    function_log_level: str = "WARNING"
    demo_activity: bool = True  # send some messages and a mass message at start, for the console
    # Let the reply webhook post to this machine (plain http too), to try a receiver locally. Off, the
    # webhook's URL is checked as in AWS: a loopback host in any form is refused.
    allow_loopback_webhooks: bool = False


def _configure_environment(moto_urls: dict[str, str], settings: RuntimeSettings) -> None:
    os.environ.pop("AWS_ENDPOINT_URL", None)  # would send the carrier to moto too
    for service, server in MOTO_SERVICES.items():
        os.environ[f"AWS_ENDPOINT_URL_{service}"] = moto_urls[server]
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ["AWS_DEFAULT_REGION"] = REGION
    os.environ["AWS_REGION"] = REGION
    os.environ["POWERTOOLS_TRACE_DISABLED"] = "true"
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    os.environ["POWERTOOLS_DEV"] = "false"


class LocalRuntime:
    def __init__(self, settings: RuntimeSettings | None = None) -> None:
        self.settings = settings or RuntimeSettings()
        self.moto = {server: MotoServer() for server in set(MOTO_SERVICES.values())}
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.simulator: CarrierSimulator | None = None
        self.topology: Topology
        self.provisioned: Provisioned
        self.functions: dict[str, LocalFunction] = {}
        self.pollers: list[QueuePoller] = []
        self.stream_pollers: list[StreamPoller] = []
        self.dispatchers: LocalDispatcherInvoker
        self.tickers: list[Ticker] = []
        self.front: HttpFront
        self.demo: Demo

    def start(self) -> None:
        # Every function runs as threads of this process: a thread that wants the interpreter waits
        # at most this long for another to let go, so a dispatcher's timed send (and the carrier
        # simulator timing its arrival) is late by a millisecond, not by Python's default 5 ms a turn.
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
        with ThreadPoolExecutor() as pool:  # each takes a second to import moto
            list(pool.map(MotoServer.start, self.moto.values()))
        _configure_environment({name: server.url for name, server in self.moto.items()}, self.settings)
        self.topology = read_topology(load_template())
        if self.settings.carrier == "simulator":
            # Served over HTTP: the functions' real client reaches it through the endpoint setting.
            self.simulator = CarrierSimulator(self.settings.simulator)
            self.simulator.settings.fixed_outcomes.setdefault(DEMO_BLOCKED_NUMBER, "TEXT_BLOCKED")
            os.environ[CARRIER_ENDPOINT_ENV] = self.simulator.serve(self.settings.host)
        session = boto3.Session()
        # Every poller shares this SQS client: a connection each, as Lambda's pollers have.
        sqs = session.client("sqs", config=Config(max_pool_connections=100))
        dynamodb, sns = session.client("dynamodb"), session.client("sns")
        self.provisioned = provision(self.topology, dynamodb, sqs, sns)
        if self.simulator is not None:
            self.simulator.connect(
                event_destinations(self.topology, self.provisioned),
                sns_publisher(sns),
                inbound_topic(self.topology, self.provisioned),
            )
        self._export_function_environments()
        self.functions = {lid: LocalFunction(spec) for lid, spec in self.topology.functions.items()}
        self.demo = seed_demo(
            ConfigTable(session.resource("dynamodb").Table(self._table_env("CONFIG_TABLE")))
        )
        if self.simulator is not None:
            self.simulator.match_codes(
                {code.number: float(code.parts_per_second) for code in self.demo.transport_codes}
            )
        seed_demo_balance(LedgerTable(session.resource("dynamodb").Table(self._table_env("LEDGER_TABLE"))))
        self._start_dispatchers()
        self._start_pollers(sqs)
        self._start_stream_pollers(session.client("dynamodbstreams"), dynamodb)
        self._start_tickers()
        if self.simulator is not None:
            self._spawn("carrier-receipts", self._pump_receipts)
        gateway = Gateway(
            self.topology,
            self.functions,
            local_routes={
                "/_local/carrier/messages": self._carrier_messages,
                "/_local/payments/charges": self._payment_charges,
                "/_local/carrier/inbound": self._carrier_inbound,
            },
        )
        if self.settings.demo_activity and self.simulator is not None:  # never to a real carrier
            DemoActivity(gateway.handle).run()
        self.front = HttpFront(gateway, self.settings.host, self.settings.port)
        self.front.start()
        # Every function shares this one heap (on Lambda each has its own process): what start-up
        # made (boto3's models, moto's clients, the template) is kept out of the collector's full
        # passes, and those come seldom, so no thread here stops for a full collection of it.
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        # The console, served by the front, PUTs calling-list files to the bucket (moto's S3).
        allow_api_origin(session.client("s3"), self.topology, self.front.url)

    def stop(self) -> None:
        self.stop_event.set()
        self.front.stop()
        for thread in self.threads:
            thread.join(timeout=5)
        dispatcher_invoker.use(None)
        for server in self.moto.values():
            server.stop()
        if self.simulator is not None:
            self.simulator.shutdown()

    @property
    def url(self) -> str:
        return self.front.url

    # ---- wiring ----

    def _export_function_environments(self) -> None:
        merged = shared_environment(self.topology, self.provisioned)
        merged["POWERTOOLS_LOG_LEVEL"] = self.settings.function_log_level
        # There is no real payment provider: locally, purchases and auto-buys go to the simulator.
        merged["PAYMENT_PROVIDER"] = ProviderName.SIMULATOR.value
        # Reply webhooks may post to a server on this machine (plain http) only when asked for.
        merged["REPLY_WEBHOOK_ALLOW_LOOPBACK"] = str(self.settings.allow_loopback_webhooks).lower()
        os.environ.update(merged)
        # The functions' one logger was made when this process imported them, before the setting.
        function_logger.setLevel(self.settings.function_log_level)

    def _table_env(self, name: str) -> str:
        return os.environ[name]

    def _spawn(self, name: str, target: Any) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _start_pollers(self, sqs: Any) -> None:
        for mapping in self.topology.event_sources:
            function = self.functions[mapping.function_id]
            instances = self.settings.instances.get(function.module_name, 1)
            if mapping.max_concurrency is not None:
                instances = min(instances, mapping.max_concurrency)
            for index in range(instances):
                poller = QueuePoller(
                    sqs,
                    self.provisioned.queue_urls[mapping.queue_id],
                    self.provisioned.arns[mapping.queue_id],
                    function,
                    mapping.batch_size,
                    mapping.reports_item_failures,
                    self.stop_event,
                    batching_window_seconds=self._window(mapping.batching_window_seconds),
                )
                self.pollers.append(poller)
                self._spawn(f"poller-{function.name}-{index}", poller.run)

    def _window(self, seconds: float) -> float:
        cap = self.settings.max_batching_window_seconds
        return seconds if cap is None else min(seconds, cap)

    def _start_dispatchers(self) -> None:
        """Dispatchers run as threads of this process, started through the invoker the handlers use."""
        (dispatcher,) = [f for f in self.functions.values() if f.module_name == "dispatcher"]
        self.dispatchers = LocalDispatcherInvoker(dispatcher)
        dispatcher_invoker.use(self.dispatchers)

    def _start_stream_pollers(self, streams: Any, dynamodb: Any) -> None:
        for source in self.topology.stream_sources:
            table = self.provisioned.refs[source.table_id]
            arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
            poller = StreamPoller(
                streams,
                arn,
                self.functions[source.function_id],
                source.batch_size,
                source.filters,
                self.stop_event,
                batching_window_seconds=self._window(source.batching_window_seconds),
            )
            self.stream_pollers.append(poller)
            self._spawn(f"stream-{source.function_id}", poller.run)

    def _start_tickers(self) -> None:
        for schedule in self.topology.schedules:
            every = self.settings.tick_seconds or schedule.every_seconds
            ticker = Ticker(
                self.functions[schedule.function_id], every, self.stop_event, aligned=schedule.on_the_minute
            )
            self.tickers.append(ticker)
            self._spawn(f"ticker-{schedule.logical_id}", ticker.run)

    def _pump_receipts(self) -> None:
        assert self.simulator is not None
        while not self.stop_event.wait(0.05):
            try:
                self.simulator.pump()
            except Exception:
                log.exception("publishing delivery events failed")

    def _carrier_messages(self, method: str, _: dict[str, Any] | None) -> tuple[int, Any]:
        if self.simulator is None:
            return 404, {"message": "the carrier simulator is off"}
        records = [record.__dict__ for record in self.simulator.records]
        return 200, {"throttled": self.simulator.throttled, "messages": records}

    def _carrier_inbound(self, method: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        """POST {from, to, body}: a recipient texts one of our numbers (STOP, HELP, a reply...)."""
        if self.simulator is None:
            return 404, {"message": "the carrier simulator is off"}
        if method != "POST" or not isinstance(body, dict):
            return 400, {"message": "POST a JSON object {from, to, body}"}
        missing = [name for name in ("from", "to", "body") if not isinstance(body.get(name), str)]
        if missing:
            return 400, {"message": f"missing or not text: {', '.join(missing)}"}
        payload = self.simulator.receive(body["from"], body["to"], body["body"])
        return 202, payload

    def _payment_charges(self, method: str, _: dict[str, Any] | None) -> tuple[int, Any]:
        charges = [
            {**charge.request.__dict__, **charge.result.__dict__} for charge in shared_simulator().charges
        ]
        return 200, {"charges": charges}
