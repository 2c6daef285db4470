"""The local workarounds for moto's costs change what moto costs, never what it answers."""

from __future__ import annotations

import json
from typing import Any

import boto3
import moto
import pytest
from moto.sqs.models import Queue

from local import moto_fixes


@pytest.fixture
def sqs():
    with moto.mock_aws():
        yield boto3.client("sqs")


def queues(sqs) -> list[str]:
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
    plain = sqs.create_queue(QueueName="plain", Attributes={"RedrivePolicy": redrive, "DelaySeconds": "2"})
    fifo = sqs.create_queue(
        QueueName="ordered.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )
    encrypted = sqs.create_queue(QueueName="secret", Attributes={"KmsMasterKeyId": "alias/aws/sqs"})
    return [dlq, plain["QueueUrl"], fifo["QueueUrl"], encrypted["QueueUrl"]]


def moto_queue(url: str) -> Queue:
    from moto.sqs.models import sqs_backends

    return sqs_backends["123456789012"]["us-east-1"].queues[url.rsplit("/", 1)[1]]


def test_every_attribute_reads_as_moto_builds_it(sqs):
    for url in queues(sqs):
        sqs.send_message(QueueUrl=url, MessageBody="x", **({"MessageGroupId": "g"} if "fifo" in url else {}))
        queue = moto_queue(url)
        expected = moto_fixes._ORIGINAL.fget(queue)

        lazy = queue.attributes

        assert dict(lazy) == expected
        assert {key: lazy[key] for key in expected} == expected
        assert all(key in lazy for key in expected)
        assert "NoSuchAttribute" not in lazy
        assert lazy.get("ContentBasedDeduplication") == expected.get("ContentBasedDeduplication")


def test_reading_a_setting_counts_no_messages(sqs, monkeypatch):
    url = queues(sqs)[0]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": "x"} for n in range(10)])
    counted = []
    original = Queue.approximate_number_of_messages
    monkeypatch.setattr(
        Queue,
        "approximate_number_of_messages",
        property(lambda queue: counted.append(1) or original.fget(queue)),
    )
    queue = moto_queue(url)

    assert queue.attributes.get("MessageRetentionPeriod") == 345600
    assert "MessageRetentionPeriod" in queue.attributes
    assert counted == []
    assert queue.attributes["ApproximateNumberOfMessages"] == 10
    assert counted == [1]


ODD_ITEM = {
    "pk": {"S": "p"},
    "sk": {"N": "1"},
    "blob": {"B": b"\x00\xffbytes"},
    "blobs": {"BS": [b"a", b"\x01"]},
    "names": {"SS": ["x", "y"]},
    "counts": {"NS": ["1", "2.5"]},
    "nested": {
        "M": {"flag": {"BOOL": True}, "none": {"NULL": True}, "list": {"L": [{"N": "3"}, {"S": "é"}]}}
    },
}


@pytest.mark.parametrize("fixed", [False, True])
def test_reads_answer_every_attribute_type_as_moto_does(fixed, monkeypatch):
    # GIVEN moto with or without the fast item encoding, and an item of every attribute type
    from moto.dynamodb.responses import DynamoResult

    if not fixed:
        monkeypatch.setattr(DynamoResult, "execute_result", moto_fixes._ORIGINAL_DYNAMO_RESULT)
    with moto.mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="t",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "N"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.put_item(TableName="t", Item=ODD_ITEM)
        key = {"pk": ODD_ITEM["pk"], "sk": ODD_ITEM["sk"]}

        # WHEN it is read back by each read that returns items
        reads = [
            dynamodb.get_item(TableName="t", Key=key)["Item"],
            dynamodb.query(
                TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}}
            )["Items"][0],
            dynamodb.scan(TableName="t")["Items"][0],
            dynamodb.batch_get_item(RequestItems={"t": {"Keys": [key]}})["Responses"]["t"][0],
        ]
        missing = dynamodb.get_item(TableName="t", Key={"pk": {"S": "none"}, "sk": {"N": "1"}})

    # THEN every read has the item exactly as written, and a missing item is no item
    for read in reads:
        assert {name: value for name, value in read.items()} == ODD_ITEM
    assert "Item" not in missing


def _queries_after_writes() -> list[list[dict]]:
    """Writes that move items between index partitions, then every partition read page by page."""
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    dynamodb.create_table(
        TableName="q",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": kind}
            for name, kind in (("pk", "S"), ("sk", "N"), ("g", "S"), ("s", "S"))
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_g",
                "KeySchema": [
                    {"AttributeName": "g", "KeyType": "HASH"},
                    {"AttributeName": "s", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    pages: list[list[dict]] = []

    def read_all() -> None:
        reads: list[tuple[str, dict[str, Any], str | None, dict[str, Any]]] = [
            (f"{name} = :v", {":v": {"S": value}}, index, {})
            for name, value, index in [("pk", p, None) for p in ("p0", "p1")]
            + [("g", g, "by_g") for g in "abc"]
        ]
        bounds = {":v": {"S": "p0"}, ":lo": {"N": "50"}, ":hi": {"N": "80"}}
        reads += [
            ("pk = :v AND sk BETWEEN :lo AND :hi", bounds, None, {}),
            ("pk = :v AND sk > :lo", {":v": {"S": "p1"}, ":lo": {"N": "70"}}, None, {}),
            ("pk = :v AND sk <= :hi", {":v": {"S": "p1"}, ":hi": {"N": "60"}}, None, {}),
            ("pk = :v", {":v": {"S": "p0"}}, None, {"ScanIndexForward": False}),
            ("pk = :v", {":v": {"S": "p1"}, ":g": {"S": "c"}}, None, {"FilterExpression": "g = :g"}),
            ("g = :v AND begins_with(s, :s)", {":v": {"S": "c"}, ":s": {"S": "1"}}, "by_g", {}),
            (
                "g = :v AND s BETWEEN :lo AND :hi",
                {":v": {"S": "a"}, ":lo": {"S": "05"}, ":hi": {"S": "21"}},
                "by_g",
                {},
            ),
            ("g = :v AND s > :lo", {":v": {"S": "b"}, ":lo": {"S": "12"}}, "by_g", {}),
            ("g = :v AND s <= :hi", {":v": {"S": "c"}, ":hi": {"S": "18"}}, "by_g", {}),
            ("g = :v", {":v": {"S": "a"}, ":p": {"S": "p1"}}, "by_g", {"FilterExpression": "pk = :p"}),
            ("g = :v", {":v": {"S": "c"}}, "by_g", {"Limit": None}),
            ("g = :v", {":v": {"S": "b"}}, "by_g", {"ScanIndexForward": False}),
        ]
        for condition, values, index, more in reads:
            start: dict | None = None
            while True:
                query = {"TableName": "q", "KeyConditionExpression": condition, "Limit": 7,
                         "ExpressionAttributeValues": values, **more}  # fmt: skip
                if query["Limit"] is None:
                    del query["Limit"]
                if index:
                    query["IndexName"] = index
                if start:
                    query["ExclusiveStartKey"] = start
                page = dynamodb.query(**query)
                pages.append(page["Items"])
                if "LastEvaluatedKey" not in page:
                    break
                start = page["LastEvaluatedKey"]
        whole = dynamodb.query(TableName="q", KeyConditionExpression="pk = :v",
                               ExpressionAttributeValues={":v": {"S": "p0"}})  # fmt: skip
        pages.append(whole["Items"])

    for n in range(60):
        # two items to each index sort value: ties ordered by the table's keys
        item = {"pk": {"S": f"p{n % 2}"}, "sk": {"N": str(100 - n)}, "s": {"S": f"{(n * 7) % 30:02d}"}}
        if n % 5:
            item["g"] = {"S": "abc"[n % 3]}  # one in five is not in the index
        dynamodb.put_item(TableName="q", Item=item)
    read_all()
    for n in range(0, 60, 4):  # moved to another partition of the index
        if n % 3 != 2:
            key = {"pk": {"S": f"p{n % 2}"}, "sk": {"N": str(100 - n)}}
            dynamodb.update_item(TableName="q", Key=key, UpdateExpression="SET g = :g",
                                 ExpressionAttributeValues={":g": {"S": "c"}})  # fmt: skip
    read_all()
    for n in range(3, 60, 5):  # moved within their partition of the index
        key = {"pk": {"S": f"p{n % 2}"}, "sk": {"N": str(100 - n)}}
        dynamodb.update_item(TableName="q", Key=key, UpdateExpression="SET s = :s",
                             ExpressionAttributeValues={":s": {"S": f"{(n * 11) % 30:02d}"}})  # fmt: skip
    read_all()
    for n in range(2, 60, 6):  # out of the index, and deleted
        key = {"pk": {"S": f"p{n % 2}"}, "sk": {"N": str(100 - n)}}
        dynamodb.update_item(TableName="q", Key=key, UpdateExpression="REMOVE g")
    for n in range(1, 60, 9):
        dynamodb.delete_item(TableName="q", Key={"pk": {"S": f"p{n % 2}"}, "sk": {"N": str(100 - n)}})
    read_all()
    return pages


def test_queries_answer_as_moto_does_after_items_move_between_partitions(monkeypatch):
    from moto.dynamodb.models.table import Table

    with moto.mock_aws():
        fixed = _queries_after_writes()
    monkeypatch.setattr(Table, "query", moto_fixes._ORIGINAL_QUERY)
    with moto.mock_aws():
        plain = _queries_after_writes()
    assert len(fixed) > 40
    assert fixed == plain


def _stream_records() -> list[dict[str, Any]]:
    """A table's stream after a put, an update and a delete of an item of every attribute type."""
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    arn = dynamodb.create_table(
        TableName="s",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]
    key = {"pk": ODD_ITEM["pk"], "sk": ODD_ITEM["sk"]}
    dynamodb.put_item(TableName="s", Item=ODD_ITEM)
    dynamodb.update_item(TableName="s", Key=key, UpdateExpression="SET #t = :t",
                         ExpressionAttributeNames={"#t": "text"}, ExpressionAttributeValues={":t": {"S": "new"}})  # fmt: skip
    dynamodb.delete_item(TableName="s", Key=key)
    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    (shard,) = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = []
    while iterator:
        page = streams.get_records(ShardIterator=iterator, Limit=2)
        if not page["Records"]:
            break
        records += page["Records"]
        iterator = page.get("NextShardIterator")
    return records


def test_stream_records_answer_as_moto_does(monkeypatch):
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    with moto.mock_aws():
        fixed = _stream_records()
    monkeypatch.setattr(DynamoDBStreamsHandler, "get_records", moto_fixes._ORIGINAL_GET_RECORDS)
    with moto.mock_aws():
        original = _stream_records()

    assert [r["eventName"] for r in fixed] == ["INSERT", "MODIFY", "REMOVE"]

    def comparable(record: dict[str, Any]) -> dict[str, Any]:
        change = {
            k: v
            for k, v in record["dynamodb"].items()
            # a time; a counter of the process, and a size that counts its digits
            if k not in ("ApproximateCreationDateTime", "SequenceNumber", "SizeBytes")
        }
        return {**{k: v for k, v in record.items() if k not in ("eventID", "dynamodb")}, "dynamodb": change}

    assert [comparable(r) for r in fixed] == [comparable(r) for r in original]
    assert fixed[1]["dynamodb"]["OldImage"] == ODD_ITEM
    numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in fixed]
    assert numbers == sorted(set(numbers))
    for mine, theirs in zip(fixed, original, strict=True):
        # the same kind of value, an aware time within the test's run
        took = abs(
            mine["dynamodb"]["ApproximateCreationDateTime"]
            - theirs["dynamodb"]["ApproximateCreationDateTime"]
        )
        assert took.total_seconds() < 60


def _records_after(dynamodb: Any, streams: Any, arn: str, after: int) -> list[dict[str, Any]]:
    (shard,) = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    return streams.get_records(ShardIterator=iterator, Limit=1000)["Records"][after:]


def test_a_cancelled_transaction_leaves_no_stream_records_and_a_committed_one_leaves_its_own():
    moto_fixes.apply()
    with moto.mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        arn = dynamodb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )["TableDescription"]["LatestStreamArn"]
        streams = boto3.client("dynamodbstreams", region_name="us-east-1")
        for pk in ("a", "b"):
            dynamodb.put_item(TableName="t", Item={"pk": {"S": pk}, "n": {"N": "0"}})

        def bump(pk: str, expected: str) -> dict[str, Any]:
            return {"Update": {"TableName": "t", "Key": {"pk": {"S": pk}}, "UpdateExpression": "SET n = n + :one",
                               "ConditionExpression": "n = :n",
                               "ExpressionAttributeValues": {":one": {"N": "1"}, ":n": {"N": expected}}}}  # fmt: skip

        # the first item's write would succeed, the second's condition fails: nothing is written
        with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
            dynamodb.transact_write_items(TransactItems=[bump("a", "0"), bump("b", "7")])
        assert _records_after(dynamodb, streams, arn, 2) == []
        assert dynamodb.get_item(TableName="t", Key={"pk": {"S": "a"}})["Item"]["n"] == {"N": "0"}

        dynamodb.transact_write_items(TransactItems=[bump("a", "0"), bump("b", "0")])
        committed = _records_after(dynamodb, streams, arn, 2)
        assert [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in committed] == [
            ("MODIFY", "a"),
            ("MODIFY", "b"),
        ]
        assert [r["dynamodb"]["NewImage"]["n"]["N"] for r in committed] == ["1", "1"]
