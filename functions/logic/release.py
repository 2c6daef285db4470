"""Release held messages whose time has come onto their codes' ready index (the every-minute schedule)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from functions.dal.messages import MessagesTable
from functions.domain.messages import utc_now

# Stop with this much of the invocation left; the next run carries on, so runs never overlap.
STOP_MARGIN_MS = 5_000


class Releaser:
    def __init__(self, messages: MessagesTable, clock: Callable[[], datetime] = utc_now) -> None:
        self._messages = messages
        self._clock = clock

    def release_due(self, remaining_ms: Callable[[], int] | None = None) -> int:
        """Make the held messages due by now ready; returns how many were released.

        One conditional update each (off the release index, onto the ready index): a second run, or
        two at once, release a message once; the stream's kick then starts its code's dispatcher.
        """
        released = 0
        for index, message_id in enumerate(self._messages.held_due(self._clock())):
            released += self._messages.release(message_id)
            if remaining_ms is not None and index % 10 == 9 and remaining_ms() < STOP_MARGIN_MS:
                return released
        return released
