"""The sent-messages log: one message, filtered pages of the tenant's messages, and their CSV export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from functions.dal.jobs import JobsTable
from functions.dal.messages import InvalidCursor, MessagesTable
from functions.domain.catalog import TRIGGERS
from functions.domain.errors import InvalidInput, NotFound
from functions.domain.message_log import MessageQuery, to_csv
from functions.domain.messages import Message, MessageStatus
from functions.domain.phone import to_e164
from functions.domain.tenants import EntityType

CSV_MAX_ROWS = 5_000  # per request; the Link header's cursor carries on (a Lambda answer is at most 6 MB)
CSV_PAGE_ROWS = 200
CSV_MAX_READS = 25  # filtered reads per CSV request, so one request stays well inside API Gateway's 30 s


@dataclass(frozen=True)
class LogFilters:
    """A view's filters as the caller wrote them; ``query()`` checks them and names a bad one."""

    status: MessageStatus | None = None
    created_from: str | None = None
    created_to: str | None = None
    phone_number: str | None = None
    entity_id: str | None = None
    entity_type: EntityType | None = None
    job_id: str | None = None
    trigger: str | None = None

    def query(self) -> MessageQuery:
        created_from = _instant(self.created_from, "created_from")
        created_to = _instant(self.created_to, "created_to")
        if created_from is not None and created_to is not None and created_from >= created_to:
            raise InvalidInput("created_to", "created_to must be after created_from")
        if self.trigger is not None and self.trigger not in TRIGGERS:
            raise InvalidInput("trigger", f"'{self.trigger}' is not a registered trigger")
        return MessageQuery(
            status=self.status,
            created_from=created_from,
            created_to=created_to,
            phone_number=to_e164(self.phone_number, "phone_number") if self.phone_number else None,
            entity_id=self.entity_id or None,
            entity_type=self.entity_type,
            job_id=self.job_id or None,
            trigger=self.trigger or None,
        )


@dataclass(frozen=True)
class CsvExport:
    text: str
    rows: int
    next_cursor: str | None


def _instant(value: str | None, field: str) -> datetime | None:
    if not value:
        return None
    # A '+' left unescaped in a query string arrives as a space.
    text = value.strip().replace(" ", "+")
    try:
        instant = datetime.fromisoformat(text)
    except ValueError as error:
        raise InvalidInput(field, f"'{value}' is not an ISO 8601 date-time") from error
    if instant.tzinfo is None:
        raise InvalidInput(field, f"'{value}' needs a UTC offset, e.g. 2026-05-01T08:00:00-04:00 or ...Z")
    return instant


class SentMessages:
    def __init__(self, messages: MessagesTable, jobs: JobsTable) -> None:
        self._messages = messages
        self._jobs = jobs

    def get(self, tenant_id: str, message_id: str) -> Message:
        message = self._messages.get(message_id)
        # Another tenant's message is indistinguishable from a missing one.
        if message is None or message.tenant_id != tenant_id:
            raise NotFound(f"message '{message_id}' does not exist", "message_id")
        return message

    def page(
        self, tenant_id: str, query: MessageQuery, limit: int, cursor: str | None = None
    ) -> tuple[list[Message], str | None]:
        if query.job_id is not None:
            job = self._jobs.get(query.job_id)
            if job is None or job.tenant_id != tenant_id:
                raise NotFound(f"job '{query.job_id}' does not exist", "job_id")
        try:
            return self._messages.search(tenant_id, query, limit, cursor)
        except InvalidCursor as error:
            raise InvalidInput("cursor", "the cursor is not one this API returned") from error

    def export(
        self, tenant_id: str, query: MessageQuery, cursor: str | None = None, max_rows: int = CSV_MAX_ROWS
    ) -> CsvExport:
        """Up to ``max_rows`` rows of the view as CSV, and the cursor to the rest (None: that was all)."""
        rows: list[Message] = []
        for _ in range(CSV_MAX_READS):
            page, cursor = self.page(tenant_id, query, min(CSV_PAGE_ROWS, max_rows - len(rows)), cursor)
            rows.extend(page)
            if cursor is None or len(rows) >= max_rows:
                break
        return CsvExport(text=to_csv(rows), rows=len(rows), next_cursor=cursor)
