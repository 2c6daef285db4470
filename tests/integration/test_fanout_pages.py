"""The fan-out's pages: batch writes under a page lease, resumed after a crash, and what a page costs.

Every message write is counted at the wire (a botocore hook on the DynamoDB calls that write the
Messages table), so "written once" means one PutRequest per message id over the whole fan-out.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest

from functions.dal.config import ConfigTable
from functions.dal.fanout_queue import FanOutQueue, FanOutWork
from functions.dal.jobs import JobsTable
from functions.dal.list_records import ListRecords
from functions.dal.messages import MessagesTable
from functions.dal.objects import ObjectStore
from functions.dal.opt_outs import OptOutsTable
from functions.domain.messages import Message, utc_now
from functions.handlers import fanout as fanout_handler
from functions.logic.compose import Composer
from functions.logic.fanout import KICK_AFTER, FanOut
from infra.constants import FANOUT_QUEUE_ID, FANOUT_TIMEOUT_SECONDS, FANOUT_VISIBILITY_SECONDS
from tests.integration.conftest import Platform

OUTAGE = {
    "saved_message": "planned_outage",
    "outage_start": "2026-12-01T02:00:00-05:00",
    "outage_end": "2026-12-01T04:00:00-05:00",
    "variables": {"company": "Demo Fiber"},
    "filters": {},
}
LONG_INVOCATION = 60_000  # the time a fan-out here believes it has left, in ms
FANOUT_TIMEOUT_MS = FANOUT_TIMEOUT_SECONDS * 1000


class MessageWrites:
    """Counts the Messages table's writes per message id and DynamoDB calls per operation, at the wire."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name
        self.per_message: Counter[str] = Counter()
        self.operations: Counter[str] = Counter()

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.operations[f"{model.service_model.service_name}:{model.name}"] += 1
        if model.service_model.service_name != "dynamodb" or not params.get("body"):
            return
        body = json.loads(params["body"])
        if model.name == "BatchWriteItem":
            for request in body["RequestItems"].get(self.table_name, []):
                self.per_message[request["PutRequest"]["Item"]["message_id"]["S"]] += 1
        elif model.name == "PutItem" and body.get("TableName") == self.table_name:
            self.per_message[body["Item"]["message_id"]["S"]] += 1

    def watch(self, session: boto3.Session) -> None:
        session.events.register("before-call.*.*", self)

    def unwatch(self, session: boto3.Session) -> None:
        session.events.unregister("before-call.*.*", self)


@pytest.fixture
def writes(platform: Platform) -> Iterator[MessageWrites]:
    """Watches the test's own clients and the handlers' (boto3's default session); the fan-out
    function is built afresh so that its clients carry the hook."""
    counter = MessageWrites(platform.table("MESSAGES_TABLE").name)
    sessions = [platform.session, boto3._get_default_session()]
    for session in sessions:
        counter.watch(session)
    fanout_handler.fanout.cache_clear()
    yield counter
    for session in sessions:
        counter.unwatch(session)
    fanout_handler.fanout.cache_clear()


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FANOUT_PAGE_SIZE", "5")


def add_contacts(platform: Platform, count: int, first_id: int = 0) -> None:
    config = ConfigTable(platform.table("CONFIG_TABLE"))
    ada = config.get_contact("demo-isp", "contact-ada")
    assert ada is not None
    copies = []
    for index in range(count):
        phone = ada.phones[0].model_copy(update={"number": f"+1416555{1000 + index:04d}"})
        copies.append(
            ada.model_copy(update={"contact_id": f"bulk-{first_id + index:04d}", "phones": [phone]})
        )
    config.put_contacts("demo-isp", copies)


def confirmed_job(platform: Platform) -> dict[str, Any]:
    status, job = platform.call("POST", "/v1/mass-messages", OUTAGE)
    assert status == 202, job
    if job["status"] != "previewed":  # a larger audience: the preview function finishes it
        platform.run_previews()
        status, job = platform.call("GET", f"/v1/mass-messages/{job['id']}")
        assert (status, job["status"]) == (200, "previewed"), job
    status, confirmed = platform.call(
        "POST", f"/v1/mass-messages/{job['id']}/confirm", {"confirmation_token": job["confirmation_token"]}
    )
    assert status == 202, confirmed
    if confirmed["status"] != "sending":  # the confirmation's preview, computed again
        platform.run_previews()
    return job  # type: ignore[no-any-return]


def fanout_of(
    platform: Platform,
    messages: MessagesTable | None = None,
    page_size: int | None = 5,
    clock: Callable[[], datetime] = utc_now,
) -> FanOut:
    """A fan-out as another instance of the fan-out function has it (its own page-lease owner)."""
    messages = messages or MessagesTable(platform.table("MESSAGES_TABLE"))
    config = ConfigTable(platform.table("CONFIG_TABLE"))
    opt_outs = OptOutsTable(platform.table("OPT_OUTS_TABLE"))
    return FanOut(
        config,
        JobsTable(platform.table("JOBS_TABLE")),
        messages,
        Composer(config, messages, opt_outs, clock=clock),
        FanOutQueue(platform.session.client("sqs"), platform.queue_url(FANOUT_QUEUE_ID)),
        ListRecords(ObjectStore(platform.session.client("s3"), os.environ["LISTS_BUCKET"])),
        opt_outs,
        page_size=page_size,
        clock=clock,
    )


class DiesMidPage(MessagesTable):
    """A Messages table whose ``page``-th batch write writes ``written`` messages, then the invocation dies."""

    def __init__(self, inner: MessagesTable, page: int, written: int) -> None:
        super().__init__(inner._table)
        self.calls: list[list[str]] = []
        self._page, self._written = page, written

    def put_many(self, messages: list[Message]) -> None:
        self.calls.append([message.message_id for message in messages])
        if len(self.calls) == self._page:
            super().put_many(messages[: self._written])
            raise TimeoutError("the invocation ran out of time")
        super().put_many(messages)


def every_number_once(
    platform: Platform, writes: MessageWrites, job_id: str, recipients: int, send: bool = True
) -> None:
    """Each recipient has one message, written once, and (``send``) one SMS at the carrier."""
    status, progress = platform.call("GET", f"/v1/mass-messages/{job_id}")
    assert status == 200, progress
    assert progress["status"] == "queued"
    assert progress["created_messages"] == recipients
    assert platform.table("MESSAGES_TABLE").scan(Select="COUNT")["Count"] == recipients
    assert len(writes.per_message) == recipients
    assert set(writes.per_message.values()) == {1}, writes.per_message.most_common(3)
    if not send:
        return
    platform.run_dispatchers()
    destinations = [record.destination for record in platform.simulator.records]
    assert len(destinations) == len(set(destinations)) == recipients


def redeliver_at_once(platform: Platform) -> None:
    """Let a failed work item come back now, as it would once its visibility timeout is over."""
    platform.session.client("sqs").set_queue_attributes(
        QueueUrl=platform.queue_url(FANOUT_QUEUE_ID), Attributes={"VisibilityTimeout": "0"}
    )


def test_a_fanout_that_dies_mid_page_resumes_in_the_same_instance_and_sends_each_message_once(
    platform: Platform, writes: MessageWrites, small_pages: None
):
    # GIVEN 26 recipients (23 new contacts, 2 more sharing their numbers, 3 of the demo) in pages of 5
    add_contacts(platform, 23)
    add_contacts(platform, 2, first_id=100)
    job = confirmed_job(platform)
    assert job["preview"]["recipients"] == 26
    # ... and the fan-out function's page 3 write dies after 2 of its messages
    built = fanout_handler.fanout()
    dying = DiesMidPage(built._messages, page=3, written=2)
    built._messages = dying
    poller = platform.poller(FANOUT_QUEUE_ID, "fanout", batch_size=1)
    redeliver_at_once(platform)
    assert poller.poll_once()  # the work item failed and stays on the queue
    assert platform.queue_depth(FANOUT_QUEUE_ID) == 1

    # WHEN SQS hands the work item back (to the same warm instance)
    platform.run_fanout()

    # THEN the resumed page wrote only its 3 absent messages, and every number has one message, one SMS
    assert [len(call) for call in dying.calls[2:4]] == [5, 3]
    assert set(dying.calls[3]) == set(dying.calls[2][2:])
    every_number_once(platform, writes, job["id"], 26)


def test_a_fanout_that_dies_mid_page_is_resumed_by_another_instance_once_its_lease_is_over(
    platform: Platform, writes: MessageWrites
):
    # GIVEN a fan-out that died writing its third page of 5 (2 written), still holding the page's lease
    add_contacts(platform, 23)
    add_contacts(platform, 2, first_id=100)
    job = confirmed_job(platform)
    assert job["preview"]["recipients"] == 26
    dying = DiesMidPage(MessagesTable(platform.table("MESSAGES_TABLE")), page=3, written=2)
    with pytest.raises(TimeoutError):
        fanout_of(platform, dying).run(FanOutWork(job_id=job["id"]), remaining_ms=lambda: LONG_INVOCATION)

    # WHEN another instance gets the work item within the dead one's invocation, then after it
    early = fanout_of(platform).run(FanOutWork(job_id=job["id"]), remaining_ms=lambda: LONG_INVOCATION)
    later = fanout_of(platform, clock=lambda: utc_now() + timedelta(seconds=FANOUT_VISIBILITY_SECONDS))
    resumed = later.run(FanOutWork(job_id=job["id"]), remaining_ms=lambda: LONG_INVOCATION)

    # THEN the early one wrote nothing (the page was leased); the later one resumed the page, counting
    # its 2 earlier messages as the page's, and finished the job
    assert (early.busy, early.pages, early.created) == (True, 0, 0)
    assert resumed.finished
    assert resumed.created == 26 - 10  # pages 1 and 2 held 10 new numbers
    platform.run_fanout()  # the confirmation's work item finds the job done
    every_number_once(platform, writes, job["id"], 26)


class HeldMidPage(MessagesTable):
    """A Messages table whose first batch write waits until the test lets it go (a slow page)."""

    def __init__(self, inner: MessagesTable) -> None:
        super().__init__(inner._table)
        self.entered, self.go = threading.Event(), threading.Event()

    def put_many(self, messages: list[Message]) -> None:
        if not self.entered.is_set():
            self.entered.set()
            assert self.go.wait(timeout=30)
        super().put_many(messages)


def test_two_fanouts_of_one_job_at_once_never_both_write_a_page(platform: Platform, writes: MessageWrites):
    # GIVEN a fan-out that holds its first page's lease and is in the middle of writing it
    add_contacts(platform, 17)
    job = confirmed_job(platform)
    held = HeldMidPage(MessagesTable(platform.table("MESSAGES_TABLE")))
    first = fanout_of(platform, held)
    outcome: dict[str, Any] = {}

    def run_first() -> None:  # at the start of an invocation as long as the fan-out function's
        outcome["first"] = first.run(FanOutWork(job_id=job["id"]), remaining_ms=lambda: FANOUT_TIMEOUT_MS)

    thread = threading.Thread(target=run_first)
    thread.start()
    try:
        assert held.entered.wait(timeout=30)

        # WHEN a second fan-out of the job runs meanwhile, now and in the first one's last second
        second = fanout_of(platform).run(FanOutWork(job_id=job["id"]), remaining_ms=lambda: LONG_INVOCATION)
        last_second = timedelta(milliseconds=FANOUT_TIMEOUT_MS - 1_000)
        almost_over = fanout_of(platform, clock=lambda: utc_now() + last_second)
        third = almost_over.run(FanOutWork(job_id=job["id"]), remaining_ms=lambda: LONG_INVOCATION)
    finally:
        held.go.set()
        thread.join(timeout=30)

    # THEN neither wrote a message; the first wrote every page, each message once
    assert (second.busy, second.created, third.busy, third.created) == (True, 0, True, 0)
    assert outcome["first"].finished
    platform.run_fanout()
    every_number_once(platform, writes, job["id"], 20)


def test_fanouts_racing_through_one_job_write_each_message_once(platform: Platform, writes: MessageWrites):
    # GIVEN 60 recipients in pages of 4
    add_contacts(platform, 57)
    job = confirmed_job(platform)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run(fanout: FanOut) -> None:
        try:
            while True:  # as a chain of work items would, until the job is done
                result = fanout.run(FanOutWork(job_id=job["id"]), remaining_ms=lambda: LONG_INVOCATION)
                results.append(result)
                if result.finished or JobsTable(platform.table("JOBS_TABLE")).checkpoint(job["id"]).done:
                    return
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    # WHEN three instances run the job's fan-out at the same time
    threads = [threading.Thread(target=run, args=(fanout_of(platform, page_size=4),)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # THEN each page was written by one of them, and each message once
    assert not errors, errors
    assert sum(result.created for result in results) == 60
    platform.run_fanout()
    every_number_once(platform, writes, job["id"], 60, send=False)  # the writes are the point here


def test_a_fanout_page_costs_under_a_tenth_of_a_request_per_recipient(platform: Platform):
    # GIVEN 397 new contacts (400 recipients) and a fan-out whose every AWS call is counted
    add_contacts(platform, 397)
    job = confirmed_job(platform)
    counted = boto3.Session()
    calls = MessageWrites(platform.table("MESSAGES_TABLE").name)
    calls.watch(counted)
    dynamodb = counted.resource("dynamodb")
    messages = MessagesTable(dynamodb.Table(platform.table("MESSAGES_TABLE").name))
    config = ConfigTable(dynamodb.Table(platform.table("CONFIG_TABLE").name))
    opt_outs = OptOutsTable(dynamodb.Table(platform.table("OPT_OUTS_TABLE").name))
    fanout = FanOut(
        config,
        JobsTable(dynamodb.Table(platform.table("JOBS_TABLE").name)),
        messages,
        Composer(config, messages, opt_outs),
        FanOutQueue(counted.client("sqs"), platform.queue_url(FANOUT_QUEUE_ID)),
        ListRecords(ObjectStore(counted.client("s3"), os.environ["LISTS_BUCKET"])),
        opt_outs,
        backlog_seconds=180,  # as deployed: the backlog check is part of every page
    )

    # WHEN it writes the job (one page: DynamoDB's 1 MB query page holds every contact)
    result = fanout.run(FanOutWork(job_id=job["id"]), remaining_ms=lambda: LONG_INVOCATION)

    # THEN the messages went in batches of 25 after batch reads of 100, about 0.07 requests a recipient
    assert (result.pages, result.created, result.finished) == (1, 400, True)
    assert calls.operations["dynamodb:BatchWriteItem"] == math.ceil(400 / 25)
    # The page's first KICK_AFTER messages are looked up and written first, then the rest; and opt-outs
    looked_up = 1 + math.ceil((400 - KICK_AFTER) / 100)
    assert calls.operations["dynamodb:BatchGetItem"] == looked_up + math.ceil(400 / 100)
    assert calls.operations["dynamodb:PutItem"] == 0
    total = sum(calls.operations.values())
    assert 0.05 <= total / 400 <= 0.1, calls.operations
