"""The one logger, tracer and metrics of the service (Powertools)."""

import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer

# A request that records no metric (a read) is normal here, not worth a warning per invocation.
warnings.filterwarnings("ignore", message="No application metrics to publish")

SERVICE = "outbound-sms"
METRICS_NAMESPACE = "OutboundSms"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=METRICS_NAMESPACE)
