"""Release held messages whose time has come onto the send queue (the every-minute schedule)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from functions.dal.messages import MessagesTable
from functions.dal.send_queue import SendQueue, SendWork
from functions.domain.messages import utc_now


class Releaser:
    def __init__(
        self, messages: MessagesTable, send_queue: SendQueue, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._messages = messages
        self._send_queue = send_queue
        self._clock = clock

    def release_due(self) -> int:
        """Queue every held message due by now; returns how many were released.

        Queue first, then clear the hold: a crash in between releases a message twice, and the
        sender's claim makes the second copy a no-op, so nothing is lost and nothing sent twice.
        """
        released = 0
        for due in self._messages.held_due(self._clock()):
            self._send_queue.enqueue([SendWork(tenant_id=due.tenant_id, message_id=due.message_id)])
            self._messages.clear_hold(due.message_id)
            released += 1
        return released
