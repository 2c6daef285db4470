"""The kick: which stream records start a dispatcher, and only for a code with no live lease."""

from datetime import UTC, datetime

from functions.dal.leases import Lease
from functions.logic.kick import Kicker, codes_in_stream
from local.lambda_runtime import matches_filter

# The stack's filter on the Messages stream (infra/sending.py).
READY_FILTER = {"dynamodb": {"NewImage": {"ready_sort": {"S": [{"prefix": "0#"}, {"prefix": "1#"}]}}}}
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def record(image: dict | None, event: str = "MODIFY") -> dict:
    change = {"Keys": {"message_id": {"S": "msg_1"}}}
    if image is not None:
        change["NewImage"] = image
    return {"eventName": event, "dynamodb": change}


READY = {"ready_key": {"S": "+18005550100#0"}, "ready_sort": {"S": "0#2026-06-01T12:00:00+00:00#msg_1"}}
CLAIMED = {"ready_key": {"S": "+18005550100#0"}, "ready_sort": {"S": "9#2026-06-01T12:00:01+00:00#msg_1"}}
SENT = {"status": {"S": "Sent"}}


def test_only_records_that_made_a_message_ready_name_a_code():
    records = [record(READY, "INSERT"), record(CLAIMED), record(SENT), record(None, "REMOVE")]
    assert codes_in_stream(records) == {"+18005550100"}


def test_the_stacks_filter_passes_ready_images_and_drops_the_rest():
    assert matches_filter(READY_FILTER, record(READY))
    assert not matches_filter(READY_FILTER, record(CLAIMED))  # a claim is no kick
    assert not matches_filter(READY_FILTER, record(SENT))
    assert not matches_filter(READY_FILTER, record(None, "REMOVE"))


class Leases:
    def __init__(self, leases: dict[str, Lease]) -> None:
        self._leases = leases

    def get(self, code: str) -> Lease | None:
        return self._leases.get(code)


class Started:
    def __init__(self) -> None:
        self.codes: list[str] = []

    def start(self, code: str) -> None:
        self.codes.append(code)


def test_a_kick_starts_a_dispatcher_only_where_no_live_lease_holds_the_code():
    now_ms = int(NOW.timestamp() * 1000)
    leases = {
        "+18005550100": Lease("+18005550100", "a", 3, now_ms + 5_000),  # live
        "+18005550101": Lease("+18005550101", "b", 7, now_ms - 1),  # expired: its holder died
        "+18005550102": Lease("+18005550102", "c", 2, 0),  # released
    }
    started = Started()
    kicker = Kicker(Leases(leases), started, clock=lambda: NOW)  # type: ignore[arg-type]

    kicked = kicker.kick(["+18005550100", "+18005550101", "+18005550102", "+18005550103", "+18005550101"])

    assert kicked == started.codes == ["+18005550101", "+18005550102", "+18005550103"]
