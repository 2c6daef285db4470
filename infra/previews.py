"""A job's life before its fan-out: the preview function (its queue and DLQ) and the validation of
uploaded calling lists (the lists bucket's arrivals, through their queue and DLQ)."""

from __future__ import annotations

from aws_cdk import CfnResource, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constants import (
    LIST_UPLOADS_DLQ_ID,
    LIST_UPLOADS_MAX_RECEIVES,
    LIST_UPLOADS_PREFIX,
    LIST_UPLOADS_QUEUE_ID,
    LIST_UPLOADS_VISIBILITY_SECONDS,
    LIST_VALIDATION_TIMEOUT_SECONDS,
    PREVIEW_DLQ_ID,
    PREVIEW_MAX_CONCURRENCY,
    PREVIEW_MAX_RECEIVES,
    PREVIEW_QUEUE_ID,
    PREVIEW_TIMEOUT_SECONDS,
    PREVIEW_VISIBILITY_SECONDS,
    THREE_A_DAY_STATES,
)
from infra.functions import FunctionCode, ServiceFunction
from infra.nag import acknowledge_index_access, grant_bucket_prefix
from infra.sending import queue_with_dlq


class JobTables:
    """What the job functions read and write, passed as one."""

    def __init__(
        self,
        *,
        config: dynamodb.ITableV2,
        messages: dynamodb.ITableV2,
        opt_outs: dynamodb.ITableV2,
        jobs: dynamodb.ITableV2,
        ledger: dynamodb.ITableV2,
        subject_sends: dynamodb.ITableV2,
    ) -> None:
        self.config, self.messages, self.opt_outs = config, messages, opt_outs
        self.jobs, self.ledger, self.subject_sends = jobs, ledger, subject_sends


def job_environment(
    tables: JobTables,
    fanout_queue: sqs.IQueue,
    preview_queue: sqs.IQueue,
    bucket: s3.IBucket,
) -> dict[str, str]:
    return {
        "CONFIG_TABLE": tables.config.table_name,
        "MESSAGES_TABLE": tables.messages.table_name,
        "OPT_OUTS_TABLE": tables.opt_outs.table_name,
        "JOBS_TABLE": tables.jobs.table_name,
        "LEDGER_TABLE": tables.ledger.table_name,
        "FANOUT_QUEUE_URL": fanout_queue.queue_url,
        "PREVIEW_QUEUE_URL": preview_queue.queue_url,
        "LISTS_BUCKET": bucket.bucket_name,
        "SUBJECT_SENDS_TABLE": tables.subject_sends.table_name,
        "THREE_A_DAY_STATES": ",".join(THREE_A_DAY_STATES),
    }


def grant_job_tables(role: iam.IRole, tables: JobTables) -> None:
    tables.config.grant_read_data(role)  # tenants, contacts, templates, departments, transport codes
    tables.opt_outs.grant_read_data(role)
    tables.jobs.grant_read_write_data(role)
    tables.ledger.grant_read_data(role)  # the balance a preview states
    tables.subject_sends.grant(role, "dynamodb:GetItem", "dynamodb:BatchGetItem")  # the three-a-day rule
    for table in (tables.config, tables.opt_outs, tables.jobs, tables.ledger):
        acknowledge_index_access(role, table)


class Previews(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        shared: FunctionCode,
        tables: JobTables,
        lists_bucket: s3.Bucket,
        fanout_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.queue, self.dead_letters = queue_with_dlq(
            self, PREVIEW_QUEUE_ID, PREVIEW_DLQ_ID, PREVIEW_VISIBILITY_SECONDS, PREVIEW_MAX_RECEIVES
        )
        environment = job_environment(tables, fanout_queue, self.queue, lists_bucket)
        self.function = ServiceFunction(
            self,
            "Handler",
            shared=shared,
            handler="functions.handlers.preview.lambda_handler",
            description="Computes one segment of a mass message's or calling list's preview",
            environment=environment,
            timeout=Duration.seconds(PREVIEW_TIMEOUT_SECONDS),
            memory_size=1024,  # a segment's run: up to 200,000 numbers before it is written
        )
        role = self.function.role
        grant_job_tables(role, tables)
        grant_bucket_prefix(lists_bucket, role, "read", "lists/")
        grant_bucket_prefix(lists_bucket, role, "read_write", "previews/")
        self.queue.grant_send_messages(role)  # a segment hands itself over near its time limit
        fanout_queue.grant_send_messages(role)  # a confirmed, unchanged job goes to the fan-out
        self.function.function.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=1,
                report_batch_item_failures=True,
                max_concurrency=PREVIEW_MAX_CONCURRENCY,
            )
        )

        # Uploaded lists: S3 puts an event for each arrival under uploads/ on this queue.
        self.uploads_queue, self.uploads_dead_letters = queue_with_dlq(
            self,
            LIST_UPLOADS_QUEUE_ID,
            LIST_UPLOADS_DLQ_ID,
            LIST_UPLOADS_VISIBILITY_SECONDS,
            LIST_UPLOADS_MAX_RECEIVES,
        )
        self.validation = ServiceFunction(
            self,
            "Validation",
            shared=shared,
            handler="functions.handlers.list_uploads.lambda_handler",
            description="Validates an uploaded calling list in one streaming pass, then previews it",
            environment=environment,
            timeout=Duration.seconds(LIST_VALIDATION_TIMEOUT_SECONDS),
            memory_size=512,
        )
        role = self.validation.role
        grant_job_tables(role, tables)
        grant_bucket_prefix(lists_bucket, role, "read", LIST_UPLOADS_PREFIX)
        grant_bucket_prefix(lists_bucket, role, "read_write", "lists/")
        self.queue.grant_send_messages(role)  # the accepted records' preview
        self.validation.function.add_event_source(
            sources.SqsEventSource(self.uploads_queue, batch_size=1, report_batch_item_failures=True)
        )
        self._notify_arrivals(lists_bucket)

    def _notify_arrivals(self, bucket: s3.Bucket) -> None:
        """S3 -> the uploads queue, as the bucket's own notification configuration (no custom resource).

        The queue's policy admits S3 from this account only; the bucket depends on it (S3 checks the
        destination when the configuration is set)."""
        self.uploads_queue.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("s3.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[self.uploads_queue.queue_arn],
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        cfn_bucket = bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            queue_configurations=[
                s3.CfnBucket.QueueConfigurationProperty(
                    event="s3:ObjectCreated:*",
                    queue=self.uploads_queue.queue_arn,
                    filter=s3.CfnBucket.NotificationFilterProperty(
                        s3_key=s3.CfnBucket.S3KeyFilterProperty(
                            rules=[s3.CfnBucket.FilterRuleProperty(name="prefix", value=LIST_UPLOADS_PREFIX)]
                        )
                    ),
                )
            ]
        )
        policy = self.uploads_queue.node.try_find_child("Policy")
        assert policy is not None
        assert isinstance(policy.node.default_child, CfnResource)
        cfn_bucket.add_resource_dependency(policy.node.default_child)  # S3 checks the destination at set-up
