"""Delivery receipts: the SMS configuration set's events -> SNS -> SQS -> the receipts function."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_smsvoice as smsvoice
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.constants import (
    DELIVERY_EVENTS_TOPIC_ID,
    RECEIPTS_BATCH_SIZE,
    RECEIPTS_DLQ_ID,
    RECEIPTS_MAX_RECEIVES,
    RECEIPTS_QUEUE_ID,
    RECEIPTS_VISIBILITY_SECONDS,
)
from infra.functions import FunctionCode, ServiceFunction
from infra.nag import acknowledge_index_access
from infra.sending import queue_with_dlq

SMS_SERVICE = iam.ServicePrincipal("sms-voice.amazonaws.com")
# Final outcomes only: the sender records Sent itself when the carrier accepts a message.
DELIVERY_EVENT_TYPES = [
    "TEXT_DELIVERED",
    "TEXT_BLOCKED",
    "TEXT_CARRIER_BLOCKED",
    "TEXT_SPAM",
    "TEXT_TTL_EXPIRED",
    "TEXT_UNREACHABLE",
    "TEXT_CARRIER_UNREACHABLE",
    "TEXT_INVALID",
    "TEXT_INVALID_MESSAGE",
    "TEXT_UNKNOWN",
    "TEXT_PROTECT_BLOCKED",
]


class Receipts(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, shared: FunctionCode, messages_table: dynamodb.ITableV2
    ) -> None:
        super().__init__(scope, construct_id)
        key = kms.Key(self, "EventsKey", enable_key_rotation=True, description="Encrypts SMS delivery events")
        key.grant(SMS_SERVICE, "kms:GenerateDataKey*", "kms:Decrypt")
        self.topic = sns.Topic(self, DELIVERY_EVENTS_TOPIC_ID, master_key=key, enforce_ssl=True)
        self.topic.grant_publish(SMS_SERVICE)

        self.configuration_set = smsvoice.CfnConfigurationSet(
            self,
            "ConfigurationSet",
            event_destinations=[
                smsvoice.CfnConfigurationSet.EventDestinationProperty(
                    event_destination_name="delivery-receipts",
                    enabled=True,
                    matching_event_types=DELIVERY_EVENT_TYPES,
                    sns_destination=smsvoice.CfnConfigurationSet.SnsDestinationProperty(
                        topic_arn=self.topic.topic_arn
                    ),
                )
            ],
        )
        self.configuration_set.node.add_dependency(self.topic)

        self.queue, self.dead_letters = queue_with_dlq(
            self, RECEIPTS_QUEUE_ID, RECEIPTS_DLQ_ID, RECEIPTS_VISIBILITY_SECONDS, RECEIPTS_MAX_RECEIVES
        )
        # Raw delivery: each SQS body is the carrier's event JSON itself.
        self.topic.add_subscription(subscriptions.SqsSubscription(self.queue, raw_message_delivery=True))

        self.function = ServiceFunction(
            self,
            "Handler",
            shared=shared,
            handler="functions.handlers.receipts.lambda_handler",
            description="Applies carrier delivery events to messages",
            environment={"MESSAGES_TABLE": messages_table.table_name},
            timeout=Duration.seconds(RECEIPTS_VISIBILITY_SECONDS // 6),
        )
        messages_table.grant_read_write_data(self.function.role)
        acknowledge_index_access(self.function.role, messages_table)
        self.function.function.add_event_source(
            sources.SqsEventSource(
                self.queue, batch_size=RECEIPTS_BATCH_SIZE, report_batch_item_failures=True
            )
        )

    @property
    def configuration_set_name(self) -> str:
        return self.configuration_set.ref

    @property
    def configuration_set_arn(self) -> str:
        return Stack.of(self).format_arn(
            service="sms-voice", resource="configuration-set", resource_name=self.configuration_set.ref
        )
