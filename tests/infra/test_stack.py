"""The stack's resources, their wiring and the scope of each function's role."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from aws_cdk.assertions import Match

from infra.constants import DISPATCHER_TIMEOUT_SECONDS, INBOUND_MAX_RECEIVES, OUTPUT_INBOUND_TOPIC
from infra.ledger import LEDGER_ITEM_ACTIONS
from local.provision import INBOUND_TOPIC_OUTPUT

HANDLERS = {
    "api", "authorizer", "dispatcher", "kick", "receipts", "receipt_deadline", "release", "fanout",
    "inbound", "preview", "list_uploads", "scheduled_jobs", "status_events", "callbacks",
}  # fmt: skip


def resources(template_json: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {lid: res for lid, res in template_json["Resources"].items() if res["Type"] == kind}


def function_id(template_json: dict[str, Any], module: str) -> str:
    (found,) = [
        lid
        for lid, res in resources(template_json, "AWS::Lambda::Function").items()
        if res["Properties"]["Handler"] == f"functions.handlers.{module}.lambda_handler"
    ]
    return found


def role_statements(template_json: dict[str, Any], module: str) -> list[dict[str, Any]]:
    role = template_json["Resources"][function_id(template_json, module)]["Properties"]["Role"]["Fn::GetAtt"][
        0
    ]
    statements = []
    for policy in resources(template_json, "AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def actions(statements: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for statement in statements:
        value = statement["Action"]
        found.update([value] if isinstance(value, str) else value)
    return found


def test_every_function_runs_python_on_arm64_with_the_shared_layer(template_json):
    functions = resources(template_json, "AWS::Lambda::Function")
    handlers = {res["Properties"]["Handler"].split(".")[2] for res in functions.values()}
    assert handlers == HANDLERS
    codes = {json.dumps(res["Properties"]["Code"]) for res in functions.values()}
    assert len(codes) == 1, "one asset for all function code"
    for res in functions.values():
        props = res["Properties"]
        assert props["Runtime"].startswith("python3.1")
        assert props["Architectures"] == ["arm64"]
        assert len(props["Layers"]) == 1
        assert props["TracingConfig"] == {"Mode": "Active"}


def test_each_function_has_its_own_role_and_no_managed_policies(template_json):
    functions = resources(template_json, "AWS::Lambda::Function").values()
    roles = [res["Properties"]["Role"]["Fn::GetAtt"][0] for res in functions]
    assert len(set(roles)) == len(roles)
    for role_id in roles:
        assert "ManagedPolicyArns" not in template_json["Resources"][role_id]["Properties"]


def test_tables_are_on_demand_with_point_in_time_recovery(template, template_json):
    tables = resources(template_json, "AWS::DynamoDB::GlobalTable")
    assert {table["Properties"]["KeySchema"][0]["AttributeName"] for table in tables.values()} == {
        "pk",  # config
        "message_id",  # messages
        "scope",  # opt-outs
        "id",  # idempotency records
        "job_id",  # mass messages and calling lists; calling list records
        "code",  # each transport code's dispatcher lease
        "tenant_id",  # prepaid balances and their ledgers
    }  # and the inbound table (pk, like config)
    for res in tables.values():
        assert res["Properties"]["BillingMode"] == "PAY_PER_REQUEST"
        assert res["Properties"]["Replicas"][0]["PointInTimeRecoverySpecification"] == {
            "PointInTimeRecoveryEnabled": True
        }
    template.has_resource_properties(
        "AWS::DynamoDB::GlobalTable",
        {
            "KeySchema": [{"AttributeName": "message_id", "KeyType": "HASH"}],
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
            "GlobalSecondaryIndexes": Match.array_with(
                [
                    Match.object_like(
                        {
                            "IndexName": "by_tenant_log",
                            "Projection": {
                                "ProjectionType": "INCLUDE",
                                "NonKeyAttributes": [
                                    "status",
                                    "created_at",
                                    "recipient",
                                    "job_id",
                                    "trigger",
                                ],
                            },
                        }
                    ),
                    Match.object_like({"IndexName": "by_release"}),
                    Match.object_like(
                        {
                            "IndexName": "by_ready",
                            "KeySchema": [
                                {"AttributeName": "ready_key", "KeyType": "HASH"},
                                {"AttributeName": "ready_sort", "KeyType": "RANGE"},
                            ],
                        }
                    ),
                ]
            ),
            "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
        },
    )


def test_idempotency_records_expire_and_contacts_are_indexed_by_entity(template):
    template.has_resource_properties(
        "AWS::DynamoDB::GlobalTable",
        {
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
        },
    )
    template.has_resource_properties(
        "AWS::DynamoDB::GlobalTable",
        {"GlobalSecondaryIndexes": Match.array_with([Match.object_like({"IndexName": "by_entity"})])},
    )


def test_the_kick_reads_the_messages_stream_for_ready_messages_and_starts_only_dispatchers(template_json):
    kick = function_id(template_json, "kick")
    dispatcher = function_id(template_json, "dispatcher")
    (mapping,) = [
        res["Properties"]
        for res in resources(template_json, "AWS::Lambda::EventSourceMapping").values()
        if res["Properties"]["FunctionName"] == {"Ref": kick}
    ]
    messages = next(
        lid
        for lid, res in resources(template_json, "AWS::DynamoDB::GlobalTable").items()
        if res["Properties"]["KeySchema"][0]["AttributeName"] == "message_id"
    )
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [messages, "StreamArn"]}
    (pattern,) = [json.loads(item["Pattern"]) for item in mapping["FilterCriteria"]["Filters"]]
    assert pattern == {"dynamodb": {"NewImage": {"ready_sort": {"S": [{"prefix": "0#"}, {"prefix": "1#"}]}}}}
    variables = template_json["Resources"][kick]["Properties"]["Environment"]["Variables"]
    assert variables["DISPATCHER_FUNCTION"] == {"Ref": dispatcher}
    invokes = [s for s in role_statements(template_json, "kick") if "lambda:InvokeFunction" in actions([s])]
    assert invokes
    assert all(dispatcher in json.dumps(s["Resource"]) for s in invokes)
    # No queue feeds the dispatcher: it is started by kicks and runs up to Lambda's limit.
    assert not [
        res
        for res in resources(template_json, "AWS::Lambda::EventSourceMapping").values()
        if res["Properties"]["FunctionName"] == {"Ref": dispatcher}
    ]
    assert template_json["Resources"][dispatcher]["Properties"]["Timeout"] == DISPATCHER_TIMEOUT_SECONDS


def test_the_minute_schedule_can_start_dispatchers(template_json):
    dispatcher = function_id(template_json, "dispatcher")
    variables = template_json["Resources"][function_id(template_json, "release")]["Properties"][
        "Environment"
    ]["Variables"]
    assert variables["DISPATCHER_FUNCTION"] == {"Ref": dispatcher}
    invokes = [
        s for s in role_statements(template_json, "release") if "lambda:InvokeFunction" in actions([s])
    ]
    assert all(dispatcher in json.dumps(s["Resource"]) for s in invokes)
    assert invokes


def test_delivery_events_flow_from_the_configuration_set_to_the_receipts_function(template_json):
    (config_set,) = resources(template_json, "AWS::SMSVOICE::ConfigurationSet").values()
    (destination,) = config_set["Properties"]["EventDestinations"]
    topic_id = destination["SnsDestination"]["TopicArn"]["Ref"]
    # A final TEXT_SUCCESSFUL is some destinations' delivery; a final TEXT_UNKNOWN ends the 72 hours
    assert {"TEXT_DELIVERED", "TEXT_SUCCESSFUL", "TEXT_UNKNOWN"} <= set(destination["MatchingEventTypes"])
    (subscription,) = [
        res
        for res in resources(template_json, "AWS::SNS::Subscription").values()
        if res["Properties"]["TopicArn"] == {"Ref": topic_id}
    ]
    assert subscription["Properties"]["RawMessageDelivery"] is True
    queue_id = subscription["Properties"]["Endpoint"]["Fn::GetAtt"][0]
    receipts = function_id(template_json, "receipts")
    assert any(
        res["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
        and res["Properties"]["FunctionName"] == {"Ref": receipts}
        for res in resources(template_json, "AWS::Lambda::EventSourceMapping").values()
    )
    dispatcher_env = template_json["Resources"][function_id(template_json, "dispatcher")]["Properties"][
        "Environment"
    ]
    assert dispatcher_env["Variables"]["SMS_CONFIGURATION_SET"] == {
        "Ref": next(iter(resources(template_json, "AWS::SMSVOICE::ConfigurationSet")))
    }


def test_the_release_function_runs_every_minute(template_json):
    release = {"Fn::GetAtt": [function_id(template_json, "release"), "Arn"]}
    (schedule,) = [
        res
        for res in resources(template_json, "AWS::Scheduler::Schedule").values()
        if res["Properties"]["Target"]["Arn"] == release
    ]
    assert schedule["Properties"]["ScheduleExpression"] == "cron(* * * * ? *)"  # at each minute's start


def test_scheduled_jobs_are_started_at_each_minutes_start(template_json):
    starter = {"Fn::GetAtt": [function_id(template_json, "scheduled_jobs"), "Arn"]}
    (schedule,) = [
        res
        for res in resources(template_json, "AWS::Scheduler::Schedule").values()
        if res["Properties"]["Target"]["Arn"] == starter
    ]
    assert schedule["Properties"]["ScheduleExpression"] == "cron(* * * * ? *)"


def test_the_lists_bucket_is_private_encrypted_versioned_and_expires_what_it_holds(template_json):
    (bucket,) = resources(template_json, "AWS::S3::Bucket").values()
    props = bucket["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True
    }  # fmt: skip
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = {rule["Id"]: rule for rule in props["LifecycleConfiguration"]["Rules"]}
    assert {rules[name]["Prefix"]: rules[name]["ExpirationInDays"] for name in ("uploads", "lists", "previews")} == {
        "uploads/": 2, "lists/": 45, "previews/": 1
    }  # fmt: skip
    assert rules["versions"]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 1
    (policy,) = resources(template_json, "AWS::S3::BucketPolicy").values()
    (deny,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_an_upload_arrival_reaches_the_validation_function_through_its_queue(template_json):
    (bucket,) = resources(template_json, "AWS::S3::Bucket").values()
    (notification,) = bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    queue_id = notification["Queue"]["Fn::GetAtt"][0]
    assert notification["Event"] == "s3:ObjectCreated:*"
    assert notification["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "uploads/"}]
    assert "RedrivePolicy" in template_json["Resources"][queue_id]["Properties"]
    (mapping,) = [
        res["Properties"] for res in resources(template_json, "AWS::Lambda::EventSourceMapping").values()
        if res["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    ]  # fmt: skip
    assert mapping["FunctionName"] == {"Ref": function_id(template_json, "list_uploads")}
    policies = [
        res for res in resources(template_json, "AWS::SQS::QueuePolicy").values()
        if {"Ref": queue_id} in res["Properties"]["Queues"]
    ]  # fmt: skip
    statements = policies[0]["Properties"]["PolicyDocument"]["Statement"]
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "s3.amazonaws.com"}
    assert "aws:SourceAccount" in allow["Condition"]["StringEquals"]
    assert bucket["DependsOn"]  # S3 checks the queue when the notification is set


def test_previews_are_computed_one_segment_per_invocation_from_their_own_queue(template_json):
    preview_id = function_id(template_json, "preview")
    (mapping,) = [
        res["Properties"] for res in resources(template_json, "AWS::Lambda::EventSourceMapping").values()
        if res["Properties"]["FunctionName"] == {"Ref": preview_id}
    ]  # fmt: skip
    assert mapping["BatchSize"] == 1
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue_id = mapping["EventSourceArn"]["Fn::GetAtt"][0]
    assert "RedrivePolicy" in template_json["Resources"][queue_id]["Properties"]


def test_the_http_api_checks_keys_except_on_the_openapi_document(template_json):
    (authorizer,) = resources(template_json, "AWS::ApiGatewayV2::Authorizer").values()
    assert authorizer["Properties"]["AuthorizerType"] == "REQUEST"
    assert authorizer["Properties"]["EnableSimpleResponses"] is True
    assert function_id(template_json, "authorizer") in json.dumps(authorizer["Properties"]["AuthorizerUri"])
    routes = {
        res["Properties"]["RouteKey"]: res["Properties"]
        for res in resources(template_json, "AWS::ApiGatewayV2::Route").values()
    }
    assert routes["ANY /{proxy+}"]["AuthorizationType"] == "CUSTOM"
    assert routes["GET /v1/openapi.json"]["AuthorizationType"] == "NONE"
    (stage,) = resources(template_json, "AWS::ApiGatewayV2::Stage").values()
    assert "AccessLogSettings" in stage["Properties"]


def test_roles_are_least_privilege(template_json):
    table_ids = {lid for lid in resources(template_json, "AWS::DynamoDB::GlobalTable")}
    config_table = next(lid for lid in table_ids if "Config" in lid)

    dispatcher = role_statements(template_json, "dispatcher")
    assert "sms-voice:SendTextMessage" in actions(dispatcher)
    # It reads transport codes from the config table, and writes nothing there.
    assert not any(
        config_table in json.dumps(statement["Resource"])
        and any(word in action for action in actions([statement]) for word in ("Put", "Update", "Delete"))
        for statement in dispatcher
    )

    authorizer = role_statements(template_json, "authorizer")
    assert not any(
        a.startswith("dynamodb:") and ("Put" in a or "Update" in a or "Delete" in a or "Write" in a)
        for a in actions(authorizer)
    )
    assert "sms-voice:SendTextMessage" not in actions(authorizer)

    api = role_statements(template_json, "api")
    assert "sms-voice:SendTextMessage" not in actions(api)
    assert "sqs:SendMessage" in actions(api)

    for module in HANDLERS:
        for statement in role_statements(template_json, module):
            if statement["Resource"] == "*":
                assert set(actions([statement])) <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def test_cfn_lint_accepts_the_template(template_json, tmp_path: Path):
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template_json))
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--config-file",
            str(root / ".cfnlintrc.yaml"),
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_fanout_function_drains_its_own_queue_one_job_step_at_a_time(template_json):
    fanout = function_id(template_json, "fanout")
    (mapping,) = [
        res["Properties"]
        for res in resources(template_json, "AWS::Lambda::EventSourceMapping").values()
        if res["Properties"]["FunctionName"] == {"Ref": fanout}
    ]
    assert mapping["BatchSize"] == 1
    queue = template_json["Resources"][mapping["EventSourceArn"]["Fn::GetAtt"][0]]["Properties"]
    assert "deadLetterTargetArn" in queue["RedrivePolicy"]
    assert queue["VisibilityTimeout"] >= 6 * template_json["Resources"][fanout]["Properties"]["Timeout"]
    statements = role_statements(template_json, "fanout")
    assert "sqs:SendMessage" in actions(statements)
    assert "sms-voice:SendTextMessage" not in actions(statements)


def ledger_table_id(template_json: dict[str, Any]) -> str:
    (found,) = [
        lid
        for lid, res in resources(template_json, "AWS::DynamoDB::GlobalTable").items()
        if res["Properties"]["KeySchema"][0]["AttributeName"] == "tenant_id"
    ]
    return found


def test_the_ledger_keeps_entries_per_tenant_with_a_time_index(template_json):
    ledger = template_json["Resources"][ledger_table_id(template_json)]["Properties"]
    assert ledger["KeySchema"] == [
        {"AttributeName": "tenant_id", "KeyType": "HASH"},
        {"AttributeName": "entry_id", "KeyType": "RANGE"},
    ]
    (index,) = ledger["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by_time"
    assert [key["AttributeName"] for key in index["KeySchema"]] == ["tenant_id", "at_key"]
    assert "TimeToLiveSpecification" not in ledger, "the ledger is never expired"


def test_only_the_dispatcher_the_fanout_and_the_api_touch_the_ledger(template_json):
    ledger = ledger_table_id(template_json)
    for module in ("receipts", "release", "authorizer", "kick"):
        assert ledger not in json.dumps(role_statements(template_json, module))
    for module in ("dispatcher", "fanout"):
        # Item reads and transactional item writes, on the table itself: no scans, no index, no deletes.
        (statement,) = [s for s in role_statements(template_json, module) if ledger in json.dumps(s)]
        assert sorted(actions([statement])) == sorted(LEDGER_ITEM_ACTIONS)
        assert statement["Resource"] == {"Fn::GetAtt": [ledger, "Arn"]}
    api = [s for s in role_statements(template_json, "api") if ledger in json.dumps(s)]
    assert "dynamodb:Query" in actions(api)


def test_the_deployed_functions_have_no_payment_provider(template_json):
    for module in ("dispatcher", "api"):
        props = template_json["Resources"][function_id(template_json, module)]["Properties"]
        assert props["Environment"]["Variables"]["PAYMENT_PROVIDER"] == "disabled"


def event_source_queue(template_json: dict[str, Any], module: str) -> str:
    (mapping,) = [
        res["Properties"]
        for res in resources(template_json, "AWS::Lambda::EventSourceMapping").values()
        if res["Properties"]["FunctionName"] == {"Ref": function_id(template_json, module)}
    ]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    return mapping["EventSourceArn"]["Fn::GetAtt"][0]


def test_inbound_sms_flows_from_an_encrypted_topic_through_a_queue_to_the_inbound_function(template_json):
    queue_id = event_source_queue(template_json, "inbound")
    queue = template_json["Resources"][queue_id]["Properties"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == INBOUND_MAX_RECEIVES
    assert (
        queue["VisibilityTimeout"]
        >= 6 * template_json["Resources"][function_id(template_json, "inbound")]["Properties"]["Timeout"]
    )
    (subscription,) = [
        res["Properties"]
        for res in resources(template_json, "AWS::SNS::Subscription").values()
        if res["Properties"]["Endpoint"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    ]
    assert subscription["RawMessageDelivery"] is True  # the body is the two-way payload itself
    topic_id = subscription["TopicArn"]["Ref"]
    assert "KmsMasterKeyId" in template_json["Resources"][topic_id]["Properties"]
    assert template_json["Outputs"][OUTPUT_INBOUND_TOPIC]["Value"] == {"Ref": topic_id}
    assert OUTPUT_INBOUND_TOPIC == INBOUND_TOPIC_OUTPUT  # the local carrier publishes where this output says
    # End User Messaging may publish to it.
    policies = [
        res["Properties"]
        for res in resources(template_json, "AWS::SNS::TopicPolicy").values()
        if {"Ref": topic_id} in res["Properties"]["Topics"]
    ]
    assert "sms-voice.amazonaws.com" in json.dumps(policies)


def test_the_inbound_function_writes_opt_outs_and_replies_and_publishes_to_its_bus_only(template_json):
    statements = role_statements(template_json, "inbound")
    granted = actions(statements)
    # Keyword replies are written ready, for their code's dispatcher: no carrier, no send queue.
    assert "sms-voice:SendTextMessage" not in granted
    assert "sqs:SendMessage" not in granted
    (bus_id,) = resources(template_json, "AWS::Events::EventBus")
    (put_events,) = [s for s in statements if "events:PutEvents" in actions([s])]
    assert put_events["Resource"] == {"Fn::GetAtt": [bus_id, "Arn"]}
    variables = template_json["Resources"][function_id(template_json, "inbound")]["Properties"][
        "Environment"
    ]["Variables"]
    assert variables["REPLY_EVENT_BUS"] == {"Ref": bus_id}
    assert {"OPT_OUTS_TABLE", "INBOUND_TABLE", "MESSAGES_TABLE", "CONFIG_TABLE"} <= set(variables)
    ledger = ledger_table_id(template_json)
    assert ledger not in json.dumps(statements)  # keyword replies cost nothing


def test_the_inbound_table_expires_its_items_and_messages_are_indexed_by_conversation(template):
    template.has_resource_properties(
        "AWS::DynamoDB::GlobalTable",
        {
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
        },
    )
    template.has_resource_properties(
        "AWS::DynamoDB::GlobalTable",
        {
            "KeySchema": [{"AttributeName": "message_id", "KeyType": "HASH"}],
            "GlobalSecondaryIndexes": Match.array_with(
                [
                    Match.object_like(
                        {
                            "IndexName": "by_conversation",
                            "KeySchema": [
                                {"AttributeName": "conversation", "KeyType": "HASH"},
                                {"AttributeName": "created_key", "KeyType": "RANGE"},
                            ],
                        }
                    )
                ]
            ),
        },
    )


def test_carriers_post_to_a_public_route_and_only_the_api_reads_their_secret(template_json):
    routes = {
        res["Properties"]["RouteKey"]: res["Properties"]
        for res in resources(template_json, "AWS::ApiGatewayV2::Route").values()
    }
    assert routes["POST /v1/inbound/{carrier}"]["AuthorizationType"] == "NONE"
    (secret_id,) = resources(template_json, "AWS::SecretsManager::Secret")
    assert "GenerateSecretString" in template_json["Resources"][secret_id]["Properties"]
    api = role_statements(template_json, "api")
    assert any(
        "secretsmanager:GetSecretValue" in actions([s]) and s["Resource"] == {"Ref": secret_id} for s in api
    )
    for module in HANDLERS - {"api"}:
        assert secret_id not in json.dumps(role_statements(template_json, module))
    variables = template_json["Resources"][function_id(template_json, "api")]["Properties"]["Environment"][
        "Variables"
    ]
    assert variables["INBOUND_WEBHOOK_SECRET_ID"] == {"Ref": secret_id}
    assert variables["INBOUND_QUEUE_URL"] == {"Ref": event_source_queue(template_json, "inbound")}


def test_the_dispatcher_reads_the_opt_out_list_and_only_adds_to_it(template_json):
    opt_outs = next(
        lid
        for lid, res in resources(template_json, "AWS::DynamoDB::GlobalTable").items()
        if res["Properties"]["KeySchema"][0]["AttributeName"] == "scope"
    )
    dispatcher = [
        s for s in role_statements(template_json, "dispatcher") if opt_outs in json.dumps(s["Resource"])
    ]
    assert dispatcher
    granted = actions(dispatcher)
    assert "dynamodb:BatchGetItem" in granted
    # A carrier's opt-out is copied in (a put only if absent, audited); nothing is ever removed.
    assert not any(word in action for action in granted for word in ("Update", "Delete", "Write"))
    variables = template_json["Resources"][function_id(template_json, "dispatcher")]["Properties"][
        "Environment"
    ]["Variables"]
    assert variables["OPT_OUTS_TABLE"] == {"Ref": opt_outs}


def test_an_hourly_schedule_fails_messages_whose_delivery_event_never_came(template_json):
    (deadline_id,) = [
        lid
        for lid, res in resources(template_json, "AWS::Lambda::Function").items()
        if res["Properties"]["Handler"] == "functions.handlers.receipt_deadline.lambda_handler"
    ]
    (schedule,) = [
        res["Properties"]
        for res in resources(template_json, "AWS::Scheduler::Schedule").values()
        if res["Properties"]["Target"]["Arn"] == {"Fn::GetAtt": [deadline_id, "Arn"]}
    ]
    assert schedule["ScheduleExpression"] == "rate(1 hour)"
    (table,) = [
        res
        for lid, res in resources(template_json, "AWS::DynamoDB::GlobalTable").items()
        if "Messages" in lid
    ]
    (index,) = [
        i for i in table["Properties"]["GlobalSecondaryIndexes"] if i["IndexName"] == "by_awaiting_receipt"
    ]
    assert index["Projection"]["ProjectionType"] == "KEYS_ONLY"


def test_status_changes_reach_callbacks_through_the_stream_and_a_queue_with_a_dlq(template_json):
    # The Messages stream carries old and new images: a status event needs the status before
    (table,) = [
        res
        for lid, res in resources(template_json, "AWS::DynamoDB::GlobalTable").items()
        if "Messages" in lid
    ] or [res for lid, res in resources(template_json, "AWS::DynamoDB::Table").items() if "Messages" in lid]
    assert table["Properties"]["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    mappings = resources(template_json, "AWS::Lambda::EventSourceMapping").values()
    functions = resources(template_json, "AWS::Lambda::Function")
    by_handler = {res["Properties"]["Handler"].split(".")[2]: lid for lid, res in functions.items()}
    stream = [m for m in mappings if m["Properties"]["FunctionName"]["Ref"] == by_handler["status_events"]]
    assert len(stream) == 1
    (pattern,) = stream[0]["Properties"]["FilterCriteria"]["Filters"]
    assert set(json.loads(pattern["Pattern"])["dynamodb"]["NewImage"]["status"]["S"]) == {
        "Sent", "Delivered", "Failed", "Insufficient funds",
    }  # fmt: skip
    queued = [m for m in mappings if m["Properties"]["FunctionName"]["Ref"] == by_handler["callbacks"]]
    assert queued[0]["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queues = resources(template_json, "AWS::SQS::Queue")
    (callback_queue,) = [res for lid, res in queues.items() if "CallbackQueue" in lid]
    assert "deadLetterTargetArn" in callback_queue["Properties"]["RedrivePolicy"]


def test_the_lists_bucket_takes_the_consoles_uploads_from_the_apis_origin_only(template_json):
    (bucket,) = resources(template_json, "AWS::S3::Bucket").values()
    (rule,) = bucket["Properties"]["CorsConfiguration"]["CorsRules"]
    assert rule["AllowedMethods"] == ["PUT"]
    assert rule["AllowedHeaders"] == ["content-type"]
    ((origin,),) = [rule["AllowedOrigins"]]
    (api_id,) = resources(template_json, "AWS::ApiGatewayV2::Api")
    assert origin == {"Fn::GetAtt": [api_id, "ApiEndpoint"]}  # https://<id>.execute-api.<region>...
