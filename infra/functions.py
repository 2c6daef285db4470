"""One Lambda function of the service: shared code asset and layer, its own role and log group."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constants import ARCHITECTURE, PROJECT_ROOT, RUNTIME, SERVICE_NAME
from infra.nag import acknowledge_wildcard

# Everything but the functions package; byte-code caches never ship.
CODE_EXCLUDES = [".*", "*", "!functions", "!functions/**", "**/__pycache__", "**/*.pyc"]


class FunctionCode(Construct):
    """The single code asset and the dependency layer every function shares."""

    def __init__(self, scope: Construct, construct_id: str, layer: lambda_.ILayerVersion) -> None:
        super().__init__(scope, construct_id)
        self.code = lambda_.Code.from_asset(str(PROJECT_ROOT), exclude=CODE_EXCLUDES)
        self.layer = layer


class ServiceFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        shared: FunctionCode,
        handler: str,
        description: str,
        environment: dict[str, str],
        timeout: Duration | None = None,
        memory_size: int = 256,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self, "Logs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
        )
        # One role per function, nothing attached but what its construct grants.
        self.role = iam.Role(
            self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=description
        )
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=shared.code,
            handler=handler,
            layers=[shared.layer],
            role=self.role,
            description=description,
            timeout=timeout or Duration.seconds(30),
            memory_size=memory_size,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": "OutboundSms",
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **environment,
            },
        )
        self.log_group.grant_write(self.role)
        acknowledge_wildcard(
            self.role, "*", "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level scoping."
        )
