"""DynamoDB tables and the lists bucket; each one's access patterns are documented beside its
data-access module."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from functions.dal.messages import BY_READY_INDEX, BY_TENANT_INDEX, LOG_FIELDS, READY_FIELDS
from infra.constants import (
    CALLBACKS_TABLE_ID,
    CONFIG_TABLE_ID,
    IDEMPOTENCY_TABLE_ID,
    INBOUND_TABLE_ID,
    JOBS_TABLE_ID,
    LEASES_TABLE_ID,
    LEDGER_TABLE_ID,
    LISTS_BUCKET_ID,
    MESSAGES_TABLE_ID,
    OPT_OUTS_TABLE_ID,
    SUBJECT_SENDS_TABLE_ID,
)
from infra.nag import acknowledge

S = dynamodb.AttributeType.STRING


def _table(scope: Construct, construct_id: str, **keys: object) -> dynamodb.TableV2:
    return dynamodb.TableV2(
        scope,
        construct_id,
        billing=dynamodb.Billing.on_demand(),
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        deletion_protection=False,
        removal_policy=RemovalPolicy.RETAIN,
        **keys,
    )


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        # Tenants, departments, signatures, contacts, API keys (functions/dal/config.py).
        self.config_table = _table(
            self,
            CONFIG_TABLE_ID,
            partition_key=dynamodb.Attribute(name="pk", type=S),
            sort_key=dynamodb.Attribute(name="sk", type=S),
        )
        self.config_table.add_global_secondary_index(
            index_name="by_entity",
            partition_key=dynamodb.Attribute(name="gsi1pk", type=S),
            sort_key=dynamodb.Attribute(name="gsi1sk", type=S),
        )
        # Opted-out numbers per scope (functions/dal/opt_outs.py).
        self.opt_outs_table = _table(
            self,
            OPT_OUTS_TABLE_ID,
            partition_key=dynamodb.Attribute(name="scope", type=S),
            sort_key=dynamodb.Attribute(name="phone_number", type=S),
        )
        # Powertools idempotency records for retried API calls; they expire on their own.
        self.idempotency_table = _table(
            self,
            IDEMPOTENCY_TABLE_ID,
            partition_key=dynamodb.Attribute(name="id", type=S),
            time_to_live_attribute="expiration",
        )
        # Mass messages and calling lists: preview, confirmation, fan-out checkpoint (functions/dal/jobs.py).
        self.jobs_table = _table(self, JOBS_TABLE_ID, partition_key=dynamodb.Attribute(name="job_id", type=S))
        self.jobs_table.add_global_secondary_index(
            index_name="by_tenant",
            partition_key=dynamodb.Attribute(name="tenant_id", type=S),
            sort_key=dynamodb.Attribute(name="created_at", type=S),
        )
        self.jobs_table.add_global_secondary_index(
            index_name="by_schedule",
            partition_key=dynamodb.Attribute(name="schedule_shard", type=S),
            sort_key=dynamodb.Attribute(name="schedule_at", type=S),
            projection_type=dynamodb.ProjectionType.KEYS_ONLY,
        )
        # Uploaded calling lists, their validated records and refused rows, preview runs
        # (functions/dal/objects.py): private, encrypted, versioned, every prefix expiring.
        self.lists_bucket = s3.Bucket(
            self,
            LISTS_BUCKET_ID,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(id="uploads", prefix="uploads/", expiration=Duration.days(2)),
                s3.LifecycleRule(id="lists", prefix="lists/", expiration=Duration.days(45)),
                s3.LifecycleRule(id="previews", prefix="previews/", expiration=Duration.days(1)),
                s3.LifecycleRule(
                    id="versions",
                    noncurrent_version_expiration=Duration.days(1),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                    expired_object_delete_marker=True,
                ),
            ],
        )
        acknowledge(
            self.lists_bucket,
            "AwsSolutions-S1",
            "Only the platform's functions and the pre-signed URLs they issue touch it; CloudTrail "
            "data events, not server access logs, are the audit trail for the few writers it has.",
        )
        # Every message and its status history (functions/dal/messages.py).
        self.messages_table = _table(
            self,
            MESSAGES_TABLE_ID,
            partition_key=dynamodb.Attribute(name="message_id", type=S),
            time_to_live_attribute="expires_at",  # the log's retention
            # New ready messages kick their code's dispatcher (functions/handlers/kick.py).
            dynamo_stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,  # kicks; status events
        )
        # The tenant's log: what its filters read (a page's rows are then read from the table).
        self.messages_table.add_global_secondary_index(
            index_name=BY_TENANT_INDEX,
            partition_key=dynamodb.Attribute(name="tenant_shard", type=S),  # tenant id + shard
            sort_key=dynamodb.Attribute(name="created_key", type=S),
            projection_type=dynamodb.ProjectionType.INCLUDE,
            non_key_attributes=list(LOG_FIELDS),
        )
        self.messages_table.add_global_secondary_index(
            index_name="by_job",
            partition_key=dynamodb.Attribute(name="job_shard", type=S),  # job id + shard
            sort_key=dynamodb.Attribute(name="status", type=S),
            projection_type=dynamodb.ProjectionType.KEYS_ONLY,
        )
        self.messages_table.add_global_secondary_index(
            index_name="by_release",
            partition_key=dynamodb.Attribute(name="release_shard", type=S),
            sort_key=dynamodb.Attribute(name="release_at", type=S),
            projection_type=dynamodb.ProjectionType.INCLUDE,
            non_key_attributes=["tenant_id"],
        )
        # Sent messages waiting for their final delivery event, for the 72-hour deadline (sparse, sharded).
        self.messages_table.add_global_secondary_index(
            index_name="by_awaiting_receipt",
            partition_key=dynamodb.Attribute(name="receipt_shard", type=S),
            sort_key=dynamodb.Attribute(name="sent_at", type=S),
            projection_type=dynamodb.ProjectionType.KEYS_ONLY,
        )
        # The latest message from one of our numbers to a number: whom an inbound reply answers.
        self.messages_table.add_global_secondary_index(
            index_name="by_conversation",
            partition_key=dynamodb.Attribute(name="conversation", type=S),
            sort_key=dynamodb.Attribute(name="created_key", type=S),
            projection_type=dynamodb.ProjectionType.KEYS_ONLY,
        )
        # Each transport code's messages that may go now, then those in flight, for its dispatcher.
        self.messages_table.add_global_secondary_index(
            index_name=BY_READY_INDEX,
            partition_key=dynamodb.Attribute(name="ready_key", type=S),
            sort_key=dynamodb.Attribute(name="ready_sort", type=S),
            projection_type=dynamodb.ProjectionType.INCLUDE,
            non_key_attributes=[name for name in READY_FIELDS if name != "message_id"],
        )
        # Each transport code's dispatcher lease and daily count (functions/dal/leases.py).
        self.leases_table = _table(
            self, LEASES_TABLE_ID, partition_key=dynamodb.Attribute(name="code", type=S)
        )
        # Each tenant's prepaid balance and its append-only ledger (functions/dal/ledger.py).
        self.ledger_table = _table(
            self,
            LEDGER_TABLE_ID,
            partition_key=dynamodb.Attribute(name="tenant_id", type=S),
            sort_key=dynamodb.Attribute(name="entry_id", type=S),
        )
        self.ledger_table.add_global_secondary_index(
            index_name="by_time",
            partition_key=dynamodb.Attribute(name="tenant_id", type=S),
            sort_key=dynamodb.Attribute(name="at_key", type=S),
        )
        # Recent sends per (tenant, number, subject), the three-a-day rule's count
        # (functions/dal/subject_sends.py); items expire a day after their latest send.
        self.subject_sends_table = _table(
            self,
            SUBJECT_SENDS_TABLE_ID,
            partition_key=dynamodb.Attribute(name="pk", type=S),
            time_to_live_attribute="expires_at",
        )
        # Tenants' status callbacks, their circuits and delivery attempts (functions/dal/callbacks.py).
        self.callbacks_table = _table(
            self,
            CALLBACKS_TABLE_ID,
            partition_key=dynamodb.Attribute(name="pk", type=S),
            sort_key=dynamodb.Attribute(name="sk", type=S),
            time_to_live_attribute="expires_at",
        )
        # Inbound messages per tenant, each inbound message once, reply webhooks (functions/dal/inbound.py).
        self.inbound_table = _table(
            self,
            INBOUND_TABLE_ID,
            partition_key=dynamodb.Attribute(name="pk", type=S),
            sort_key=dynamodb.Attribute(name="sk", type=S),
            time_to_live_attribute="expires_at",
        )
