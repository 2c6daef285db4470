"""cdk-nag acknowledgements: each rule we accept is named with its reason, next to what it covers."""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
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


# What each of the bucket's grant methods adds with a wildcard, as cdk-nag reports it.
_BUCKET_GRANT_WILDCARDS = {
    "read": ("s3:GetObject*", "s3:GetBucket*", "s3:List*"),
    "read_write": ("s3:GetObject*", "s3:GetBucket*", "s3:List*", "s3:DeleteObject*", "s3:Abort*"),
    "put": ("s3:Abort*",),
    "delete": ("s3:DeleteObject*",),
}


def grant_bucket_prefix(bucket: s3.IBucket, role: iam.IRole, how: str, prefix: str) -> None:
    """``bucket.grant_<how>(role, prefix + "*")``, with the wildcards it implies acknowledged: the
    functions reach objects under one prefix of the platform's own bucket, never the bucket's others."""
    getattr(bucket, f"grant_{how}")(role, f"{prefix}*")
    cfn_bucket = bucket.node.default_child
    assert isinstance(cfn_bucket, CfnElement)
    logical_id = Stack.of(bucket).get_logical_id(cfn_bucket)
    reason = f"Objects under {prefix} of the platform's lists bucket only (functions/dal/objects.py)."
    acknowledge_wildcard(role, f"<{logical_id}.Arn>/{prefix}*", reason)
    for action in _BUCKET_GRANT_WILDCARDS[how]:
        acknowledge(
            role, f"AwsSolutions-IAM5[Action::{action}]", f"The bucket grant's own set of actions. {reason}"
        )
