"""The HTTP API: an API-key Lambda authorizer in front of the api function."""

from __future__ import annotations

import jsii
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from functions.public_routes import PUBLIC_ROUTES
from infra.constants import PAYMENT_PROVIDER, THREE_A_DAY_STATES
from infra.functions import FunctionCode, ServiceFunction
from infra.inbound import Inbound
from infra.nag import acknowledge, acknowledge_index_access, grant_bucket_prefix


@jsii.implements(apigw.IAccessLogSettings)
class AccessLogs:
    """Access logging for a stage, in API Gateway's default JSON format."""

    def __init__(self, destination: apigw.IAccessLogDestination) -> None:
        self._destination = destination

    @property
    def destination(self) -> apigw.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> None:
        return None


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        shared: FunctionCode,
        config_table: dynamodb.ITableV2,
        messages_table: dynamodb.ITableV2,
        opt_outs_table: dynamodb.ITableV2,
        idempotency_table: dynamodb.ITableV2,
        jobs_table: dynamodb.ITableV2,
        lists_bucket: s3.IBucket,
        fanout_queue: sqs.IQueue,
        preview_queue: sqs.IQueue,
        ledger_table: dynamodb.ITableV2,
        inbound: Inbound,
        inbound_table: dynamodb.ITableV2,
        subject_sends_table: dynamodb.ITableV2,
        callbacks_table: dynamodb.ITableV2,
    ) -> None:
        super().__init__(scope, construct_id)
        self.authorizer_function = ServiceFunction(
            self,
            "Authorizer",
            shared=shared,
            handler="functions.handlers.authorizer.lambda_handler",
            description="Checks API keys and names their tenant and permissions",
            environment={"CONFIG_TABLE": config_table.table_name},
            timeout=Duration.seconds(10),
        )
        config_table.grant_read_data(self.authorizer_function.role)
        acknowledge_index_access(self.authorizer_function.role, config_table)

        self.api_function = ServiceFunction(
            self,
            "Handler",
            shared=shared,
            handler="functions.handlers.api.lambda_handler",
            description="The HTTP API of the SMS platform",
            environment={
                "CONFIG_TABLE": config_table.table_name,
                "MESSAGES_TABLE": messages_table.table_name,
                "OPT_OUTS_TABLE": opt_outs_table.table_name,
                "IDEMPOTENCY_TABLE": idempotency_table.table_name,
                "JOBS_TABLE": jobs_table.table_name,
                "LISTS_BUCKET": lists_bucket.bucket_name,
                "FANOUT_QUEUE_URL": fanout_queue.queue_url,
                "PREVIEW_QUEUE_URL": preview_queue.queue_url,
                "LEDGER_TABLE": ledger_table.table_name,
                "PAYMENT_PROVIDER": PAYMENT_PROVIDER,
                "INBOUND_TABLE": inbound_table.table_name,
                "INBOUND_QUEUE_URL": inbound.queue.queue_url,
                "INBOUND_WEBHOOK_SECRET_ID": inbound.webhook_secret.secret_arn,
                "SUBJECT_SENDS_TABLE": subject_sends_table.table_name,
                "THREE_A_DAY_STATES": ",".join(THREE_A_DAY_STATES),
                "CALLBACKS_TABLE": callbacks_table.table_name,
            },
            memory_size=1024,
        )
        config_table.grant_read_write_data(self.api_function.role)
        acknowledge_index_access(self.api_function.role, config_table)
        opt_outs_table.grant_read_write_data(self.api_function.role)
        idempotency_table.grant_read_write_data(self.api_function.role)
        jobs_table.grant_read_write_data(self.api_function.role)
        # Inline lists are validated here; uploads are signed here (PUT uploads/*); the refused rows are
        # read and signed for download; small previews are computed inline (their runs).
        grant_bucket_prefix(lists_bucket, self.api_function.role, "read_write", "lists/")
        grant_bucket_prefix(lists_bucket, self.api_function.role, "delete", "lists/")
        grant_bucket_prefix(lists_bucket, self.api_function.role, "put", "uploads/")
        grant_bucket_prefix(lists_bucket, self.api_function.role, "read_write", "previews/")
        preview_queue.grant_send_messages(self.api_function.role)
        acknowledge_index_access(self.api_function.role, jobs_table)
        fanout_queue.grant_send_messages(self.api_function.role)
        messages_table.grant_read_write_data(self.api_function.role)
        acknowledge_index_access(self.api_function.role, messages_table)
        ledger_table.grant_read_write_data(self.api_function.role)  # balance, ledger, credits, auto-buy
        acknowledge_index_access(self.api_function.role, ledger_table)
        # Replies, reply webhooks; carriers' signed webhooks go on the inbound queue.
        inbound_table.grant_read_write_data(self.api_function.role)
        inbound.queue.grant_send_messages(self.api_function.role)
        inbound.webhook_secret.grant_read(self.api_function.role)
        # The three-a-day rule: count a triggered message (read, conditional put), read a preview's.
        subject_sends_table.grant(
            self.api_function.role, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:BatchGetItem"
        )
        callbacks_table.grant_read_write_data(self.api_function.role)  # status callbacks, delivery log

        access_logs = logs.LogGroup(
            self, "AccessLogs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
        )
        authorizer = authorizers.HttpLambdaAuthorizer(
            "ApiKeyAuthorizer",
            self.authorizer_function.function,
            response_types=[authorizers.HttpLambdaResponseType.SIMPLE],
            identity_source=["$request.header.Authorization"],
            results_cache_ttl=Duration.minutes(1),
        )
        integration = integrations.HttpLambdaIntegration("ApiIntegration", self.api_function.function)
        self.http_api = apigw.HttpApi(
            self,
            "HttpApi",
            description="Outbound SMS platform",
            default_authorizer=authorizer,
            create_default_stage=False,
        )
        self.stage = apigw.HttpStage(
            self,
            "DefaultStage",
            http_api=self.http_api,
            auto_deploy=True,
            access_log_settings=AccessLogs(apigw.LogGroupLogDestination(access_logs)),
            throttle=apigw.ThrottleSettings(rate_limit=200, burst_limit=400),
        )
        self.http_api.add_routes(path="/{proxy+}", methods=[apigw.HttpMethod.ANY], integration=integration)
        for method, path in PUBLIC_ROUTES:
            routes = self.http_api.add_routes(
                path=path,
                methods=[apigw.HttpMethod(method)],
                integration=integration,
                authorizer=apigw.HttpNoneAuthorizer(),
            )
            for route in routes:
                acknowledge(
                    route,
                    "AwsSolutions-APIG4",
                    "Public by design: the OpenAPI document, the console's static files (the console "
                    "sends an API key with every call) and carriers' webhooks (each request HMAC-signed).",
                )

    @property
    def url(self) -> str:
        return self.stage.url
