"""Create the template's tables, queues, topics and subscriptions on moto, and resolve references."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from local.topology import FunctionSpec, Topology, referenced_ids

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_sns.client import SNSClient
    from mypy_boto3_sqs.client import SQSClient

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
    dynamodb.create_table(**request)
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
        )


_QUEUE_ATTRIBUTES = (
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
)


def provision(topology: Topology, dynamodb: DynamoDBClient, sqs: SQSClient, sns: SNSClient) -> Provisioned:
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
