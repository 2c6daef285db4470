"""The local runtime's Lambda emulation behaves like Lambda's SQS event source mapping."""

from __future__ import annotations

import json
import threading
import time

import boto3
import moto
import pytest

from local.lambda_runtime import LocalFunction, QueuePoller, StreamPoller, Ticker
from local.topology import FunctionSpec
from tests.integration import fake_handlers


def function(name: str) -> LocalFunction:
    spec = FunctionSpec(
        logical_id=name,
        handler=f"tests.integration.fake_handlers.{name}",
        environment={},
        timeout_seconds=3,
        memory_mb=128,
    )
    return LocalFunction(spec)


@pytest.fixture
def sqs():
    with moto.mock_aws():
        fake_handlers.CALLS.clear()
        yield boto3.client("sqs")


def queue_pair(sqs, max_receives: int = 2) -> tuple[str, str, str]:
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives})
    url = sqs.create_queue(QueueName="work", Attributes={"VisibilityTimeout": "0", "RedrivePolicy": redrive})[
        "QueueUrl"
    ]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn, dlq


def depth(sqs, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_failed_items_are_retried_then_moved_to_the_dlq(sqs):
    url, arn, dlq = queue_pair(sqs, max_receives=2)
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    poller = QueuePoller(sqs, url, arn, function("fail_every_item"), 10, True, threading.Event())

    while poller.poll_once():
        pass

    assert len(fake_handlers.CALLS) == 2  # received twice, then SQS redrove it
    assert depth(sqs, url) == 0
    assert depth(sqs, dlq) == 1
    record = fake_handlers.CALLS[0]["Records"][0]
    assert (record["body"], record["eventSource"], record["eventSourceARN"]) == ("poison", "aws:sqs", arn)


def test_successful_items_are_deleted_in_batches(sqs):
    url, arn, dlq = queue_pair(sqs)
    for index in range(25):
        sqs.send_message(QueueUrl=url, MessageBody=str(index))
    poller = QueuePoller(sqs, url, arn, function("succeed"), 10, True, threading.Event())

    while poller.poll_once():
        pass

    assert sum(len(call["Records"]) for call in fake_handlers.CALLS) == 25
    assert max(len(call["Records"]) for call in fake_handlers.CALLS) <= 10
    assert depth(sqs, url) == depth(sqs, dlq) == 0


def test_a_handler_that_raises_fails_the_whole_batch(sqs):
    url, arn, dlq = queue_pair(sqs, max_receives=1)
    sqs.send_message(QueueUrl=url, MessageBody="a")
    poller = QueuePoller(sqs, url, arn, function("raise_error"), 10, True, threading.Event())

    while poller.poll_once():
        pass

    assert depth(sqs, dlq) == 1


def test_the_ticker_invokes_its_function_on_schedule_and_stops():
    stop = threading.Event()
    ticker = Ticker(function("succeed"), every_seconds=0.05, stop=stop)
    thread = threading.Thread(target=ticker.run)
    thread.start()
    time.sleep(0.3)
    stop.set()
    thread.join(timeout=1)
    assert not thread.is_alive()
    assert 3 <= ticker.runs <= 7


def test_an_aligned_ticker_runs_just_after_each_whole_period(monkeypatch):
    # GIVEN a ticker on a cron-like schedule (every half second, on the half second)
    stop = threading.Event()
    runs: list[float] = []
    monkeypatch.setattr(fake_handlers, "succeed", lambda event, context: runs.append(time.time()))
    ticker = Ticker(function("succeed"), every_seconds=0.5, stop=stop, aligned=True)
    thread = threading.Thread(target=ticker.run)
    thread.start()
    time.sleep(1.6)
    stop.set()
    thread.join(timeout=1)

    # THEN each run falls just after a whole half second, never just before one
    assert len(runs) >= 2
    assert all(run % 0.5 < 0.25 for run in runs), [run % 0.5 for run in runs]


def test_the_minute_schedules_run_at_the_start_of_every_minute(topology):
    handlers = {topology.functions[s.function_id].handler.split(".")[2]: s for s in topology.schedules}
    for name in ("release", "scheduled_jobs"):
        assert (handlers[name].every_seconds, handlers[name].on_the_minute) == (60, True)


def test_the_local_front_delivers_the_path_decoded_as_the_http_api_does():
    # GIVEN a request whose path and query are percent-encoded
    from local.http_front import api_event

    event = api_event(
        "GET", "/v1/opt-outs/%28416%29%20555-9145?scope=dnc%3Ab&note=a%20b", {}, b"", "ANY /{proxy+}"
    )
    # THEN the path arrives decoded (rawPath, http.path, the proxy parameter), the query as sent
    assert event["rawPath"] == event["requestContext"]["http"]["path"] == "/v1/opt-outs/(416) 555-9145"
    assert event["pathParameters"] == {"proxy": "v1/opt-outs/(416) 555-9145"}
    assert event["rawQueryString"] == "scope=dnc%3Ab&note=a%20b"
    assert event["queryStringParameters"] == {"scope": "dnc:b", "note": "a b"}


def test_a_batching_window_gathers_what_comes_within_it_into_one_batch(sqs):
    url = sqs.create_queue(QueueName="gathered", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for index in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=str(index))
    poller = QueuePoller(
        sqs, url, arn, function("succeed"), 100, True, threading.Event(), batching_window_seconds=0.6
    )
    late = threading.Timer(
        0.2, lambda: [sqs.send_message(QueueUrl=url, MessageBody=f"late{i}") for i in range(12)]
    )
    late.start()

    started = time.monotonic()
    assert poller.poll_once()
    late.join()

    # One batch of all 15 (more than one receive returns), handed over once the window closed
    assert [len(call["Records"]) for call in fake_handlers.CALLS] == [15]
    assert time.monotonic() - started >= 0.6
    assert depth(sqs, url) == 0


def test_without_a_window_a_batch_is_what_one_receive_returns(sqs):
    url, arn, _ = queue_pair(sqs)
    for index in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=str(index))
    poller = QueuePoller(sqs, url, arn, function("succeed"), 10, True, threading.Event())
    assert poller.poll_once()
    assert [len(call["Records"]) for call in fake_handlers.CALLS] == [3]


def test_a_stream_batching_window_gathers_records_until_it_closes_or_a_batch_is_full():
    with moto.mock_aws():
        fake_handlers.CALLS.clear()
        dynamodb = boto3.client("dynamodb")
        arn = dynamodb.create_table(
            TableName="things",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )["TableDescription"]["LatestStreamArn"]
        poller = StreamPoller(
            boto3.client("dynamodbstreams"),
            arn,
            function("succeed"),
            batch_size=5,
            filters=[{"dynamodb": {"NewImage": {"kind": {"S": ["wanted"]}}}}],
            stop=threading.Event(),
            batching_window_seconds=0.4,
        )

        def put(index: int, kind: str = "wanted") -> None:
            dynamodb.put_item(TableName="things", Item={"id": {"S": str(index)}, "kind": {"S": kind}})

        put(0)
        put(1, kind="other")  # filtered out: never in a batch, never counted toward one
        poller.poll_once()
        assert fake_handlers.CALLS == []  # gathering: the window is still open
        put(2)
        time.sleep(0.45)
        poller.poll_once()
        assert [
            [r["dynamodb"]["Keys"]["id"]["S"] for r in call["Records"]] for call in fake_handlers.CALLS
        ] == [["0", "2"]]
        for index in range(3, 9):
            put(index)
        assert poller.poll_once()  # a full read: read again at once
        assert not poller.poll_once()
        # a full batch went at once; the rest waits for its window
        assert [len(call["Records"]) for call in fake_handlers.CALLS] == [2, 5]
        time.sleep(0.45)
        poller.poll_once()
        assert [len(call["Records"]) for call in fake_handlers.CALLS] == [2, 5, 1]
