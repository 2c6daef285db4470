"""The three-a-day rule through the real handlers on moto, at controlled times (time-machine).

The demo tenant is in America/Toronto; a Miami (FL) number is subject to the rule, Ada's Toronto
number is not.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from functions.dal.config import ConfigTable
from functions.dal.messages import MessagesTable
from functions.dal.opt_outs import OptOutsTable
from functions.dal.subject_sends import SubjectSendsTable, subject_key
from functions.logic.compose import Composer, Recipients
from functions.logic.three_a_day import ThreeADay
from functions.logic.triggers import TriggeredMessages, TriggerRequest
from infra.constants import THREE_A_DAY_STATES
from tests.integration.conftest import Platform

T0 = datetime(2026, 6, 1, 14, 0, tzinfo=UTC)  # 10:00 in Toronto and Miami
TRIGGER = "/v1/triggers/payment_received"
PAYMENT = {"company": "Demo Fiber", "amount": 4999}
MIAMI = "+13055550123"


def ok(platform: Platform, method: str, path: str, body: Any = None, status: int = 200) -> Any:
    code, result = platform.call(method, path, body)
    assert code == status, result
    return result


def contact_with(platform: Platform, number: str, account: str = "acct-1001") -> str:
    created = ok(platform, "POST", "/v1/contacts", {
        "name": "Miami Recipient", "contact_type": "Billing", "related_entity_id": account,
        "related_entity_name": "Lovelace", "phones": [{"number": number, "number_type": "Mobile", "sms_opt_in": True}],
    }, status=201)  # fmt: skip
    return str(created["id"])


def rule_on(platform: Platform) -> None:
    assert ok(platform, "PATCH", "/v1/settings", {"three_a_day_rule": True})["three_a_day_rule"] is True


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def test_the_fourth_triggered_message_on_a_subject_waits_until_the_first_is_24_hours_old(
    platform: Platform, clock
):
    # GIVEN the rule on and a Florida recipient who got three payment receipts an hour apart
    rule_on(platform)
    miami = contact_with(platform, MIAMI)
    first = None
    for hour in range(3):
        clock.move_to(T0 + timedelta(hours=hour, seconds=20))
        sent = platform.send(TRIGGER, {"contact_id": miami, "variables": PAYMENT})
        assert sent["release_at"] is None
        first = first or sent

    # WHEN a fourth comes an hour later, with another subject and to a Toronto number meanwhile
    clock.move_to(T0 + timedelta(hours=3))
    fourth = platform.send(TRIGGER, {"contact_id": miami, "variables": PAYMENT})
    other_subject = platform.send("/v1/triggers/ticket_closed", {"contact_id": miami,
                                  "variables": {"company": "Demo Fiber", "ticket_number": "12"}})  # fmt: skip
    toronto = platform.send(TRIGGER, {"contact_id": "contact-ada", "variables": PAYMENT})

    # THEN the fourth is Pending until the first's 24 hours are over (the next whole minute)
    assert (fourth["status"], fourth["hold_rule"]) == ("Pending", "three_a_day")
    assert fourth["release_at"] == "2026-06-02T14:01:00Z"
    assert fourth["history"][0]["detail"] == "held by three_a_day until 2026-06-02T14:01:00+00:00"
    assert other_subject["release_at"] is None
    assert toronto["release_at"] is None
    assert first is not None

    # AND the release path sends it then, not before
    platform.run_dispatchers()
    clock.move_to(datetime(2026, 6, 2, 14, 0, tzinfo=UTC))
    assert platform.function("release").invoke({})["released"] == 0
    clock.move_to(datetime(2026, 6, 2, 14, 1, tzinfo=UTC))
    assert platform.function("release").invoke({})["released"] == 1
    platform.run_dispatchers()
    assert ok(platform, "GET", f"/v1/messages/{fourth['id']}")["status"] == "Sent"


def test_with_the_rule_off_nothing_is_counted_or_held(platform: Platform, clock):
    miami = contact_with(platform, MIAMI)
    for _ in range(4):
        assert platform.send(TRIGGER, {"contact_id": miami, "variables": PAYMENT})["release_at"] is None
    assert platform.table("SUBJECT_SENDS_TABLE").scan()["Count"] == 0


def test_quiet_hours_count_the_message_when_it_goes(platform: Platform, clock):
    # GIVEN quiet hours 22:00-07:00 Toronto and three messages held by them until 07:00
    rule_on(platform)
    ok(platform, "PATCH", "/v1/settings", {"quiet_hours": {"start": "22:00", "end": "07:00"}})
    miami = contact_with(platform, MIAMI)
    clock.move_to(datetime(2026, 6, 1, 3, 0, tzinfo=UTC))  # 23:00 Toronto
    held = [platform.send(TRIGGER, {"contact_id": miami, "variables": PAYMENT}) for _ in range(4)]

    # THEN three are counted at 07:00 (11:00 UTC); the fourth waits 24 hours more, past its quiet hours
    assert [m["release_at"] for m in held[:3]] == ["2026-06-01T11:00:00Z"] * 3
    assert (held[3]["release_at"], held[3]["hold_rule"]) == ("2026-06-02T11:00:00Z", "three_a_day")


def outage(filters: dict[str, Any]) -> dict[str, Any]:
    return {
        "saved_message": "planned_outage",
        "outage_start": "2026-12-01T02:00:00-05:00",
        "outage_end": "2026-12-01T04:00:00-05:00",
        "variables": {"company": "Demo Fiber"},
        "filters": filters,
    }


def send_mass(platform: Platform, body: dict[str, Any]) -> dict[str, Any]:
    job = ok(platform, "POST", "/v1/mass-messages", body, status=202)
    ok(platform, "POST", f"/v1/mass-messages/{job['id']}/confirm",
       {"confirmation_token": job["confirmation_token"]}, status=202)  # fmt: skip
    platform.run_fanout()
    return job


def test_a_mass_message_leaves_out_a_number_that_had_three_and_says_why(platform: Platform, clock):
    # GIVEN a site with Ada (Toronto) and a Miami contact, who got three planned-outage notices today
    rule_on(platform)
    ok(platform, "PUT", "/v1/accounts/acct-1001", {"name": "Lovelace", "network_site_id": "site-north"})
    contact_with(platform, MIAMI)
    site = {"network_site_ids": ["site-north"]}
    for hour in range(3):
        clock.move_to(T0 + timedelta(hours=hour))
        assert send_mass(platform, outage(site))["preview"]["excluded"].get("three_a_day") is None

    # WHEN a fourth is previewed
    clock.move_to(T0 + timedelta(hours=3))
    fourth = ok(platform, "POST", "/v1/mass-messages", outage(site), status=202)

    # THEN the Miami number is excluded with the reason, and not priced
    preview = fourth["preview"]
    assert preview["excluded"]["three_a_day"] == 1
    assert preview["total_micros"] == preview["recipients"] * preview["price_per_message_micros"]
    # AND a day after the first it is back
    clock.move_to(T0 + timedelta(hours=24))
    again = ok(platform, "POST", f"/v1/mass-messages/{fourth['id']}/preview", status=202)
    assert "three_a_day" not in again["preview"]["excluded"]
    assert again["preview"]["recipients"] == preview["recipients"] + 1


def test_the_fan_out_leaves_out_a_number_whose_last_slot_went_after_the_preview(platform: Platform, clock):
    # GIVEN two notices sent, a third previewed and confirmed, and another job taking the slot first
    rule_on(platform)
    ok(platform, "PUT", "/v1/accounts/acct-1001", {"name": "Lovelace", "network_site_id": "site-north"})
    contact_with(platform, MIAMI)
    site = {"network_site_ids": ["site-north"]}
    for _ in range(2):
        send_mass(platform, outage(site))
    job = ok(platform, "POST", "/v1/mass-messages", outage(site), status=202)
    ok(platform, "POST", f"/v1/mass-messages/{job['id']}/confirm",
       {"confirmation_token": job["confirmation_token"]}, status=202)  # fmt: skip
    SubjectSendsTable(platform.table("SUBJECT_SENDS_TABLE")).reserve(
        "demo-isp", MIAMI, "planned_outage", "msg_elsewhere", T0, lambda sends: T0
    )

    # WHEN the fan-out runs
    platform.run_fanout()

    # THEN the Miami number got no message from this job; the others did
    numbers = {m["phone_number"] for m in ok(platform, "GET", f"/v1/messages?job_id={job['id']}")["items"]}
    assert MIAMI not in numbers
    assert len(numbers) == job["preview"]["recipients"] - 1
    item = platform.table("SUBJECT_SENDS_TABLE").get_item(
        Key={"pk": subject_key("demo-isp", MIAMI, "planned_outage")}
    )["Item"]
    assert len(item["sends"]) == 3


def test_a_calling_list_preview_excludes_a_full_number(platform: Platform, clock):
    rule_on(platform)
    sends = SubjectSendsTable(platform.table("SUBJECT_SENDS_TABLE"))
    for index in range(3):
        sends.reserve("demo-isp", MIAMI, "tenant:tpl-fence-painting", f"msg_{index}", T0, lambda s: T0)
    listed = ok(platform, "POST", "/v1/calling-lists", {
        "name": "Fences", "template_id": "tpl-fence-painting", "phone_field": "cell",
        "mapping": {"first_name": "first", "quote": "quote_cents"},
        "records": [{"first": "Tom", "cell": MIAMI, "quote_cents": 100},
                    {"first": "Huck", "cell": "416-555-0302", "quote_cents": 100}],
    }, status=202)  # fmt: skip
    assert listed["preview"]["excluded"] == {"three_a_day": 1}
    assert listed["preview"]["recipients"] == 1


def test_concurrent_triggers_never_both_take_the_third_slot(platform: Platform, clock):
    # GIVEN two messages sent, and five triggers whose reads all happen before any write
    rule_on(platform)
    miami = contact_with(platform, MIAMI)
    for _ in range(2):
        platform.send(TRIGGER, {"contact_id": miami, "variables": PAYMENT})
    racers = 5
    barrier = threading.Barrier(racers)
    first_reads: set[int] = set()

    class ReadTogether:
        """The SubjectSends table, every racer's first read released only once all have read."""

        def __init__(self, table: Any) -> None:
            self._table = table
            self.meta = table.meta
            self.name = table.name

        def get_item(self, **kwargs: Any) -> Any:
            item = self._table.get_item(**kwargs)
            if threading.get_ident() not in first_reads:
                first_reads.add(threading.get_ident())
                barrier.wait(timeout=20)
            return item

        def put_item(self, **kwargs: Any) -> Any:
            return self._table.put_item(**kwargs)

    shared = ReadTogether(platform.table("SUBJECT_SENDS_TABLE"))
    composer = Composer(
        ConfigTable(platform.table("CONFIG_TABLE")),
        MessagesTable(platform.table("MESSAGES_TABLE")),
        OptOutsTable(platform.table("OPT_OUTS_TABLE")),
        three_a_day=ThreeADay(SubjectSendsTable(shared), frozenset(THREE_A_DAY_STATES)),  # type: ignore[arg-type]
    )
    triggers = TriggeredMessages(composer)
    request = TriggerRequest(
        trigger="payment_received", recipients=Recipients(contact_id=miami), variables=PAYMENT
    )
    results: list[dict[str, Any]] = []

    def fire() -> None:
        (message,) = triggers.send("demo-isp", request).messages
        results.append(message.model_dump())

    # WHEN they run at once
    threads = [threading.Thread(target=fire) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # THEN exactly one took the third slot; the others wait a day
    assert len(results) == racers
    due_now = [m for m in results if m["release_at"] is None]
    assert len(due_now) == 1
    assert {m["hold_rule"] for m in results if m["release_at"] is not None} == {"three_a_day"}
    item = platform.table("SUBJECT_SENDS_TABLE").get_item(
        Key={"pk": subject_key("demo-isp", MIAMI, "payment_received")}
    )["Item"]
    assert len(item["sends"]) == 2 + racers
