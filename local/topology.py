"""Read the synthesized template into what the local runtime must create and run.

Only what the local runtime serves is read: tables, queues, buckets (with their notifications),
topics and their subscriptions, event buses, secrets, functions with their environments, event
source mappings (queues and table streams), schedules, the HTTP API's routes and the stack's outputs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

Template = dict[str, Any]


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    handler: str  # module.attribute
    environment: dict[str, Any]
    timeout_seconds: int
    memory_mb: int


@dataclass(frozen=True)
class EventSourceMapping:
    queue_id: str
    function_id: str
    batch_size: int
    max_concurrency: int | None
    reports_item_failures: bool
    batching_window_seconds: float = 0.0  # MaximumBatchingWindowInSeconds: gather a batch this long


@dataclass(frozen=True)
class StreamSource:
    """A table's stream read by a function, as Lambda's event source mapping does."""

    table_id: str
    function_id: str
    batch_size: int
    filters: list[dict[str, Any]]  # the mapping's filter patterns, parsed; a record passes one or is dropped
    batching_window_seconds: float = 0.0  # MaximumBatchingWindowInSeconds: gather a batch this long


@dataclass(frozen=True)
class ScheduleSpec:
    logical_id: str
    function_id: str
    every_seconds: int
    on_the_minute: bool = False  # runs at each minute's start (cron), not a period after the runtime starts


@dataclass(frozen=True)
class RouteSpec:
    method: str  # "ANY" or an HTTP method
    path: str  # "/{proxy+}" or a literal path
    function_id: str
    authorizer_function_id: str | None

    def matches(self, method: str, path: str) -> bool:
        if self.method not in {"ANY", method}:
            return False
        if self.path.endswith("/{proxy+}"):
            return path.startswith(self.path.removesuffix("{proxy+}"))
        return self.parameters(path) is not None

    def parameters(self, path: str) -> dict[str, str] | None:
        """The values of the route's {name} segments in ``path``, or None if it does not match."""
        expected, given = self.path.split("/"), path.split("/")
        if len(expected) != len(given):
            return None
        found: dict[str, str] = {}
        for pattern, segment in zip(expected, given, strict=True):
            if pattern.startswith("{") and pattern.endswith("}") and segment:
                found[pattern[1:-1]] = segment
            elif pattern != segment:
                return None
        return found

    @property
    def specificity(self) -> tuple[int, int]:
        return (0 if "{proxy+}" in self.path else 1, len(self.path))


@dataclass
class Topology:
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    queues: dict[str, dict[str, Any]] = field(default_factory=dict)
    buckets: dict[str, dict[str, Any]] = field(default_factory=dict)
    topics: list[str] = field(default_factory=list)
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    event_buses: dict[str, dict[str, Any]] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)  # output name -> its value (a reference)
    named_resources: dict[str, str] = field(default_factory=dict)  # other Ref-able ids -> local names
    # configuration set logical id -> [(SNS topic logical id, matching event types)]
    event_destinations: dict[str, list[tuple[str, list[str]]]] = field(default_factory=dict)
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    event_sources: list[EventSourceMapping] = field(default_factory=list)
    stream_sources: list[StreamSource] = field(default_factory=list)
    schedules: list[ScheduleSpec] = field(default_factory=list)
    routes: list[RouteSpec] = field(default_factory=list)

    def route_for(self, method: str, path: str) -> RouteSpec | None:
        candidates = [route for route in self.routes if route.matches(method, path)]
        return max(candidates, key=lambda route: route.specificity) if candidates else None


def referenced_ids(value: Any) -> list[str]:
    """Every logical id a property value points at through Ref or Fn::GetAtt."""
    found: list[str] = []
    if isinstance(value, dict):
        if "Ref" in value:
            found.append(value["Ref"])
        if "Fn::GetAtt" in value:
            found.append(value["Fn::GetAtt"][0])
        for inner in value.values():
            found.extend(referenced_ids(inner))
    elif isinstance(value, list):
        for inner in value:
            found.extend(referenced_ids(inner))
    return found


_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


_EVERY_MINUTE = "cron(* * * * ? *)"


def _period(expression: str) -> tuple[int, bool]:
    """Seconds between runs, and whether runs fall at the start of each minute."""
    if expression == _EVERY_MINUTE:
        return 60, True
    match = _RATE.fullmatch(expression)
    if not match:
        raise ValueError(
            f"the local runtime runs rate() and every-minute cron schedules only, not {expression!r}"
        )
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")], False


def _is_stream(arn: Any) -> bool:
    return isinstance(arn, dict) and arn.get("Fn::GetAtt", [None, None])[1] == "StreamArn"


def read_topology(template: Template) -> Topology:
    resources: dict[str, dict[str, Any]] = template["Resources"]
    topology = Topology()
    functions = {lid for lid, res in resources.items() if res["Type"] == "AWS::Lambda::Function"}

    def function_in(value: Any) -> str:
        matches = [lid for lid in referenced_ids(value) if lid in functions]
        if len(matches) != 1:
            raise ValueError(f"expected one function reference in {value!r}")
        return matches[0]

    authorizers = {}
    integrations = {}
    for logical_id, resource in resources.items():
        kind, props = resource["Type"], resource.get("Properties", {})
        if kind in {"AWS::DynamoDB::GlobalTable", "AWS::DynamoDB::Table"}:
            topology.tables[logical_id] = props
        elif kind == "AWS::SQS::Queue":
            topology.queues[logical_id] = props
        elif kind == "AWS::S3::Bucket":
            topology.buckets[logical_id] = props
        elif kind == "AWS::SNS::Topic":
            topology.topics.append(logical_id)
        elif kind == "AWS::SNS::Subscription":
            topology.subscriptions.append(props)
        elif kind == "AWS::Events::EventBus":
            topology.event_buses[logical_id] = props
        elif kind == "AWS::SecretsManager::Secret":
            topology.secrets.append(logical_id)
        elif kind == "AWS::SMSVOICE::ConfigurationSet":
            topology.named_resources[logical_id] = props.get("ConfigurationSetName", f"local-{logical_id}")
            topology.event_destinations[logical_id] = [
                (destination["SnsDestination"]["TopicArn"]["Ref"], list(destination["MatchingEventTypes"]))
                for destination in props.get("EventDestinations", [])
                if destination.get("Enabled", True) and "SnsDestination" in destination
            ]
        elif kind == "AWS::Lambda::Function":
            topology.functions[logical_id] = FunctionSpec(
                logical_id=logical_id,
                handler=props["Handler"],
                environment=props.get("Environment", {}).get("Variables", {}),
                timeout_seconds=int(props.get("Timeout", 3)),
                memory_mb=int(props.get("MemorySize", 128)),
            )
        elif kind == "AWS::ApiGatewayV2::Authorizer":
            authorizers[logical_id] = function_in(props["AuthorizerUri"])
        elif kind == "AWS::ApiGatewayV2::Integration":
            integrations[logical_id] = function_in(props["IntegrationUri"])

    topology.outputs = {name: output["Value"] for name, output in template.get("Outputs", {}).items()}
    for resource in resources.values():
        kind, props = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::Lambda::EventSourceMapping" and _is_stream(props["EventSourceArn"]):
            (table_id,) = [lid for lid in referenced_ids(props["EventSourceArn"]) if lid in topology.tables]
            topology.stream_sources.append(
                StreamSource(
                    table_id=table_id,
                    function_id=function_in(props["FunctionName"]),
                    batch_size=int(props.get("BatchSize", 100)),
                    filters=[
                        json.loads(item["Pattern"])
                        for item in props.get("FilterCriteria", {}).get("Filters", [])
                    ],
                    batching_window_seconds=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                )
            )
        elif kind == "AWS::Lambda::EventSourceMapping":
            (queue_id,) = [lid for lid in referenced_ids(props["EventSourceArn"]) if lid in topology.queues]
            topology.event_sources.append(
                EventSourceMapping(
                    queue_id=queue_id,
                    function_id=function_in(props["FunctionName"]),
                    batch_size=int(props.get("BatchSize", 10)),
                    max_concurrency=props.get("ScalingConfig", {}).get("MaximumConcurrency"),
                    reports_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                    batching_window_seconds=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                )
            )
        elif kind == "AWS::Scheduler::Schedule" and props.get("State", "ENABLED") == "ENABLED":
            every_seconds, on_the_minute = _period(props["ScheduleExpression"])
            topology.schedules.append(
                ScheduleSpec(
                    logical_id=next(lid for lid, res in resources.items() if res is resource),
                    function_id=function_in(props["Target"]["Arn"]),
                    every_seconds=every_seconds,
                    on_the_minute=on_the_minute,
                )
            )
        elif kind == "AWS::ApiGatewayV2::Route":
            method, path = props["RouteKey"].split(" ", 1)
            (integration_id,) = [lid for lid in referenced_ids(props["Target"]) if lid in integrations]
            authorizer_id = props.get("AuthorizerId", {}).get("Ref")
            custom = props.get("AuthorizationType") == "CUSTOM"
            topology.routes.append(
                RouteSpec(
                    method=method,
                    path=path,
                    function_id=integrations[integration_id],
                    authorizer_function_id=authorizers[authorizer_id] if custom else None,
                )
            )
    return topology
