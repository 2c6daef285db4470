"""Sending: one dispatcher per transport code, started by a kick on the Messages table's stream.

Also ``queue_with_dlq``, the queue-and-dead-letter-queue pair the stack's queued work uses.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constants import (
    DISPATCHER_TIMEOUT_SECONDS,
    KICK_BATCH_SIZE,
    PAYMENT_PROVIDER,
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
    """The dispatcher function (one invocation per transport code at a time, by its lease) and the kick.

    The kick reads the Messages table's stream, filtered to records whose new image carries a ready
    key, and starts the dispatcher of each code that has none running (an asynchronous invoke).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        shared: FunctionCode,
        messages_table: dynamodb.TableV2,
        jobs_table: dynamodb.ITableV2,
        config_table: dynamodb.ITableV2,
        leases_table: dynamodb.ITableV2,
        configuration_set_name: str,
        configuration_set_arn: str,
        ledger_table: dynamodb.ITableV2,
        opt_outs_table: dynamodb.ITableV2,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dispatcher = ServiceFunction(
            self,
            "Dispatcher",
            shared=shared,
            handler="functions.handlers.dispatcher.lambda_handler",
            description="Sends a transport code's ready messages at its pace while it holds the code's lease",
            environment={
                "MESSAGES_TABLE": messages_table.table_name,
                "JOBS_TABLE": jobs_table.table_name,
                "CONFIG_TABLE": config_table.table_name,
                "LEASES_TABLE": leases_table.table_name,
                "SMS_CONFIGURATION_SET": configuration_set_name,
                "LEDGER_TABLE": ledger_table.table_name,
                "PAYMENT_PROVIDER": PAYMENT_PROVIDER,
                "OPT_OUTS_TABLE": opt_outs_table.table_name,
            },
            timeout=Duration.seconds(DISPATCHER_TIMEOUT_SECONDS),
        )
        role = self.dispatcher.role
        messages_table.grant_read_write_data(role)  # the ready index, claims, Sent records
        acknowledge_index_access(role, messages_table)
        jobs_table.grant_read_data(role)  # a cancelled job's messages are not sent
        acknowledge_index_access(role, jobs_table)
        config_table.grant_read_data(role)  # its transport code: throughput, daily cap, opt-out scope
        acknowledge_index_access(role, config_table)
        leases_table.grant_read_write_data(role)
        opt_outs_table.grant_read_data(role)  # checked before a claim
        opt_outs_table.grant(
            role, "dynamodb:PutItem"
        )  # a carrier's opt-out is copied in (audited, only if absent)
        acknowledge_index_access(role, opt_outs_table)
        grant_ledger_items(ledger_table, role)  # each batch is debited in its claim
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["sms-voice:SendTextMessage"],
                # The configuration set, and the tenant sending numbers it sends from.
                resources=[configuration_set_arn, self._phone_numbers_arn()],
            )
        )
        acknowledge_wildcard(
            role,
            "arn:<AWS::Partition>:sms-voice:<AWS::Region>:<AWS::AccountId>:phone-number/*",
            "SendTextMessage names its sending number per call; tenants' numbers are operator-managed data.",
        )
        # Near its time limit a dispatcher hands its code over to a fresh invocation of itself. Its own
        # ARN in its own policy would be a cycle (the function waits for its role's policy), so the
        # grant names the function by its generated name's prefix.
        own_functions = Stack.of(self).format_arn(
            service="lambda",
            resource="function",
            resource_name=f"{Stack.of(self).stack_name}-SendingDispatcher*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[own_functions])
        )
        acknowledge_wildcard(
            role,
            f"arn:<AWS::Partition>:lambda:<AWS::Region>:<AWS::AccountId>:function:{Stack.of(self).stack_name}-SendingDispatcher*",
            "A dispatcher near its time limit invokes itself; its own ARN in its policy would be a cycle.",
        )

        self._leases_table = leases_table
        self.kick = ServiceFunction(
            self,
            "Kick",
            shared=shared,
            handler="functions.handlers.kick.lambda_handler",
            description="Starts the dispatcher of each transport code that gained a ready message",
            environment={},  # allow_kicks sets it
            timeout=Duration.seconds(30),
        )
        self.allow_kicks(self.kick)
        self.kick.function.add_event_source(
            sources.DynamoEventSource(
                messages_table,
                starting_position=lambda_.StartingPosition.LATEST,
                batch_size=KICK_BATCH_SIZE,
                retry_attempts=2,  # a kick lost is repaired by the minute schedule
                # A message made ready (created, released, handed back): its sort key is in a lane
                # ("0#", "1#"); a claim moves it to "9#" and is no kick.
                filters=[
                    lambda_.FilterCriteria.filter(
                        {
                            "dynamodb": {
                                "NewImage": {"ready_sort": {"S": [{"prefix": "0#"}, {"prefix": "1#"}]}}
                            }
                        }
                    )
                ],
            )
        )

    def allow_kicks(self, function: ServiceFunction) -> None:
        """Let ``function`` start dispatchers as a kick does: read a code's lease, invoke the dispatcher."""
        function.function.add_environment("LEASES_TABLE", self._leases_table.table_name)
        function.function.add_environment("DISPATCHER_FUNCTION", self.dispatcher.function.function_name)
        self._leases_table.grant_read_data(function.role)
        self.dispatcher.function.grant_invoke(function.role)
        acknowledge_wildcard(
            function.role,
            f"<{Stack.of(self).get_logical_id(self.dispatcher.function.node.default_child)}.Arn>:*",
            "Invoking the dispatcher function's versions and aliases.",
        )

    def _phone_numbers_arn(self) -> str:
        return Stack.of(self).format_arn(service="sms-voice", resource="phone-number", resource_name="*")
