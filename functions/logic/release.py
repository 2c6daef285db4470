"""Release held messages whose time has come onto the send queue (the every-minute schedule)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from functions.dal.messages import MessagesTable
from functions.dal.send_queue import SQS_BATCH_LIMIT, EnqueueFailed, SendQueue, SendWork
from functions.domain.messages import utc_now

# Stop with this much of the invocation left; the next run carries on, so runs never overlap.
STOP_MARGIN_MS = 5_000


class Releaser:
    def __init__(
        self, messages: MessagesTable, send_queue: SendQueue, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._messages = messages
        self._send_queue = send_queue
        self._clock = clock

    def release_due(self, remaining_ms: Callable[[], int] | None = None) -> int:
        """Queue the held messages due by now, a batch at a time; returns how many were released.

        Queue first, then clear the hold: a crash in between, or two runs at once, release a message
        twice, and the sender's claim makes the second copy a no-op, so nothing is lost and nothing
        sent twice. A batch SQS refuses stays held and is tried again by the next run.
        """
        released = 0
        batch: list[SendWork] = []
        for due in self._messages.held_due(self._clock()):
            batch.append(due)
            if len(batch) < SQS_BATCH_LIMIT:
                continue
            released += self._release(batch)
            batch = []
            if remaining_ms is not None and remaining_ms() < STOP_MARGIN_MS:
                return released
        return released + self._release(batch) if batch else released

    def _release(self, batch: list[SendWork]) -> int:
        try:
            self._send_queue.enqueue(batch)
            refused: set[str] = set()
        except EnqueueFailed as error:
            refused = set(error.message_ids)
        for work in batch:
            if work.message_id not in refused:
                self._messages.clear_hold(work.message_id)
        return len(batch) - len(refused)
