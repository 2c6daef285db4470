"""Side effects outside DynamoDB and SQS: EventBridge, tenants' webhooks, Secrets Manager."""
