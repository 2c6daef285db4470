"""Delivery status callbacks: the Messages stream -> status events (bus + callback queue) -> the deliverer."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from infra.constants import (
    CALLBACK_BATCH_SIZE,
    CALLBACK_DLQ_ID,
    CALLBACK_MAX_RECEIVES,
    CALLBACK_QUEUE_ID,
    CALLBACK_TIMEOUT_SECONDS,
    CALLBACK_VISIBILITY_SECONDS,
)
from infra.functions import FunctionCode, ServiceFunction
from infra.sending import queue_with_dlq

# The statuses a callback reports (functions/domain/callbacks.py PUBLISHED_STATUSES): the stream's
# other records never invoke the function.
PUBLISHED_STATUSES = ["Sent", "Delivered", "Failed", "Insufficient funds"]


class StatusCallbacks(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        shared: FunctionCode,
        messages_table: dynamodb.ITableV2,
        callbacks_table: dynamodb.ITableV2,
        event_bus: events.IEventBus,
    ) -> None:
        super().__init__(scope, construct_id)
        self.queue, self.dead_letters = queue_with_dlq(
            self, CALLBACK_QUEUE_ID, CALLBACK_DLQ_ID, CALLBACK_VISIBILITY_SECONDS, CALLBACK_MAX_RECEIVES
        )
        self.publisher = ServiceFunction(
            self,
            "StatusEvents",
            shared=shared,
            handler="functions.handlers.status_events.lambda_handler",
            description="Turns message status changes into status events and queues tenants' callbacks",
            environment={
                "CALLBACKS_TABLE": callbacks_table.table_name,
                "CALLBACK_QUEUE_URL": self.queue.queue_url,
                "STATUS_EVENT_BUS": event_bus.event_bus_name,
            },
        )
        callbacks_table.grant_read_data(self.publisher.role)
        self.queue.grant_send_messages(self.publisher.role)
        event_bus.grant_put_events_to(self.publisher.role)
        self.publisher.function.add_event_source(
            sources.DynamoEventSource(
                messages_table,
                starting_position=lambda_.StartingPosition.LATEST,
                batch_size=100,
                max_batching_window=Duration.seconds(1),
                retry_attempts=10,
                bisect_batch_on_error=True,
                filters=[
                    lambda_.FilterCriteria.filter(
                        {
                            "dynamodb": {
                                "NewImage": {"status": {"S": lambda_.FilterRule.or_(*PUBLISHED_STATUSES)}}
                            }
                        }
                    )
                ],
            )
        )
        self.deliverer = ServiceFunction(
            self,
            "Deliverer",
            shared=shared,
            handler="functions.handlers.callbacks.lambda_handler",
            description="Posts status events to tenants' callbacks, signed, with retries",
            environment={
                "CALLBACKS_TABLE": callbacks_table.table_name,
                "CALLBACK_QUEUE_URL": self.queue.queue_url,
                "CALLBACK_DLQ_URL": self.dead_letters.queue_url,
            },
            timeout=Duration.seconds(CALLBACK_TIMEOUT_SECONDS),
        )
        callbacks_table.grant_read_write_data(self.deliverer.role)
        self.queue.grant_consume_messages(self.deliverer.role)  # also ChangeMessageVisibility: the backoff
        self.dead_letters.grant_send_messages(self.deliverer.role)  # an event given up after 26 h
        self.deliverer.function.add_event_source(
            sources.SqsEventSource(
                self.queue, batch_size=CALLBACK_BATCH_SIZE, report_batch_item_failures=True
            )
        )
