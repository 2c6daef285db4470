"""The fan-out queue, its dead-letter queue and the fanout function that turns jobs into messages."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constants import (
    FANOUT_DLQ_ID,
    FANOUT_MAX_CONCURRENCY,
    FANOUT_MAX_RECEIVES,
    FANOUT_QUEUE_ID,
    FANOUT_TIMEOUT_SECONDS,
    FANOUT_VISIBILITY_SECONDS,
    THREE_A_DAY_STATES,
)
from infra.functions import FunctionCode, ServiceFunction
from infra.ledger import grant_ledger_items
from infra.nag import acknowledge_index_access, grant_bucket_prefix
from infra.sending import queue_with_dlq


class FanOut(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        shared: FunctionCode,
        config_table: dynamodb.ITableV2,
        messages_table: dynamodb.ITableV2,
        opt_outs_table: dynamodb.ITableV2,
        jobs_table: dynamodb.ITableV2,
        lists_bucket: s3.IBucket,
        ledger_table: dynamodb.ITableV2,
        subject_sends_table: dynamodb.ITableV2,
    ) -> None:
        super().__init__(scope, construct_id)
        self.queue, self.dead_letters = queue_with_dlq(
            self, FANOUT_QUEUE_ID, FANOUT_DLQ_ID, FANOUT_VISIBILITY_SECONDS, FANOUT_MAX_RECEIVES
        )
        self.function = ServiceFunction(
            self,
            "Handler",
            shared=shared,
            handler="functions.handlers.fanout.lambda_handler",
            description="Creates a confirmed mass message's messages, ready to send, page by page",
            environment={
                "CONFIG_TABLE": config_table.table_name,
                "MESSAGES_TABLE": messages_table.table_name,
                "OPT_OUTS_TABLE": opt_outs_table.table_name,
                "JOBS_TABLE": jobs_table.table_name,
                "LISTS_BUCKET": lists_bucket.bucket_name,
                "FANOUT_QUEUE_URL": self.queue.queue_url,
                "LEDGER_TABLE": ledger_table.table_name,
                "SUBJECT_SENDS_TABLE": subject_sends_table.table_name,
                "THREE_A_DAY_STATES": ",".join(THREE_A_DAY_STATES),
            },
            timeout=Duration.seconds(FANOUT_TIMEOUT_SECONDS),
            memory_size=512,
        )
        role = self.function.role
        config_table.grant_read_data(role)
        grant_bucket_prefix(lists_bucket, role, "read", "lists/")  # a calling list's records file
        opt_outs_table.grant_read_data(role)
        messages_table.grant_read_write_data(role)
        jobs_table.grant_read_write_data(role)
        for table in (config_table, opt_outs_table, messages_table, jobs_table):
            acknowledge_index_access(role, table)
        grant_ledger_items(ledger_table, role)  # a cancelled message that was debited is refunded
        self.queue.grant_send_messages(role)  # it hands a long job over to its next invocation
        subject_sends_table.grant(role, "dynamodb:GetItem", "dynamodb:PutItem")  # the three-a-day count
        # One job step per invocation: a step pages until the time is nearly out.
        self.function.function.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=1,
                report_batch_item_failures=True,
                max_concurrency=FANOUT_MAX_CONCURRENCY,
            )
        )
