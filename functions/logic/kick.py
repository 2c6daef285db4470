"""Starting dispatchers when there is work: on a new ready message (the stream), and every minute.

A kick starts a code's dispatcher only when no live lease holds the code (one consistent read of
the lease). Two kicks at once may both start one; the second finds the lease taken and ends at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from functions.dal.config import ConfigTable
from functions.dal.leases import LeasesTable
from functions.dal.messages import MessagesTable
from functions.domain.messages import utc_now
from functions.logic.dispatch import DispatcherInvoker
from functions.observability import logger


@dataclass
class SweepReport:
    kicked: list[str] = field(default_factory=list)
    # Per code with ready messages: the age in seconds of its oldest (the alarm's metric).
    oldest_ready_seconds: dict[str, float] = field(default_factory=dict)


class Kicker:
    def __init__(
        self,
        leases: LeasesTable,
        invoker: DispatcherInvoker,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._leases = leases
        self._invoker = invoker
        self._clock = clock

    def kick(self, codes: Iterable[str]) -> list[str]:
        """Start a dispatcher for each code that has none running; the codes started."""
        started = []
        now_ms = int(self._clock().timestamp() * 1000)
        for code in sorted(set(codes)):
            lease = self._leases.get(code)
            if lease is not None and lease.expires_at_ms > now_ms:
                continue
            self._invoker.start(code)
            started.append(code)
        if started:
            logger.info("dispatchers started", codes=started)
        return started


class DispatchWatch:
    """The minute schedule's safety net: every code with ready or in-flight messages has a dispatcher."""

    def __init__(
        self,
        config: ConfigTable,
        messages: MessagesTable,
        kicker: Kicker,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._config = config
        self._messages = messages
        self._kicker = kicker
        self._clock = clock

    def sweep(self) -> SweepReport:
        report = SweepReport()
        now = self._clock()
        with_work = []
        for code in self._config.list_transport_codes():
            if not self._messages.has_dispatch_work(code.number):
                continue
            with_work.append(code.number)
            oldest = self._messages.oldest_ready(code.number)
            if oldest is not None:
                report.oldest_ready_seconds[code.number] = max(0.0, (now - oldest).total_seconds())
        report.kicked = self._kicker.kick(with_work)
        return report


def codes_in_stream(records: Iterable[dict[str, object]]) -> set[str]:
    """The codes of stream records whose new image carries a ready key (created or released ready)."""
    codes = set()
    for record in records:
        change = record.get("dynamodb")
        if not isinstance(change, dict):
            continue
        image = change.get("NewImage") or {}
        ready = image.get("ready_key") if isinstance(image, dict) else None
        sort = image.get("ready_sort") if isinstance(image, dict) else None
        if not isinstance(ready, dict) or not isinstance(sort, dict):
            continue
        if str(sort.get("S", "")).startswith("9#"):
            continue  # a claim, not a new ready message
        code, _, _shard = str(ready.get("S", "")).rpartition("#")
        if code:
            codes.add(code)
    return codes
