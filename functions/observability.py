"""The one logger, tracer and metrics of the service (Powertools)."""

import warnings
from collections.abc import Mapping

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from functions.metrics_catalog import NAMESPACE, SERVICE

# A request that records no metric (a read) is normal here, not worth a warning per invocation.
warnings.filterwarnings("ignore", message="No application metrics to publish")

METRICS_NAMESPACE = NAMESPACE

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=METRICS_NAMESPACE)


def count_by_dimension(name: str, dimension: str, counts: Mapping[str, int]) -> None:
    """One count per value of ``dimension`` (an EMF document each: a document has one dimension set)."""
    for value, count in counts.items():
        if count <= 0:
            continue
        single = EphemeralMetrics(service=SERVICE, namespace=METRICS_NAMESPACE)
        single.add_dimension(name=dimension, value=value)
        single.add_metric(name=name, unit=MetricUnit.Count, value=count)
        single.flush_metrics()


def single_value_by_dimension(
    name: str, dimension: str, values: Mapping[str, float], unit: str = "Seconds"
) -> None:
    """One value per value of ``dimension`` (a gauge, such as an age), an EMF document each."""
    for value_of, value in values.items():
        single = EphemeralMetrics(service=SERVICE, namespace=METRICS_NAMESPACE)
        single.add_dimension(name=dimension, value=value_of)
        single.add_metric(name=name, unit=MetricUnit(unit), value=value)
        single.flush_metrics()
