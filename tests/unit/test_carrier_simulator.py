"""The simulator is the measuring instrument for pacing: driven here over HTTP with the real boto3 client."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from unittest.mock import patch

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from functions.carriers.aws_sms import AwsSmsCarrier
from functions.carriers.base import (
    CarrierInDoubt,
    CarrierRejected,
    CarrierThrottled,
    CarrierUnavailable,
    OutboundSms,
)
from functions.domain.messages import RejectReason
from local.carrier import CarrierSimulator, SimulatorSettings

CODE, OTHER_CODE = "+18005550100", "+18005550111"


@pytest.fixture
def simulator() -> Iterator[CarrierSimulator]:
    simulator = CarrierSimulator(SimulatorSettings(parts_per_second={CODE: 2, OTHER_CODE: 1}))
    simulator.serve()
    yield simulator
    simulator.shutdown()


@pytest.fixture
def client(simulator: CarrierSimulator) -> Any:
    return boto3.client(
        "pinpoint-sms-voice-v2",
        endpoint_url=simulator.url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"total_max_attempts": 1}),
    )


def send(client: Any, at: float | None = None, body: str = "hi", origination: str = CODE, **extra: Any):
    request = {
        "DestinationPhoneNumber": "+14165550123",
        "OriginationIdentity": origination,
        "MessageBody": body,
    }
    if at is None:
        return client.send_text_message(**request, **extra)
    with patch("local.carrier.time.time", return_value=at):
        return client.send_text_message(**request, **extra)


def error_of(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value.response


def test_the_real_client_sends_and_gets_a_message_id(simulator: CarrierSimulator, client: Any):
    answer = send(client, Context={"message_id": "m1"})
    (record,) = simulator.records
    assert answer["MessageId"] == record.carrier_message_id
    assert (record.origination, record.destination, record.context) == (
        CODE,
        "+14165550123",
        {"message_id": "m1"},
    )
    assert abs(record.at - time.time()) < 5  # timed on arrival, in the simulator's process


def test_parts_in_any_one_second_window_stay_within_the_limit(simulator: CarrierSimulator, client: Any):
    assert "MessageId" in send(client, 100.0)
    assert "MessageId" in send(client, 100.5)
    throttled = error_of(lambda: send(client, 100.9))
    assert throttled["Error"]["Code"] == "ThrottlingException"
    assert throttled["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "MessageId" in send(client, 101.0)  # the first left the window [100.0, 101.0)
    assert simulator.throttled == 1
    assert [record.at for record in simulator.records] == [100.0, 100.5, 101.0]


def test_a_multipart_message_counts_every_part(simulator: CarrierSimulator, client: Any):
    simulator.settings.parts_per_second[CODE] = 3
    assert "MessageId" in send(client, 10.0, body="a" * 200)  # 2 parts
    assert error_of(lambda: send(client, 10.2, body="a" * 200))["Error"]["Code"] == "ThrottlingException"
    assert "MessageId" in send(client, 10.3)  # 1 more part fits
    assert [record.parts for record in simulator.records] == [2, 1]


def test_limits_are_per_origination(simulator: CarrierSimulator, client: Any):
    assert "MessageId" in send(client, 5.0)
    assert "MessageId" in send(client, 5.1, origination=OTHER_CODE)


def test_refusals_come_back_in_the_services_error_shapes(simulator: CarrierSimulator, client: Any):
    # GIVEN a number opted out at the carrier
    simulator.settings.opted_out.add("+14165550123")
    conflict = error_of(lambda: send(client))
    assert conflict["Error"]["Code"] == "ConflictException"
    assert conflict["Reason"] == "DESTINATION_PHONE_NUMBER_OPTED_OUT"
    invalid = error_of(
        lambda: client.send_text_message(DestinationPhoneNumber="4165550123", MessageBody="hi")
    )
    assert (invalid["Error"]["Code"], invalid["Reason"]) == ("ValidationException", "INVALID_PARAMETER")
    assert simulator.records == []


def test_the_platforms_carrier_adapter_maps_the_simulators_answers(simulator: CarrierSimulator, client: Any):
    carrier = AwsSmsCarrier(client, configuration_set=None, time_to_live_seconds=3600)
    simulator.settings.parts_per_second[CODE] = 1
    sms = OutboundSms(CODE, "+14165550123", "hi", "m1", "t1")
    assert carrier.send(sms) == simulator.records[-1].carrier_message_id
    with pytest.raises(CarrierThrottled):
        carrier.send(sms)
    simulator.settings.opted_out.add("+14165550125")
    with pytest.raises(CarrierRejected) as rejected:
        carrier.send(OutboundSms(OTHER_CODE, "+14165550125", "hi", "m2", "t1"))
    assert rejected.value.reason is RejectReason.OPTED_OUT


def test_added_latency_delays_each_call_before_it_arrives(simulator: CarrierSimulator, client: Any):
    simulator.settings.latency_ms = (40.0, 60.0)
    simulator.settings.parts_per_second[CODE] = 100
    started = time.time()
    send(client)
    elapsed = time.time() - started
    (record,) = simulator.records
    assert 0.04 <= elapsed < 1.0
    assert record.at - started >= 0.04  # timed when it arrived, after the delay


def test_delivery_events_success_then_delivered_or_a_final_success_alone(
    simulator: CarrierSimulator, client: Any
):
    published: list[dict[str, Any]] = []
    simulator.settings.receipt_delay_seconds = 2.0
    simulator.settings.successful_is_final.add("+14165550125")
    simulator.connect(
        {"set-1": [("topic-arn", ["ALL"])]}, lambda arn, event: published.append(json.loads(event))
    )
    send(client, 50.0, ConfigurationSetName="set-1", Context={"message_id": "m1"})
    client.send_text_message(
        DestinationPhoneNumber="+14165550125", OriginationIdentity=OTHER_CODE, MessageBody="hi",
        ConfigurationSetName="set-1", Context={"message_id": "m2"},
    )  # fmt: skip
    assert simulator.pump(now=50.5) == 0
    assert simulator.pump(now=time.time() + 10) == 3
    by_message = {}
    for event in published:
        by_message.setdefault(event["context"]["message_id"], []).append(
            (event["eventType"], event["isFinal"])
        )
    assert by_message == {
        "m1": [("TEXT_SUCCESSFUL", False), ("TEXT_DELIVERED", True)],
        "m2": [("TEXT_SUCCESSFUL", True)],
    }


def test_the_local_runtime_takes_a_latency_range_for_the_simulator():
    from local.__main__ import parse_args

    assert parse_args(["--carrier-latency-ms", "0-50"]).simulator.latency_ms == (0.0, 50.0)
    assert parse_args(["--carrier-latency-ms", "20"]).simulator.latency_ms == (20.0, 20.0)
    assert parse_args([]).simulator.latency_ms == (0.0, 0.0)
    with pytest.raises(SystemExit):
        parse_args(["--carrier-latency-ms", "50-10"])


def test_the_local_runtime_admits_loopback_webhooks_only_when_asked():
    from local.__main__ import parse_args

    assert parse_args([]).allow_loopback_webhooks is False
    assert parse_args(["--allow-loopback-webhooks"]).allow_loopback_webhooks is True


def test_the_local_runtime_caps_batching_windows_only_when_asked():
    from local.__main__ import parse_args
    from local.runtime import LocalRuntime

    assert parse_args([]).max_batching_window_seconds is None
    capped = LocalRuntime(parse_args(["--max-batching-window", "0.2"]))
    assert (capped._window(2.0), capped._window(0.1), capped._window(0.0)) == (0.2, 0.1, 0.0)
    assert LocalRuntime(parse_args([]))._window(2.0) == 2.0  # the template's own


@pytest.mark.parametrize(
    ("code", "reason", "expected"),
    [
        ("ConflictException", "DESTINATION_PHONE_NUMBER_NOT_VERIFIED", RejectReason.CARRIER_REJECTED),
        (
            "ConflictException",
            "DESTINATION_PHONE_NUMBER_BLOCKED_BY_PROTECT_NUMBER_OVERRIDE",
            RejectReason.BLOCKED,
        ),
        ("ConflictException", "DESTINATION_COUNTRY_BLOCKED_BY_PROTECT_CONFIGURATION", RejectReason.BLOCKED),
        ("ConflictException", "RESOURCE_NOT_ACTIVE", CarrierUnavailable),  # the origination: back off
        ("AccessDeniedException", None, CarrierUnavailable),
        ("InternalServerException", None, CarrierInDoubt),  # taken or not: reconciled, never resent blindly
    ],
)
def test_the_adapter_fails_a_message_for_its_destination_and_backs_off_for_its_origination(
    code: str, reason: str | None, expected: Any
):
    # GIVEN the real client answered, in the service's own error shapes
    client = boto3.client(
        "pinpoint-sms-voice-v2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stubber = Stubber(client)
    fields = (
        {"Reason": reason, "ResourceType": "phone-number", "ResourceId": "+14165550123"} if reason else {}
    )
    stubber.add_client_error("send_text_message", service_error_code=code, http_status_code=409,
                             modeled_fields=fields)  # fmt: skip
    carrier = AwsSmsCarrier(client, configuration_set=None, time_to_live_seconds=3600)
    with stubber, pytest.raises((CarrierRejected, CarrierUnavailable, CarrierInDoubt)) as raised:
        carrier.send(OutboundSms(CODE, "+14165550123", "hi", "m1", "t1"))
    if isinstance(expected, RejectReason):
        assert isinstance(raised.value, CarrierRejected)
        assert raised.value.reason is expected
    else:
        assert type(raised.value) is expected
