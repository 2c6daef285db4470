"""Delivery receipts: the SMS configuration set's events -> SNS -> SQS -> the receipts function."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_smsvoice as smsvoice
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from functions.domain.delivery_events import RECEIPT_EVENT_TYPES
from infra.constants import (
    DELIVERY_EVENTS_TOPIC_ID,
    RECEIPTS_BATCH_SIZE,
    RECEIPTS_BATCHING_WINDOW_SECONDS,
    RECEIPTS_DLQ_ID,
    RECEIPTS_MAX_RECEIVES,
    RECEIPTS_QUEUE_ID,
    RECEIPTS_VISIBILITY_SECONDS,
)
from infra.functions import FunctionCode, ServiceFunction
from infra.nag import acknowledge_index_access, acknowledge_wildcard
from infra.sending import queue_with_dlq

SMS_SERVICE = iam.ServicePrincipal("sms-voice.amazonaws.com")


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
                    matching_event_types=RECEIPT_EVENT_TYPES,
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
                self.queue,
                batch_size=RECEIPTS_BATCH_SIZE,
                # A message's events (accepted, then delivered) often come within seconds: gathered,
                # they share one write of the message.
                max_batching_window=Duration.seconds(RECEIPTS_BATCHING_WINDOW_SECONDS),
                report_batch_item_failures=True,
            )
        )

        # A message still Sent when AWS's 72-hour event window has passed will never hear more: hourly,
        # the deadline function ends those Failed "unknown" (a query of the sparse by_awaiting_receipt index).
        self.deadline = ServiceFunction(
            self,
            "Deadline",
            shared=shared,
            handler="functions.handlers.receipt_deadline.lambda_handler",
            description="Fails messages still Sent when the carrier's event window has passed",
            environment={"MESSAGES_TABLE": messages_table.table_name},
            timeout=Duration.minutes(5),
        )
        messages_table.grant_read_write_data(self.deadline.role)
        acknowledge_index_access(self.deadline.role, messages_table)
        invoker = iam.Role(
            self,
            "DeadlineInvokerRole",
            assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
            description="Runs the receipt deadline",
        )
        self.deadline_schedule = scheduler.Schedule(
            self,
            "Hourly",
            schedule=scheduler.ScheduleExpression.rate(Duration.hours(1)),
            description="Fail messages whose delivery event never came",
            target=targets.LambdaInvoke(self.deadline.function, retry_attempts=0, role=invoker),
        )
        function_id = Stack.of(self).get_logical_id(self.deadline.function.node.default_child)
        acknowledge_wildcard(
            invoker, f"<{function_id}.Arn>:*", "Invoking the deadline function's versions and aliases."
        )

    @property
    def configuration_set_name(self) -> str:
        return self.configuration_set.ref

    @property
    def configuration_set_arn(self) -> str:
        return Stack.of(self).format_arn(
            service="sms-voice", resource="configuration-set", resource_name=self.configuration_set.ref
        )
