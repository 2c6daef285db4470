"""The sent-messages log's pure rules: which messages a view holds, key ranges, safe CSV cells."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.domain.message_log import (
    CSV_COLUMNS,
    MessageQuery,
    created_key_ceiling,
    created_key_floor,
    spreadsheet_safe,
    to_csv,
)
from functions.domain.messages import Message, MessageStatus, Recipient, StatusChange
from functions.domain.segments import Encoding
from functions.domain.tenants import EntityType

AT = datetime(2026, 5, 1, 10, 0, 0, 250_000, tzinfo=UTC)


def message(**changes) -> Message:
    base = Message(
        message_id="msg_1",
        tenant_id="t1",
        created_at=AT,
        status=MessageStatus.DELIVERED,
        recipient=Recipient(
            contact_id="c1",
            name="Ada",
            contact_type="Billing",
            related_entity_type="account",
            related_entity_id="acct-1",
            related_entity_name="Ada home",
            phone_number="+14165550123",
        ),
        origination_number="+18005550100",
        template_key="payment_received",
        template_version=1,
        trigger="payment_received",
        body="Paid.\nReply STOP to unsubscribe.",
        encoding=Encoding.GSM,
        segments=1,
        price_micros=8_500,
        history=[StatusChange(status=MessageStatus.DELIVERED, at=AT)],
    )
    return base.model_copy(update=changes)


@pytest.mark.parametrize(
    ("query", "matches"),
    [
        (MessageQuery(), True),
        (MessageQuery(status=MessageStatus.DELIVERED), True),
        (MessageQuery(status=MessageStatus.FAILED), False),
        (MessageQuery(created_from=AT), True),  # inclusive
        (MessageQuery(created_to=AT), False),  # exclusive
        (MessageQuery(created_to=AT + timedelta(microseconds=1)), True),
        (MessageQuery(phone_number="+14165550123", entity_id="acct-1"), True),
        (MessageQuery(entity_type=EntityType.NETWORK_SITE), False),
        (MessageQuery(job_id="job_1"), False),
        (MessageQuery(trigger="payment_received"), True),
    ],
)
def test_a_view_holds_the_messages_that_pass_every_filter(query, matches):
    assert query.matches(message()) is matches


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC)))
def test_the_key_range_of_a_second_holds_every_key_written_in_it(instant):
    # Keys as the table writes them: pydantic's JSON time (a whole second has no fraction), then the id.
    written = message(created_at=instant).model_dump(mode="json")["created_at"] + "#msg_01ABC"
    assert created_key_floor(instant) <= written <= created_key_ceiling(instant)
    assert written < created_key_floor(instant + timedelta(seconds=1))
    assert written > created_key_ceiling(instant - timedelta(seconds=1))


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ("+14165550123", "+14165550123"),
        ("-12.5", "-12.5"),
        ('=HYPERLINK("x")', '\'=HYPERLINK("x")'),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("Ada Lovelace", "Ada Lovelace"),
    ],
)
def test_a_cell_a_spreadsheet_would_run_is_quoted(cell, safe):
    assert spreadsheet_safe(cell) == safe


def test_the_csv_has_a_header_and_one_row_per_message_with_the_body_intact():
    rows = list(csv.reader(io.StringIO(to_csv([message(), message(message_id="msg_2", reject_reason=None)]))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [row[0] for row in rows[1:]] == ["msg_1", "msg_2"]
    assert rows[1][CSV_COLUMNS.index("body")] == "Paid.\nReply STOP to unsubscribe."
    assert rows[1][CSV_COLUMNS.index("price_micros")] == "8500"
