"""Names shared by the stack, its tests and the local runtime."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_lambda as lambda_

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STACK_NAME = "OutboundSms"
SERVICE_NAME = "outbound-sms"

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
# The layer's wheels must match the runtime above (pip's platform flags).
LAYER_PYTHON_VERSION = "3.14"
LAYER_PLATFORM = "manylinux2014_aarch64"

# Logical ids the local runtime looks up in the synthesized template.
CONFIG_TABLE_ID = "ConfigTable"
MESSAGES_TABLE_ID = "MessagesTable"
OPT_OUTS_TABLE_ID = "OptOutsTable"
IDEMPOTENCY_TABLE_ID = "IdempotencyTable"
JOBS_TABLE_ID = "JobsTable"
LEASES_TABLE_ID = "LeasesTable"  # each transport code's dispatcher lease
LISTS_BUCKET_ID = "ListsBucket"  # uploaded calling lists, their records and refused rows, preview runs
LEDGER_TABLE_ID = "LedgerTable"
SUBJECT_SENDS_TABLE_ID = "SubjectSendsTable"
# Where the three-a-day rule applies (area codes' states), for tenants that turn it on.
THREE_A_DAY_STATES = ("FL", "OK", "MD")
FANOUT_QUEUE_ID = "FanOutQueue"
FANOUT_DLQ_ID = "FanOutDeadLetterQueue"
RECEIPTS_QUEUE_ID = "ReceiptsQueue"
RECEIPTS_DLQ_ID = "ReceiptsDeadLetterQueue"
DELIVERY_EVENTS_TOPIC_ID = "DeliveryEventsTopic"
INBOUND_TABLE_ID = "InboundTable"
INBOUND_TOPIC_ID = "InboundMessagesTopic"  # AWS End User Messaging two-way SMS publishes here
INBOUND_QUEUE_ID = "InboundQueue"
INBOUND_DLQ_ID = "InboundDeadLetterQueue"
REPLY_EVENT_BUS_ID = "ReplyEventBus"
CARRIER_WEBHOOK_SECRET_ID = "CarrierWebhookSecret"
CALLBACKS_TABLE_ID = "CallbacksTable"
CALLBACK_QUEUE_ID = "CallbackQueue"
CALLBACK_DLQ_ID = "CallbackDeadLetterQueue"

# Queue behaviour, shared with the local pollers so both behave alike.
# A dispatcher runs while its code has work, handing over to a fresh invocation near this limit.
DISPATCHER_TIMEOUT_SECONDS = 900
KICK_BATCH_SIZE = 100  # stream records per kick invocation
FANOUT_TIMEOUT_SECONDS = 300
FANOUT_VISIBILITY_SECONDS = 6 * FANOUT_TIMEOUT_SECONDS
FANOUT_MAX_RECEIVES = 5
FANOUT_MAX_CONCURRENCY = 5
PREVIEW_QUEUE_ID = "PreviewQueue"
PREVIEW_DLQ_ID = "PreviewDeadLetterQueue"
PREVIEW_TIMEOUT_SECONDS = 300
PREVIEW_VISIBILITY_SECONDS = 6 * PREVIEW_TIMEOUT_SECONDS
PREVIEW_MAX_RECEIVES = 5
PREVIEW_MAX_CONCURRENCY = 20  # a preview has at most 16 segments, each its own work item
LIST_UPLOADS_QUEUE_ID = "ListUploadsQueue"  # the lists bucket's uploads/ arrivals
LIST_UPLOADS_DLQ_ID = "ListUploadsDeadLetterQueue"
LIST_VALIDATION_TIMEOUT_SECONDS = 900  # one pass over a file of up to 1,000,000 records
LIST_UPLOADS_VISIBILITY_SECONDS = 6 * LIST_VALIDATION_TIMEOUT_SECONDS
LIST_UPLOADS_MAX_RECEIVES = 3
LIST_UPLOADS_PREFIX = "uploads/"
RECEIPTS_BATCH_SIZE = 100  # with the window: a message's events often share a batch, and one write
RECEIPTS_BATCHING_WINDOW_SECONDS = 2
RECEIPTS_MAX_RECEIVES = 5
RECEIPTS_VISIBILITY_SECONDS = 180
INBOUND_BATCH_SIZE = 10
INBOUND_MAX_RECEIVES = 5
INBOUND_TIMEOUT_SECONDS = 60  # a batch may post to tenants' webhooks (3 s each at most)
INBOUND_VISIBILITY_SECONDS = 6 * INBOUND_TIMEOUT_SECONDS
CALLBACK_BATCH_SIZE = 10
CALLBACK_TIMEOUT_SECONDS = 60  # ten posts of 3 s at most, and the log
CALLBACK_VISIBILITY_SECONDS = 6 * CALLBACK_TIMEOUT_SECONDS
# A backstop only: an event is given up by its age (26 h), sent to the DLQ by the deliverer itself.
CALLBACK_MAX_RECEIVES = 100

# There is no real payment provider yet: deployed, every purchase (and auto-buy) is declined and
# recorded; the local runtime and the tests select the payment simulator instead.
PAYMENT_PROVIDER = "disabled"

OUTPUT_API_URL = "ApiUrl"
OUTPUT_SMS_CONFIGURATION_SET = "SmsConfigurationSet"
# Set as each number's two-way channel (TwoWayChannelArn); the local runtime's carrier publishes here.
OUTPUT_INBOUND_TOPIC = "InboundMessagesTopicArn"
OUTPUT_CARRIER_WEBHOOK_SECRET = "CarrierWebhookSecretArn"
OUTPUT_REPLY_EVENT_BUS = "ReplyEventBusName"
OUTPUT_ALARM_TOPIC = "AlarmTopicArn"  # subscribe to be told of every alarm
OUTPUT_DASHBOARD = "DashboardName"
