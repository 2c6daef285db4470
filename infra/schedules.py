"""The every-minute schedules: releasing held (quiet-hour) messages, starting scheduled jobs.

Each release run also starts the dispatcher of any transport code with ready or in-flight messages
and none running (the safety net under the stream's kicks), and reports per code the age of its
oldest ready message, which the monitoring alarms on.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.functions import FunctionCode, ServiceFunction
from infra.nag import acknowledge_index_access, acknowledge_wildcard, grant_bucket_prefix
from infra.previews import JobTables, grant_job_tables, job_environment

# At the start of every minute: holds end on whole minutes, so a release runs seconds after one ends
# (a rate(1 minute) schedule runs at whatever second it was created, up to a minute late).
RELEASE_SCHEDULE = scheduler.ScheduleExpression.cron(minute="*")


class ReleaseSchedule(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        shared: FunctionCode,
        messages_table: dynamodb.ITableV2,
        config_table: dynamodb.ITableV2,
        leases_table: dynamodb.ITableV2,
        dispatcher: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        self.release = ServiceFunction(
            self,
            "Release",
            shared=shared,
            handler="functions.handlers.release.lambda_handler",
            description="Releases held messages whose time has come; starts idle codes' dispatchers",
            environment={
                "MESSAGES_TABLE": messages_table.table_name,
                "CONFIG_TABLE": config_table.table_name,
                "LEASES_TABLE": leases_table.table_name,
                "DISPATCHER_FUNCTION": dispatcher.function_name,
            },
            timeout=Duration.seconds(50),
        )
        messages_table.grant_read_write_data(self.release.role)
        acknowledge_index_access(self.release.role, messages_table)
        config_table.grant_read_data(self.release.role)  # the transport codes to watch
        acknowledge_index_access(self.release.role, config_table)
        leases_table.grant_read_data(self.release.role)
        dispatcher.grant_invoke(self.release.role)
        dispatcher_id = Stack.of(self).get_logical_id(dispatcher.node.default_child)
        acknowledge_wildcard(
            self.release.role,
            f"<{dispatcher_id}.Arn>:*",
            "Invoking the dispatcher function's versions and aliases.",
        )
        invoker = iam.Role(
            self,
            "InvokerRole",
            assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
            description="Runs release",
        )
        self.schedule = scheduler.Schedule(
            self,
            "EveryMinute",
            schedule=RELEASE_SCHEDULE,
            description="Release held messages",
            target=targets.LambdaInvoke(self.release.function, retry_attempts=0, role=invoker),
        )
        function_id = Stack.of(self).get_logical_id(self.release.function.node.default_child)
        acknowledge_wildcard(
            invoker, f"<{function_id}.Arn>:*", "Invoking the release function's versions and aliases."
        )


class JobSchedule(Construct):
    """At the start of every minute: scheduled mass messages and calling lists whose time has come start
    (their preview is computed again first, by the preview function)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        shared: FunctionCode,
        tables: JobTables,
        lists_bucket: s3.IBucket,
        fanout_queue: sqs.IQueue,
        preview_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.starter = ServiceFunction(
            self,
            "Starter",
            shared=shared,
            handler="functions.handlers.scheduled_jobs.lambda_handler",
            description="Starts the scheduled mass messages and calling lists whose time has come",
            environment=job_environment(tables, fanout_queue, preview_queue, lists_bucket),
            timeout=Duration.seconds(50),
        )
        grant_job_tables(self.starter.role, tables)
        grant_bucket_prefix(
            lists_bucket, self.starter.role, "read", "lists/"
        )  # a list's size sets its preview's segments
        preview_queue.grant_send_messages(self.starter.role)
        invoker = iam.Role(
            self,
            "InvokerRole",
            assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
            description="Runs the scheduled jobs' starter",
        )
        self.schedule = scheduler.Schedule(
            self,
            "EveryMinute",
            schedule=RELEASE_SCHEDULE,
            description="Start scheduled mass messages and calling lists",
            target=targets.LambdaInvoke(self.starter.function, retry_attempts=0, role=invoker),
        )
        function_id = Stack.of(self).get_logical_id(self.starter.function.node.default_child)
        acknowledge_wildcard(
            invoker, f"<{function_id}.Arn>:*", "Invoking the starter function's versions and aliases."
        )
