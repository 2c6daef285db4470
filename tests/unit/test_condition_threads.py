"""Requests built with Key/Attr conditions from many threads through one resource name what they mean."""

from __future__ import annotations

import json
import sys
import threading
from types import SimpleNamespace
from typing import Any

import boto3
from boto3.dynamodb.conditions import Attr, Key

import functions.dal  # noqa: F401  (what every data access module brings)


def test_conditions_built_at_once_by_many_threads_through_one_client_keep_their_own_placeholders():
    # GIVEN one resource's table, shared by threads, and requests answered before they leave
    session = boto3.Session(aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1")
    table = session.resource("dynamodb").Table("t")
    sent: list[dict[str, Any]] = []
    lock = threading.Lock()

    def answer(params: dict[str, Any], **_: Any) -> tuple[SimpleNamespace, dict[str, Any]]:
        with lock:
            sent.append(json.loads(params["body"]))
        return SimpleNamespace(status_code=200, headers={}), {"Items": [], "Count": 0, "ScannedCount": 0}

    table.meta.client.meta.events.register("before-call.dynamodb.Query", answer)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns as often as they can
    failures: list[BaseException] = []

    def query(worker: int) -> None:
        try:
            for n in range(300):
                table.query(
                    KeyConditionExpression=Key("part").eq(f"p{worker}") & Key("sort").lt(f"s{n}"),
                    FilterExpression=Attr("status").eq("Sent") & Attr("kind").ne("x"),
                )
        except BaseException as error:  # a malformed request is refused before it leaves
            failures.append(error)

    # WHEN eight threads query at once
    try:
        workers = [threading.Thread(target=query, args=(w,)) for w in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        sys.setswitchinterval(interval)

    # THEN every request's expressions name its own attributes and values
    assert not failures, failures[:3]
    assert len(sent) == 8 * 300
    for params in sent:
        names, values = params["ExpressionAttributeNames"], params["ExpressionAttributeValues"]
        key, sort = params["KeyConditionExpression"].split(" AND ")
        assert names[key.split(" = ")[0].strip("()")] == "part"
        assert names[sort.split(" < ")[0].strip("()")] == "sort"
        assert sorted(names.values()) == ["kind", "part", "sort", "status"]
        assert len(values) == 4
