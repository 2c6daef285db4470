"""EventBridge, Secrets Manager and tenant webhooks behind their small interfaces (botocore Stubber)."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from botocore.stub import ANY, Stubber

from functions.integrations.events import EventBridgePublisher, EventPublishFailed
from functions.integrations.secrets import SecretValue
from functions.integrations.webhooks import HttpWebhookPoster


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


class Redirecting(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.send_response(307)
        self.send_header("location", "http://169.254.169.254/latest/meta-data")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_a_webhook_that_redirects_or_cannot_be_reached_fails_without_raising():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    poster = HttpWebhookPoster(timeout_seconds=1)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        assert poster.post(url, b"{}", {"Content-Type": "application/json"}) == "failed: HTTP 307"
    finally:
        server.shutdown()
        server.server_close()
    assert poster.post(url, b"{}", {}).startswith("failed: ")  # nothing listens there now
