"""What paying for messages needs from the Ledger table, granted on the table alone (no index)."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam

# Debits, refunds and auto-buys read single items and write them in transactions; nothing else.
LEDGER_ITEM_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:ConditionCheckItem",
]


def grant_ledger_items(table: dynamodb.ITableV2, role: iam.IRole) -> None:
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=LEDGER_ITEM_ACTIONS, resources=[table.table_arn])
    )
