"""The one logger, tracer and metrics of the service (Powertools)."""

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "outbound-sms"
METRICS_NAMESPACE = "OutboundSms"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=METRICS_NAMESPACE)
