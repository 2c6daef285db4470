"""Inbound messages: two-way SMS -> SNS -> SQS -> the inbound function; its event bus; the carriers' secret.

Carriers other than AWS post to the API's signed webhook, which puts the message on the same queue.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.constants import (
    CARRIER_WEBHOOK_SECRET_ID,
    INBOUND_BATCH_SIZE,
    INBOUND_DLQ_ID,
    INBOUND_MAX_RECEIVES,
    INBOUND_QUEUE_ID,
    INBOUND_TIMEOUT_SECONDS,
    INBOUND_TOPIC_ID,
    INBOUND_VISIBILITY_SECONDS,
    REPLY_EVENT_BUS_ID,
)
from infra.functions import FunctionCode, ServiceFunction
from infra.nag import acknowledge, acknowledge_index_access
from infra.sending import queue_with_dlq

SMS_SERVICE = iam.ServicePrincipal("sms-voice.amazonaws.com")


class Inbound(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        shared: FunctionCode,
        config_table: dynamodb.ITableV2,
        messages_table: dynamodb.ITableV2,
        opt_outs_table: dynamodb.ITableV2,
        inbound_table: dynamodb.ITableV2,
    ) -> None:
        super().__init__(scope, construct_id)
        key = kms.Key(self, "InboundKey", enable_key_rotation=True, description="Encrypts inbound SMS")
        key.grant(SMS_SERVICE, "kms:GenerateDataKey*", "kms:Decrypt")
        # Each number's two-way channel (TwoWayChannelArn) names this topic.
        self.topic = sns.Topic(self, INBOUND_TOPIC_ID, master_key=key, enforce_ssl=True)
        self.topic.grant_publish(SMS_SERVICE)

        self.queue, self.dead_letters = queue_with_dlq(
            self, INBOUND_QUEUE_ID, INBOUND_DLQ_ID, INBOUND_VISIBILITY_SECONDS, INBOUND_MAX_RECEIVES
        )
        # Raw delivery: each SQS body is the two-way payload itself, the shape the webhook path queues too.
        self.topic.add_subscription(subscriptions.SqsSubscription(self.queue, raw_message_delivery=True))

        # Replies are published here for routing to agents (rules are the tenant's or operator's to add).
        self.event_bus = events.EventBus(self, REPLY_EVENT_BUS_ID, description="Inbound SMS replies")

        # The secret carriers sign their webhooks with; the API reads it once per container.
        self.webhook_secret = secretsmanager.Secret(
            self,
            CARRIER_WEBHOOK_SECRET_ID,
            description="Shared secret of the carriers' signed inbound webhook (HMAC-SHA256)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                exclude_punctuation=True, password_length=48
            ),
        )
        acknowledge(
            self.webhook_secret,
            "AwsSolutions-SMG4",
            "Shared with carriers out of band: rotated by the operator together with each carrier.",
        )

        self.function = ServiceFunction(
            self,
            "Handler",
            shared=shared,
            handler="functions.handlers.inbound.lambda_handler",
            description="Handles inbound SMS: STOP, START, HELP and replies",
            environment={
                "CONFIG_TABLE": config_table.table_name,
                "MESSAGES_TABLE": messages_table.table_name,
                "OPT_OUTS_TABLE": opt_outs_table.table_name,
                "INBOUND_TABLE": inbound_table.table_name,
                "REPLY_EVENT_BUS": self.event_bus.event_bus_name,
            },
            timeout=Duration.seconds(INBOUND_TIMEOUT_SECONDS),
        )
        role = self.function.role
        config_table.grant_read_data(role)  # transport codes, tenants, signatures, departments
        messages_table.grant_read_write_data(role)  # whom a reply answers; keyword replies
        opt_outs_table.grant_read_write_data(role)
        inbound_table.grant_read_write_data(role)
        for table in (config_table, messages_table, opt_outs_table):
            acknowledge_index_access(role, table)
        self.event_bus.grant_put_events_to(role)
        self.function.function.add_event_source(
            sources.SqsEventSource(self.queue, batch_size=INBOUND_BATCH_SIZE, report_batch_item_failures=True)
        )
