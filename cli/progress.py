"""A mass message's progress, as a text bar: redrawn in place on a terminal, a line per change otherwise."""

from __future__ import annotations

from typing import Any, TextIO

STATUSES = ("Delivered", "Sent", "Failed", "Insufficient funds", "In Progress", "Pending")
HANDED_OVER = ("Sent", "Delivered", "Failed", "Insufficient funds")
BAR_WIDTH = 30


def is_finished(job: dict[str, Any]) -> bool:
    """Every message created and none waiting: each is with the carrier or has its final status."""
    counts = job.get("progress") or {}
    waiting = counts.get("Pending", 0) + counts.get("In Progress", 0)
    return job["status"] in {"queued", "cancelled", "stopped", "rejected"} and waiting == 0


def render(job: dict[str, Any]) -> str:
    counts = job.get("progress") or {}
    total = max(int((job.get("preview") or {}).get("recipients", 0)), 1)
    done = sum(counts.get(status, 0) for status in HANDED_OVER)
    filled = min(BAR_WIDTH, done * BAR_WIDTH // total)
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    summary = " · ".join(f"{status} {counts.get(status, 0)}" for status in STATUSES)
    return f"[{bar}] {done}/{job['preview']['recipients']} {job['status']}: {summary}"


class ProgressBar:
    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._last = ""
        self._in_place = out.isatty()

    def show(self, job: dict[str, Any]) -> None:
        line = render(job)
        if line == self._last:
            return
        self._last = line
        if self._in_place:
            self._out.write("\r\x1b[K" + line)
        else:
            self._out.write(line + "\n")
        self._out.flush()

    def finish(self) -> None:
        if self._in_place and self._last:
            self._out.write("\n")
            self._out.flush()
