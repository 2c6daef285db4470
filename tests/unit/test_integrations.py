"""EventBridge and Secrets Manager behind their small interfaces (botocore Stubber)."""

import boto3
import pytest
from botocore.stub import ANY, Stubber

from functions.integrations.events import EventBridgePublisher, EventPublishFailed
from functions.integrations.secrets import SecretValue


def test_an_event_goes_to_the_bus_and_a_refused_one_raises():
    client = boto3.client("events", region_name="us-east-1")
    entry = {
        "EventBusName": "replies",
        "Source": "outbound-sms",
        "DetailType": "SMS reply received",
        "Detail": ANY,
    }
    with Stubber(client) as stub:
        stub.add_response(
            "put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]}, {"Entries": [entry]}
        )
        stub.add_response(
            "put_events",
            {
                "FailedEntryCount": 1,
                "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}],
            },
            {"Entries": [entry]},
        )
        publisher = EventBridgePublisher(client, "replies")
        publisher.publish("SMS reply received", {"body": "hi"})
        with pytest.raises(EventPublishFailed, match="InternalFailure"):
            publisher.publish("SMS reply received", {"body": "hi"})


def test_a_secret_is_read_once_per_container():
    client = boto3.client("secretsmanager", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response("get_secret_value", {"SecretString": "s3cret"}, {"SecretId": "carriers"})
        secret = SecretValue(client, "carriers")
        assert secret.get() == secret.get() == "s3cret"  # a second read would find no stubbed answer
