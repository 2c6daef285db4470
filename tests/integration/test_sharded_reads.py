"""Sharded index keys read back exactly as one key would: the log, a job's messages, held messages."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from functions.dal import messages as messages_dal
from functions.dal.messages import (
    JOB_SHARDS,
    TENANT_SHARDS,
    InvalidCursor,
    MessagesTable,
    shard_of,
)
from functions.domain.message_log import MessageQuery
from functions.domain.messages import Message, MessageStatus, Recipient, StatusChange
from functions.domain.segments import Encoding
from tests.integration.conftest import Platform

START = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
NUMBERS = ["+14165550123", "+12125550187", "+14165550125"]


def message(index: int, tenant_id: str = "tenant-shards", **update: object) -> Message:
    rng = random.Random(index)
    created = START + timedelta(minutes=rng.randrange(0, 60 * 24 * 5), microseconds=index)
    status = rng.choice(list(MessageStatus))
    base = Message(
        message_id=f"msg_shard_{index:04d}",
        tenant_id=tenant_id,
        created_at=created,
        status=status,
        recipient=Recipient(
            contact_id="c",
            name="N",
            contact_type="Billing",
            related_entity_type="account",
            related_entity_id="acct",
            related_entity_name="A",
            phone_number=NUMBERS[index % 3],
        ),
        origination_number="+18005550100",
        template_key="payment_received",
        template_version=1,
        trigger="payment_received",
        job_id="job-shards" if index % 2 else None,
        body="hello",
        encoding=Encoding.GSM,
        segments=1,
        price_micros=0,
        history=[StatusChange(status=status, at=created)],
    )
    return base.model_copy(update=update)


@pytest.fixture
def stored(platform: Platform) -> tuple[MessagesTable, list[Message]]:
    table = MessagesTable(platform.table("MESSAGES_TABLE"))
    made = [message(index) for index in range(60)]
    made += [message(1000 + index, tenant_id="tenant-other", job_id=None) for index in range(10)]
    for item in made:
        table.put_new(item)
    return table, [m for m in made if m.tenant_id == "tenant-shards"]


def follow(table: MessagesTable, query: MessageQuery, limit: int) -> list[str]:
    found: list[str] = []
    cursor = None
    for _ in range(500):
        page, cursor = table.search("tenant-shards", query, limit, cursor)
        assert len(page) <= limit
        found += [m.message_id for m in page]
        if cursor is None:
            return found
    pytest.fail("the cursor never ended")


def newest_first(messages: list[Message], query: MessageQuery) -> list[str]:
    chosen = [m for m in messages if query.matches(m)]
    chosen.sort(key=lambda m: f"{m.created_at.isoformat()}#{m.message_id}", reverse=True)
    return [m.message_id for m in chosen]


def test_the_messages_spread_over_every_shard(stored):
    _, made = stored
    assert {shard_of(m.message_id, TENANT_SHARDS) for m in made} == set(range(TENANT_SHARDS))
    assert {shard_of(m.message_id, JOB_SHARDS) for m in made if m.job_id} == set(range(JOB_SHARDS))


QUERIES = {
    "all": MessageQuery(),
    "failed": MessageQuery(status=MessageStatus.FAILED),
    "number": MessageQuery(phone_number="+12125550187"),
    "window": MessageQuery(created_from=START + timedelta(days=1), created_to=START + timedelta(days=3)),
    "window+status": MessageQuery(created_to=START + timedelta(days=2), status=MessageStatus.PENDING),
}


def test_the_log_reads_every_shard_newest_first_in_pages(stored):
    # GIVEN 60 messages of a tenant over 8 shards (and another tenant's 10)
    table, made = stored
    for name, query in QUERIES.items():
        for limit in (4, 200):
            # WHEN every page is followed THEN exactly the matching messages, newest first, once each
            assert follow(table, query, limit) == newest_first(made, query), (name, limit)


def test_a_small_read_budget_still_returns_every_row_once_in_order(stored, monkeypatch):
    # GIVEN a request that may read only a few rows before it hands back a cursor
    table, made = stored
    monkeypatch.setattr(messages_dal, "SEARCH_MAX_EVALUATED", 3)
    query = MessageQuery(status=MessageStatus.DELIVERED)
    # THEN short pages and cursors still add up to the whole view, in order
    assert follow(table, query, 5) == newest_first(made, query)


def test_a_cursor_outside_the_window_or_of_another_tenant_is_refused(stored):
    table, _ = stored
    _, cursor = table.search("tenant-shards", MessageQuery(), 5)
    assert cursor is not None
    with pytest.raises(InvalidCursor):
        table.search("tenant-other", MessageQuery(), 5, cursor)
    with pytest.raises(InvalidCursor):
        table.search("tenant-shards", MessageQuery(created_from=START + timedelta(days=30)), 5, cursor)


def test_a_jobs_messages_come_by_status_from_every_shard(stored):
    # GIVEN a job of 30 messages over 8 shards
    table, made = stored
    query = MessageQuery(job_id="job-shards")
    # WHEN its pages are followed THEN each of its messages comes once, ordered by status
    found = follow(table, query, 4)
    assert follow(table, query, 100) == found
    of_job = [m for m in made if m.job_id == "job-shards"]
    assert sorted(found) == sorted(m.message_id for m in of_job)
    by_id = {m.message_id: m for m in of_job}
    assert [by_id[i].status.value for i in found] == sorted(by_id[i].status.value for i in found)
    counts = table.count_for_job("job-shards")
    for status in MessageStatus:
        assert counts[status] == sum(1 for m in of_job if m.status is status)
    pending = {m.message_id for m in of_job if m.status is MessageStatus.PENDING}
    assert set(table.pending_of_job("job-shards")) == pending


def test_held_messages_from_every_shard_come_due_earliest_first(platform: Platform):
    # GIVEN 40 held messages over the release shards, half of them due
    table = MessagesTable(platform.table("MESSAGES_TABLE"))
    held = [
        message(
            5000 + index, status=MessageStatus.PENDING, release_at=START + timedelta(minutes=index * 7 % 40)
        )
        for index in range(40)
    ]
    for item in held:
        table.put_new(item)
    due = list(table.held_due(START + timedelta(minutes=20)))
    expected = sorted(
        (m for m in held if m.release_at <= START + timedelta(minutes=20)), key=lambda m: m.release_at
    )
    # THEN every due message, from every shard, once, earliest first (ties in any order)
    assert sorted(due) == sorted(m.message_id for m in expected)
    release_of = {m.message_id: m.release_at for m in held}
    assert [release_of[message_id] for message_id in due] == sorted(m.release_at for m in expected)
