"""Alarms and a dashboard: over the queues' and functions' own metrics, and the Powertools metrics the
functions emit (names in functions/metrics_catalog.py).

Created last in the stack: it watches every Lambda function and every dead-letter queue in it, found
in the construct tree, so a function or queue added later is watched without more wiring.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from functions.domain.messages import RejectReason
from functions.metrics_catalog import (
    AUTO_BUY,
    AUTO_BUY_FAILED,
    BALANCE_BELOW_THRESHOLD,
    MESSAGES_ACCEPTED,
    MESSAGES_CARRIER_THROTTLED,
    MESSAGES_DELIVERED,
    MESSAGES_FAILED,
    MESSAGES_INSUFFICIENT_FUNDS,
    MESSAGES_RECONCILED,
    MESSAGES_SENT,
    NAMESPACE,
    OLDEST_READY_SECONDS,
    ORIGINATION_DIMENSION,
    PARTS_SENT,
    REASON_DIMENSION,
    SERVICE,
    SERVICE_DIMENSION,
)

ONE_MINUTE = Duration.minutes(1)
FIVE_MINUTES = Duration.minutes(5)
# The pacer keeps each code under its rate, so throttling means the carrier's limit and the
# registry disagree; a few can follow a clock hiccup.
THROTTLES_PER_FIVE_MINUTES = 10
# A code's oldest ready message: a triggered one goes within seconds and the fan-out keeps a code's
# bulk backlog to a few minutes of sending, so ten minutes means no dispatcher is running for a code
# with ready messages (or its carrier keeps refusing it).
OLDEST_READY_MAX_AGE = Duration.minutes(10)
SEARCH_PERIOD_SECONDS = 60


def service_metric(
    name: str,
    statistic: str = "Sum",
    period: Duration = ONE_MINUTE,
    label: str | None = None,
    **dimensions: str,
) -> cloudwatch.Metric:
    """A metric the functions emit through Powertools: it always carries the service dimension."""
    return cloudwatch.Metric(
        namespace=NAMESPACE,
        metric_name=name,
        dimensions_map={SERVICE_DIMENSION: SERVICE, **dimensions},
        statistic=statistic,
        period=period,
        label=label,
    )


def _short_name(construct: Construct) -> str:
    """Api/Handler/Function -> ApiHandler: a readable, unique id for what watches it."""
    parts = construct.node.path.split("/")[1:]
    return "".join(part for part in parts if part not in {"Function", "Resource"})


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        everything = stack.node.find_all()
        functions = [node for node in everything if isinstance(node, lambda_.Function)]
        dead_letter_queues = [
            node.dead_letter_queue.queue
            for node in everything
            if isinstance(node, sqs.Queue) and node.dead_letter_queue is not None
        ]

        key = kms.Key(self, "AlarmsKey", enable_key_rotation=True, description="Encrypts alarm notifications")
        cloudwatch_service = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        key.grant(cloudwatch_service, "kms:GenerateDataKey*", "kms:Decrypt")
        self.topic = sns.Topic(self, "AlarmTopic", master_key=key, enforce_ssl=True)
        self.topic.grant_publish(cloudwatch_service)
        self.alarms: list[cloudwatch.Alarm] = []

        for queue in dead_letter_queues:
            self._alarm(
                f"{_short_name(queue)}Depth",
                queue.metric_approximate_number_of_messages_visible(period=ONE_MINUTE, statistic="Maximum"),
                threshold=1,
                description=f"Messages reached the dead-letter queue {queue.node.path}: read, then redrive.",
            )
        for function in functions:
            self._alarm(
                f"{_short_name(function)}Errors",
                function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                threshold=1,
                description=f"The function {function.node.path} failed (an uncaught error or a timeout).",
            )
        self._alarm(
            "CarrierThrottling",
            service_metric(MESSAGES_CARRIER_THROTTLED, period=FIVE_MINUTES),
            threshold=THROTTLES_PER_FIVE_MINUTES,
            description="The carrier throttled sends: a code's registered rate is above its real one.",
        )
        self._alarm(
            "OldestReadyMessage",
            service_metric(OLDEST_READY_SECONDS, statistic="Maximum"),
            threshold=OLDEST_READY_MAX_AGE.to_seconds(),
            evaluation_periods=3,
            description=(
                f"A code's oldest ready message waited over {OLDEST_READY_MAX_AGE.to_human_string()}:"
                " no dispatcher runs for it (the dashboard shows which code)."
            ),
        )
        self._alarm(
            "BalanceBelowThreshold",
            service_metric(BALANCE_BELOW_THRESHOLD, statistic="Maximum", period=FIVE_MINUTES),
            threshold=1,
            description="A tenant sends with its balance below its threshold (the log names the tenant).",
        )

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{stack.stack_name}-operations",
            default_interval=Duration.hours(3),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Sends",
                left=[
                    service_metric(MESSAGES_ACCEPTED, label="accepted"),
                    service_metric(MESSAGES_SENT, label="sent"),
                    service_metric(MESSAGES_INSUFFICIENT_FUNDS, label="insufficient funds"),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Deliveries",
                left=[
                    service_metric(MESSAGES_DELIVERED, label="delivered"),
                    cloudwatch.MathExpression(
                        expression=_search(MESSAGES_FAILED, REASON_DIMENSION, "SUM"),
                        label="failed",
                        period=ONE_MINUTE,
                    ),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Failures by reason",
                left=[
                    service_metric(MESSAGES_FAILED, label=reason.value, **{REASON_DIMENSION: reason.value})
                    for reason in RejectReason
                ],
                stacked=True,
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Parts per second by transport code (1-minute average)",
                left=[
                    cloudwatch.MathExpression(
                        expression=_search(PARTS_SENT, ORIGINATION_DIMENSION, per_second=True),
                        label="",
                        period=ONE_MINUTE,
                    )
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Carrier throttling and pacing",
                left=[
                    service_metric(MESSAGES_CARRIER_THROTTLED, label="throttled by the carrier"),
                    service_metric(MESSAGES_RECONCILED, label="claims reconciled after a dispatcher stopped"),
                ],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Oldest ready message by transport code (s)",
                left=[
                    cloudwatch.MathExpression(
                        expression=_search(OLDEST_READY_SECONDS, ORIGINATION_DIMENSION, statistic="Maximum"),
                        label="",
                        period=ONE_MINUTE,
                    )
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Dead-letter queues",
                left=[
                    queue.metric_approximate_number_of_messages_visible(
                        period=ONE_MINUTE, statistic="Maximum", label=_short_name(queue)
                    )
                    for queue in dead_letter_queues
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Function errors",
                left=[
                    function.metric_errors(period=ONE_MINUTE, statistic="Sum", label=_short_name(function))
                    for function in functions
                ],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Balances and auto-buy",
                left=[
                    service_metric(
                        BALANCE_BELOW_THRESHOLD, statistic="Maximum", label="a balance below threshold"
                    ),
                    service_metric(AUTO_BUY, label="auto-buys"),
                    service_metric(AUTO_BUY_FAILED, label="auto-buys declined"),
                ],
                width=12,
            ),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=12),
        )

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        description: str,
        evaluation_periods: int = 1,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        alarm.add_ok_action(actions.SnsAction(self.topic))
        self.alarms.append(alarm)
        return alarm


def _search(
    name: str, dimension: str, total: str | None = None, per_second: bool = False, statistic: str = "Sum"
) -> str:
    """A metric emitted per value of ``dimension``, every value (found at view time); summed if asked."""
    search = (
        f"SEARCH('{{{NAMESPACE},{SERVICE_DIMENSION},{dimension}}} MetricName=\"{name}\"', "
        f"'{statistic}', {SEARCH_PERIOD_SECONDS})"
    )
    if per_second:
        return f"{search} / {SEARCH_PERIOD_SECONDS}"
    return f"{total}({search})" if total else search
