"""The stack only composes the constructs, one per concern."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.api import Api
from infra.callbacks import StatusCallbacks
from infra.constants import (
    OUTPUT_ALARM_TOPIC,
    OUTPUT_API_URL,
    OUTPUT_CARRIER_WEBHOOK_SECRET,
    OUTPUT_DASHBOARD,
    OUTPUT_INBOUND_TOPIC,
    OUTPUT_REPLY_EVENT_BUS,
    OUTPUT_SMS_CONFIGURATION_SET,
)
from infra.fanout import FanOut
from infra.functions import FunctionCode
from infra.inbound import Inbound
from infra.layer import DependencyLayer
from infra.monitoring import Monitoring
from infra.previews import JobTables, Previews
from infra.receipts import Receipts
from infra.schedules import JobSchedule, ReleaseSchedule
from infra.sending import Sending
from infra.storage import Storage


class SmsPlatformStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)
        storage = Storage(self, "Storage")
        shared = FunctionCode(self, "FunctionCode", layer=DependencyLayer(self, "Dependencies").layer)
        receipts = Receipts(self, "Receipts", shared=shared, messages_table=storage.messages_table)
        sending = Sending(
            self,
            "Sending",
            shared=shared,
            messages_table=storage.messages_table,
            jobs_table=storage.jobs_table,
            config_table=storage.config_table,
            leases_table=storage.leases_table,
            configuration_set_name=receipts.configuration_set_name,
            configuration_set_arn=receipts.configuration_set_arn,
            ledger_table=storage.ledger_table,
            opt_outs_table=storage.opt_outs_table,
        )
        inbound = Inbound(
            self,
            "Inbound",
            shared=shared,
            config_table=storage.config_table,
            messages_table=storage.messages_table,
            opt_outs_table=storage.opt_outs_table,
            inbound_table=storage.inbound_table,
        )
        fanout = FanOut(
            self,
            "FanOut",
            shared=shared,
            config_table=storage.config_table,
            messages_table=storage.messages_table,
            opt_outs_table=storage.opt_outs_table,
            jobs_table=storage.jobs_table,
            lists_bucket=storage.lists_bucket,
            ledger_table=storage.ledger_table,
            subject_sends_table=storage.subject_sends_table,
        )
        sending.allow_kicks(fanout.function)  # its first messages start their code's dispatcher
        job_tables = JobTables(
            config=storage.config_table,
            messages=storage.messages_table,
            opt_outs=storage.opt_outs_table,
            jobs=storage.jobs_table,
            ledger=storage.ledger_table,
            subject_sends=storage.subject_sends_table,
        )
        previews = Previews(
            self,
            "Previews",
            shared=shared,
            tables=job_tables,
            lists_bucket=storage.lists_bucket,
            fanout_queue=fanout.queue,
        )
        api = Api(
            self,
            "Api",
            shared=shared,
            config_table=storage.config_table,
            messages_table=storage.messages_table,
            opt_outs_table=storage.opt_outs_table,
            idempotency_table=storage.idempotency_table,
            jobs_table=storage.jobs_table,
            lists_bucket=storage.lists_bucket,
            fanout_queue=fanout.queue,
            preview_queue=previews.queue,
            ledger_table=storage.ledger_table,
            inbound=inbound,
            inbound_table=storage.inbound_table,
            subject_sends_table=storage.subject_sends_table,
            callbacks_table=storage.callbacks_table,
        )
        # The console (served by the API) PUTs a calling list's file to its pre-signed URL: from the
        # API's origin only (errors.csv is a link, a navigation, which needs no CORS).
        storage.lists_bucket.add_cors_rule(
            allowed_methods=[s3.HttpMethods.PUT],
            allowed_origins=[api.http_api.api_endpoint],
            allowed_headers=["content-type"],
            max_age=3600,
        )
        StatusCallbacks(
            self,
            "StatusCallbacks",
            shared=shared,
            messages_table=storage.messages_table,
            callbacks_table=storage.callbacks_table,
            event_bus=inbound.event_bus,
        )
        ReleaseSchedule(
            self,
            "Schedules",
            shared=shared,
            messages_table=storage.messages_table,
            config_table=storage.config_table,
            leases_table=storage.leases_table,
            dispatcher=sending.dispatcher.function,
        )
        JobSchedule(
            self,
            "JobSchedule",
            shared=shared,
            tables=job_tables,
            lists_bucket=storage.lists_bucket,
            fanout_queue=fanout.queue,
            preview_queue=previews.queue,
        )
        CfnOutput(self, OUTPUT_API_URL, value=api.url)
        CfnOutput(self, OUTPUT_SMS_CONFIGURATION_SET, value=receipts.configuration_set_name)
        CfnOutput(self, OUTPUT_INBOUND_TOPIC, value=inbound.topic.topic_arn)
        CfnOutput(self, OUTPUT_CARRIER_WEBHOOK_SECRET, value=inbound.webhook_secret.secret_arn)
        CfnOutput(self, OUTPUT_REPLY_EVENT_BUS, value=inbound.event_bus.event_bus_name)
        # Last: it watches every function and dead-letter queue created above.
        monitoring = Monitoring(self, "Monitoring")
        CfnOutput(self, OUTPUT_ALARM_TOPIC, value=monitoring.topic.topic_arn)
        CfnOutput(self, OUTPUT_DASHBOARD, value=monitoring.dashboard.dashboard_name)
