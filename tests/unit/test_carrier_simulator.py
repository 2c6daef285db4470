"""The simulator is the measuring instrument for pacing, so its window rule is tested on its own."""

import json
from unittest.mock import patch

from local.carrier import CarrierSimulator, SimulatorSettings


def send(simulator: CarrierSimulator, at: float, body: str = "hi", origination: str = "+18005550100"):
    request = {
        "DestinationPhoneNumber": "+14165550123",
        "OriginationIdentity": origination,
        "MessageBody": body,
    }
    with patch("local.carrier.time.time", return_value=at):
        _, parsed = simulator.send_text_message(request)
    return parsed


def test_parts_in_any_one_second_window_stay_within_the_limit():
    simulator = CarrierSimulator(SimulatorSettings(parts_per_second={"+18005550100": 2}))
    assert "MessageId" in send(simulator, 100.0)
    assert "MessageId" in send(simulator, 100.5)
    assert send(simulator, 100.9)["Error"]["Code"] == "ThrottlingException"
    assert "MessageId" in send(simulator, 101.0)  # the first left the window [100.0, 101.0)
    assert simulator.throttled == 1
    assert [record.at for record in simulator.records] == [100.0, 100.5, 101.0]


def test_a_multipart_message_counts_every_part():
    simulator = CarrierSimulator(SimulatorSettings(parts_per_second={"+18005550100": 3}))
    assert "MessageId" in send(simulator, 10.0, body="a" * 200)  # 2 parts
    assert send(simulator, 10.2, body="a" * 200)["Error"]["Code"] == "ThrottlingException"
    assert "MessageId" in send(simulator, 10.3)  # 1 more part fits
    assert [record.parts for record in simulator.records] == [2, 1]


def test_limits_are_per_origination():
    simulator = CarrierSimulator(SimulatorSettings(parts_per_second={"+18005550100": 1, "+18005550111": 1}))
    assert "MessageId" in send(simulator, 5.0)
    assert "MessageId" in send(simulator, 5.1, origination="+18005550111")


def test_delivery_events_reach_the_configuration_sets_destinations_with_the_context():
    published = []
    simulator = CarrierSimulator(SimulatorSettings(receipt_delay_seconds=2.0))
    simulator.connect(
        {"set-1": [("topic-arn", ["TEXT_DELIVERED"])]}, lambda arn, event: published.append((arn, event))
    )
    request = {
        "DestinationPhoneNumber": "+14165550123", "OriginationIdentity": "+18005550100", "MessageBody": "hi",
        "ConfigurationSetName": "set-1", "Context": {"message_id": "m1"},
    }  # fmt: skip
    with patch("local.carrier.time.time", return_value=50.0):
        simulator.send_text_message(request)
    assert simulator.pump(now=50.5) == 0
    assert simulator.pump(now=51.0) == 1  # TEXT_SUCCESSFUL (not final), which this destination does not take
    assert published == []
    assert simulator.pump(now=52.0) == 1
    ((arn, event),) = published
    assert arn == "topic-arn"
    assert json.loads(event)["context"] == {"message_id": "m1"}
    assert json.loads(event)["eventType"] == "TEXT_DELIVERED"
