"""Create the template's tables, queues, buckets, topics, subscriptions, event buses and secrets on moto.

Also resolves the references between them. A secret the stack would generate gets a fixed local
value instead (``LOCAL_SECRET``), so local callers can sign with it.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3

from local.topology import FunctionSpec, Topology, referenced_ids

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_sns.client import SNSClient
    from mypy_boto3_sqs.client import SQSClient

# The stack's output naming the inbound topic (infra.constants.OUTPUT_INBOUND_TOPIC; local/ reads
# the template, not the CDK code).
INBOUND_TOPIC_OUTPUT = "InboundMessagesTopicArn"
# The secret of every generated secret locally (the carriers' webhook secret); it exists only here.
LOCAL_SECRET = "sms_local_webhook_secret_for_the_local_runtime_only"
REGION = "us-east-1"
ACCOUNT = "123456789012"
PSEUDO = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
}


@dataclass
class Provisioned:
    refs: dict[str, str] = field(default_factory=dict)  # what {"Ref": id} is
    arns: dict[str, str] = field(default_factory=dict)  # what {"Fn::GetAtt": [id, "Arn"]} is
    queue_urls: dict[str, str] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and "Ref" in value:
            name = value["Ref"]
            return PSEUDO[name] if name in PSEUDO else self.refs[name]
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            if attribute != "Arn":
                raise ValueError(f"the local runtime resolves only Arn attributes, not {attribute}")
            return self.arns[logical_id]
        if isinstance(value, dict) and "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(str(self.resolve(part)) for part in parts)
        if isinstance(value, dict):
            raise ValueError(f"unsupported intrinsic {value!r}")
        return value

    def environment(self, function: FunctionSpec) -> dict[str, str]:
        return {name: str(self.resolve(value)) for name, value in function.environment.items()}


def _create_table(dynamodb: DynamoDBClient, name: str, props: dict[str, Any]) -> None:
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if props.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index["IndexName"],
                "KeySchema": index["KeySchema"],
                "Projection": index["Projection"],
            }
            for index in props["GlobalSecondaryIndexes"]
        ]
    stream = props.get("StreamSpecification")
    if stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    dynamodb.create_table(**request)
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
        )


def _create_bucket(s3: Any, name: str, props: dict[str, Any], done: Provisioned) -> None:
    """The bucket, versioned as the template says, with its notifications to queues (moto delivers them)."""
    s3.create_bucket(Bucket=name)
    if props.get("VersioningConfiguration", {}).get("Status") == "Enabled":
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    queues = props.get("NotificationConfiguration", {}).get("QueueConfigurations", [])
    if not queues:
        return
    configurations = []
    for queue in queues:
        rules = queue.get("Filter", {}).get("S3Key", {}).get("Rules", [])
        configurations.append(
            {
                "QueueArn": done.resolve(queue["Queue"]),
                "Events": [queue["Event"]],
                "Filter": {"Key": {"FilterRules": [{"Name": r["Name"], "Value": r["Value"]} for r in rules]}},
            }
        )
    s3.put_bucket_notification_configuration(
        Bucket=name, NotificationConfiguration={"QueueConfigurations": configurations}
    )


def _is_api_endpoint(value: Any) -> bool:
    return isinstance(value, dict) and "ApiEndpoint" in value.get("Fn::GetAtt", [])


def allow_api_origin(s3: Any, topology: Topology, api_origin: str) -> None:
    """Each bucket's CORS rules as the template writes them, the API's origin (``Fn::GetAtt`` of its
    ``ApiEndpoint``, known here once the local front listens) standing for the deployed one's."""
    for logical_id, props in topology.buckets.items():
        rules = props.get("CorsConfiguration", {}).get("CorsRules", [])
        if not rules:
            continue
        resolved = []
        for rule in rules:
            origins = [api_origin if _is_api_endpoint(o) else o for o in rule["AllowedOrigins"]]
            resolved.append(
                {
                    "AllowedOrigins": origins,
                    "AllowedMethods": rule["AllowedMethods"],
                    "AllowedHeaders": rule.get("AllowedHeaders", []),
                    "MaxAgeSeconds": rule.get("MaxAge", 0),
                }
            )
        s3.put_bucket_cors(Bucket=logical_id.lower(), CORSConfiguration={"CORSRules": resolved})


_QUEUE_ATTRIBUTES = (
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
)


def provision(
    topology: Topology,
    dynamodb: DynamoDBClient,
    sqs: SQSClient,
    sns: SNSClient,
    events: Any = None,
    secrets: Any = None,
    s3: Any = None,
) -> Provisioned:
    """``events``, ``secrets``, ``s3``: EventBridge, Secrets Manager, S3 clients, made here if not given."""
    done = Provisioned()
    for logical_id, props in topology.tables.items():
        _create_table(dynamodb, logical_id, props)
        done.refs[logical_id] = logical_id
        done.arns[logical_id] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{logical_id}"

    # Dead-letter queues first: a redrive policy names its target's ARN.
    ordered = sorted(topology.queues.items(), key=lambda item: "RedrivePolicy" in item[1])
    for logical_id, props in ordered:
        attributes = {name: str(props[name]) for name in _QUEUE_ATTRIBUTES if name in props}
        if "RedrivePolicy" in props:
            policy = props["RedrivePolicy"]
            attributes["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": done.resolve(policy["deadLetterTargetArn"]),
                    **{key: value for key, value in policy.items() if key != "deadLetterTargetArn"},
                }
            )
        url = sqs.create_queue(QueueName=logical_id, Attributes=attributes)["QueueUrl"]  # type: ignore[arg-type]
        done.queue_urls[logical_id] = url
        done.refs[logical_id] = url
        done.arns[logical_id] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]

    if topology.buckets:
        s3 = s3 or _client("s3")
    for logical_id, props in topology.buckets.items():
        _create_bucket(s3, logical_id.lower(), props, done)
        done.refs[logical_id] = logical_id.lower()
        done.arns[logical_id] = f"arn:aws:s3:::{logical_id.lower()}"

    for logical_id in topology.topics:
        arn = sns.create_topic(Name=logical_id)["TopicArn"]
        done.refs[logical_id] = arn
        done.arns[logical_id] = arn
    for props in topology.subscriptions:
        attributes = {"RawMessageDelivery": "true"} if props.get("RawMessageDelivery") else {}
        sns.subscribe(
            TopicArn=done.resolve(props["TopicArn"]),
            Protocol=props["Protocol"],
            Endpoint=done.resolve(props["Endpoint"]),
            Attributes=attributes,
        )

    if topology.event_buses:
        events = events or _client("events")
    for logical_id, props in topology.event_buses.items():
        name = props.get("Name", logical_id)
        arn = events.create_event_bus(Name=name)["EventBusArn"]
        done.refs[logical_id] = name
        done.arns[logical_id] = arn
    if topology.secrets:
        secrets = secrets or _client("secretsmanager")
    for logical_id in topology.secrets:
        arn = secrets.create_secret(Name=logical_id, SecretString=LOCAL_SECRET)["ARN"]
        # A secret's Ref is its ARN; its name stands in for it here (Secrets Manager takes either), as
        # moto's ARNs end in a random suffix and a function's settings outlive one test's moto.
        done.refs[logical_id] = logical_id
        done.arns[logical_id] = arn

    done.refs.update(topology.named_resources)
    for logical_id in topology.functions:
        done.refs[logical_id] = logical_id
        done.arns[logical_id] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical_id}"
    unresolved = {
        lid for spec in topology.functions.values() for lid in referenced_ids(spec.environment)
    } - set(done.refs)
    if unresolved:
        raise ValueError(f"function environments reference resources the local runtime lacks: {unresolved}")
    return done


@functools.cache
def _client(service: str) -> Any:
    """One client per service for the process: making one costs some 70 ms (tests provision often)."""
    return boto3.client(service)  # type: ignore[call-overload]


def shared_environment(topology: Topology, provisioned: Provisioned) -> dict[str, str]:
    """Every function's environment, merged: locally the functions share one process."""
    merged: dict[str, str] = {}
    for spec in topology.functions.values():
        for name, value in provisioned.environment(spec).items():
            if merged.get(name, value) != value:
                raise ValueError(f"functions disagree on {name}; they share one local process")
            merged[name] = value
    return merged


def event_destinations(
    topology: Topology, provisioned: Provisioned
) -> dict[str, list[tuple[str, list[str]]]]:
    """Configuration set name -> [(topic ARN, event types)], for the carrier simulator."""
    return {
        provisioned.refs[set_id]: [(provisioned.refs[topic_id], types) for topic_id, types in destinations]
        for set_id, destinations in topology.event_destinations.items()
    }


def inbound_topic(topology: Topology, provisioned: Provisioned) -> str | None:
    """The topic two-way SMS publishes inbound messages to (each number's two-way channel)."""
    output = topology.outputs.get(INBOUND_TOPIC_OUTPUT)
    return str(provisioned.resolve(output)) if output is not None else None
