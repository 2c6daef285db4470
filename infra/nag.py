"""cdk-nag acknowledgements: each rule we accept is named with its reason, next to what it covers."""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations
from aws_cdk import aws_dynamodb as dynamodb
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=f"AwsSolutions::{rule_id}", reason=reason))


def acknowledge_wildcard(scope: IConstruct, resource: str, reason: str) -> None:
    """One IAM5 finding: a wildcard resource, spelled as cdk-nag reports it."""
    acknowledge(scope, f"AwsSolutions-IAM5[Resource::{resource}]", reason)


def acknowledge_index_access(scope: IConstruct, table: dynamodb.ITableV2) -> None:
    cfn_table = table.node.default_child
    assert isinstance(cfn_table, CfnElement)
    logical_id = Stack.of(table).get_logical_id(cfn_table)
    acknowledge_wildcard(
        scope,
        f"<{logical_id}.Arn>/index/*",
        "Queries this table's own indexes (grant_read_data scopes to them).",
    )
