"""The send queue, its dead-letter queue and the sender function that drains it."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constants import (
    BULK_DLQ_ID,
    BULK_QUEUE_ID,
    PAYMENT_PROVIDER,
    SEND_BATCH_SIZE,
    SEND_DLQ_ID,
    SEND_MAX_RECEIVES,
    SEND_QUEUE_ID,
    SEND_VISIBILITY_SECONDS,
    SENDER_MAX_CONCURRENCY,
)
from infra.functions import FunctionCode, ServiceFunction
from infra.ledger import grant_ledger_items
from infra.nag import acknowledge, acknowledge_index_access, acknowledge_wildcard


def queue_with_dlq(
    scope: Construct, queue_id: str, dlq_id: str, visibility_seconds: int, max_receives: int
) -> tuple[sqs.Queue, sqs.Queue]:
    dead_letters = sqs.Queue(
        scope,
        dlq_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    acknowledge(dead_letters, "AwsSolutions-SQS3", "This queue is itself a dead-letter queue.")
    queue = sqs.Queue(
        scope,
        queue_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        visibility_timeout=Duration.seconds(visibility_seconds),
        retention_period=Duration.days(4),
        dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=max_receives),
    )
    return queue, dead_letters


class Sending(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        shared: FunctionCode,
        messages_table: dynamodb.ITableV2,
        jobs_table: dynamodb.ITableV2,
        config_table: dynamodb.ITableV2,
        pacing_table: dynamodb.ITableV2,
        configuration_set_name: str,
        configuration_set_arn: str,
        ledger_table: dynamodb.ITableV2,
        opt_outs_table: dynamodb.ITableV2,
    ) -> None:
        super().__init__(scope, construct_id)
        self.queue, self.dead_letters = queue_with_dlq(
            self, SEND_QUEUE_ID, SEND_DLQ_ID, SEND_VISIBILITY_SECONDS, SEND_MAX_RECEIVES
        )
        self.bulk_queue, self.bulk_dead_letters = queue_with_dlq(
            self, BULK_QUEUE_ID, BULK_DLQ_ID, SEND_VISIBILITY_SECONDS, SEND_MAX_RECEIVES
        )
        self.sender = ServiceFunction(
            self,
            "Sender",
            shared=shared,
            handler="functions.handlers.sender.lambda_handler",
            description="Sends queued messages through the carrier",
            environment={
                "MESSAGES_TABLE": messages_table.table_name,
                "JOBS_TABLE": jobs_table.table_name,
                "CONFIG_TABLE": config_table.table_name,
                "PACING_TABLE": pacing_table.table_name,
                "SEND_QUEUE_URL": self.queue.queue_url,
                "BULK_QUEUE_URL": self.bulk_queue.queue_url,
                "SMS_CONFIGURATION_SET": configuration_set_name,
                "LEDGER_TABLE": ledger_table.table_name,
                "PAYMENT_PROVIDER": PAYMENT_PROVIDER,
                "OPT_OUTS_TABLE": opt_outs_table.table_name,
            },
            timeout=Duration.seconds(SEND_VISIBILITY_SECONDS // 6),
        )
        messages_table.grant_read_write_data(self.sender.role)
        acknowledge_index_access(self.sender.role, messages_table)
        jobs_table.grant_read_data(self.sender.role)  # a cancelled job's messages are not sent
        acknowledge_index_access(self.sender.role, jobs_table)
        config_table.grant_read_data(self.sender.role)  # transport codes: throughput and daily cap
        acknowledge_index_access(self.sender.role, config_table)
        pacing_table.grant_read_write_data(self.sender.role)
        opt_outs_table.grant_read_data(self.sender.role)  # queued messages are checked again before sending
        acknowledge_index_access(self.sender.role, opt_outs_table)
        # A message waiting for its slot goes back on its lane's queue with a delay.
        self.queue.grant_send_messages(self.sender.role)
        self.bulk_queue.grant_send_messages(self.sender.role)
        grant_ledger_items(ledger_table, self.sender.role)  # each message is debited before the carrier
        self.sender.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["sms-voice:SendTextMessage"],
                # The configuration set, and the tenant sending numbers it sends from.
                resources=[configuration_set_arn, self._phone_numbers_arn()],
            )
        )
        acknowledge_wildcard(
            self.sender.role,
            "arn:<AWS::Partition>:sms-voice:<AWS::Region>:<AWS::AccountId>:phone-number/*",
            "SendTextMessage names its sending number per call; tenants' numbers are operator-managed data.",
        )
        for lane in (self.queue, self.bulk_queue):
            self.sender.function.add_event_source(
                sources.SqsEventSource(
                    lane,
                    batch_size=SEND_BATCH_SIZE,
                    report_batch_item_failures=True,
                    max_concurrency=SENDER_MAX_CONCURRENCY,
                )
            )

    def _phone_numbers_arn(self) -> str:
        return Stack.of(self).format_arn(service="sms-voice", resource="phone-number", resource_name="*")
