"""Alarms and the dashboard: every function and dead-letter queue is watched, and alarms reach the topic."""

from __future__ import annotations

import json
from typing import Any

from functions.metrics_catalog import (
    BALANCE_BELOW_THRESHOLD,
    MESSAGES_CARRIER_THROTTLED,
    MESSAGES_FAILED,
    NAMESPACE,
    OLDEST_READY_SECONDS,
    PARTS_SENT,
    SERVICE,
)
from infra.constants import OUTPUT_ALARM_TOPIC, OUTPUT_DASHBOARD
from tests.infra.test_stack import function_id, resources


def alarms(template_json: dict[str, Any]) -> list[dict[str, Any]]:
    return [res["Properties"] for res in resources(template_json, "AWS::CloudWatch::Alarm").values()]


def dimension(alarm: dict[str, Any], name: str) -> Any:
    return next(d["Value"] for d in alarm.get("Dimensions", []) if d["Name"] == name)


def dashboard_body(template_json: dict[str, Any]) -> str:
    (dashboard,) = resources(template_json, "AWS::CloudWatch::Dashboard").values()
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    return "".join(part if isinstance(part, str) else json.dumps(part) for part in parts)


def test_every_function_has_an_errors_alarm(template_json):
    watched = {
        dimension(alarm, "FunctionName")["Ref"]
        for alarm in alarms(template_json)
        if alarm["Namespace"] == "AWS/Lambda" and alarm["MetricName"] == "Errors"
    }
    functions = set(resources(template_json, "AWS::Lambda::Function"))
    assert watched == functions
    assert function_id(template_json, "dispatcher") in watched
    assert function_id(template_json, "kick") in watched


def test_every_dead_letter_queue_alarms_on_its_first_message(template_json):
    queues = resources(template_json, "AWS::SQS::Queue").values()
    dead_letter_queues = {
        queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for queue in queues
        if "RedrivePolicy" in queue["Properties"]
    }
    depth = {
        dimension(alarm, "QueueName")["Fn::GetAtt"][0]: alarm
        for alarm in alarms(template_json)
        if alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    }
    assert set(depth) == dead_letter_queues
    assert len(dead_letter_queues) >= 3  # fan-out, receipts, inbound
    for alarm in depth.values():
        assert alarm["Threshold"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_a_code_with_ready_messages_and_no_dispatcher_alarms(template_json):
    # The minute schedule reports the age of the oldest ready message of any code; ten minutes of it
    # for three minutes means no dispatcher runs for that code.
    (alarm,) = [a for a in alarms(template_json) if a.get("MetricName") == "OldestReadyMessageAge"]
    assert alarm["Threshold"] == 600
    assert alarm["EvaluationPeriods"] == 3
    assert alarm["Statistic"] == "Maximum"
    assert not [a for a in alarms(template_json) if a.get("MetricName") == "ApproximateAgeOfOldestMessage"]


def test_throttling_low_balances_and_idle_codes_alarm_on_the_functions_own_metrics(template_json):
    ours = {alarm["MetricName"]: alarm for alarm in alarms(template_json) if alarm["Namespace"] == NAMESPACE}
    assert set(ours) == {MESSAGES_CARRIER_THROTTLED, BALANCE_BELOW_THRESHOLD, OLDEST_READY_SECONDS}
    for alarm in ours.values():
        # Powertools adds the service dimension to every metric: without it the alarm sees nothing.
        assert alarm["Dimensions"] == [{"Name": "service", "Value": SERVICE}]
        assert alarm["TreatMissingData"] == "notBreaching"
    assert ours[BALANCE_BELOW_THRESHOLD]["Statistic"] == "Maximum"


def test_every_alarm_notifies_the_encrypted_alarm_topic(template_json):
    (topic_id,) = [
        lid
        for lid, res in resources(template_json, "AWS::SNS::Topic").items()
        if "Alarm" in lid  # the delivery-events topic is the other one
    ]
    topic = template_json["Resources"][topic_id]["Properties"]
    assert "KmsMasterKeyId" in topic
    for alarm in alarms(template_json):
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["OKActions"] == [{"Ref": topic_id}]
    outputs = template_json["Outputs"]
    assert outputs[OUTPUT_ALARM_TOPIC]["Value"] == {"Ref": topic_id}
    assert OUTPUT_DASHBOARD in outputs


def test_the_dashboard_shows_sends_deliveries_failures_by_reason_and_parts_per_second_per_code(template_json):
    body = dashboard_body(template_json)
    for title in ("Sends", "Deliveries", "Failures by reason", "Parts per second by transport code"):
        assert f'"title":"{title}' in body
    assert f'\\"{PARTS_SENT}\\"' in body
    assert "OriginationNumber" in body
    assert " / 60" in body
    assert f'"{MESSAGES_FAILED}","Reason","blocked"' in body
    assert '"type":"alarm"' in body
