"""The three-a-day rule at message creation: triggered messages wait, mass sends leave the number out.

A tenant that turns ``three_a_day_rule`` on has every message to a number whose area code is in one
of the rule's states (configuration: Florida, Oklahoma and Maryland) counted per subject (see
``functions.domain.three_a_day``) in the SubjectSends table, across lanes and sending numbers. A
triggered message past the third in 24 hours is held (``Pending`` with ``release_at`` and
``hold_rule`` ``three_a_day``, released by the release schedule like quiet hours). A mass message or
calling list is not held for it: the preview excludes the number with the reason ``three_a_day``,
and the fan-out leaves out a number whose slot was taken since the preview.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from functions.dal.subject_sends import SubjectSendsTable
from functions.domain.messages import Message, utc_now
from functions.domain.tenants import Tenant
from functions.domain.three_a_day import THREE_A_DAY_RULE, fits, recent, triggered_slot
from functions.domain.windows import Hold, HoldPolicy, recipient_state


class ThreeADay:
    def __init__(
        self,
        sends: SubjectSendsTable,
        states: frozenset[str],
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._sends = sends
        self._states = states
        self._clock = clock

    def applies(self, tenant: Tenant, number: str) -> bool:
        return tenant.three_a_day_rule and recipient_state(number) in self._states

    def hold(self, tenant: Tenant, message: Message, policy: HoldPolicy | None) -> Hold | None:
        """Count a triggered message; when it may go (None: as it is), and the rule that set that."""
        number = message.recipient.phone_number
        current = (
            Hold(release_at=message.release_at, rule=message.hold_rule)
            if message.release_at is not None and message.hold_rule is not None
            else None
        )
        if not self.applies(tenant, number):
            return current
        now = self._clock()
        decided: list[Hold | None] = []

        def reopen(instant: datetime) -> Hold | None:
            return policy.hold(number, instant) if policy is not None else None

        def choose(sends: list[datetime]) -> datetime:
            decided.clear()
            decided.append(triggered_slot(sends, now, current, reopen))
            held = decided[0]
            return held.release_at if held is not None else now

        counted = self._sends.reserve(
            tenant.tenant_id, number, message.template_key, message.message_id, now, choose
        )
        if decided:
            return decided[0]
        # Counted before (the same message again): the instant recorded then stands.
        assert counted is not None
        due = current.release_at if current else now
        return current if counted <= due else Hold(release_at=counted, rule=THREE_A_DAY_RULE)

    def admit(self, tenant: Tenant, message: Message) -> bool:
        """Count a mass or calling-list message at the instant it is due; False: the number is left out."""
        number = message.recipient.phone_number
        if not self.applies(tenant, number):
            return True
        now = self._clock()
        due = message.release_at or now

        def choose(sends: list[datetime]) -> datetime | None:
            return due if fits(sends, due) else None

        counted = self._sends.reserve(
            tenant.tenant_id, number, message.template_key, message.message_id, now, choose
        )
        return counted is not None

    def full(self, tenant: Tenant, subject: str, numbers: list[str]) -> set[str]:
        """Which of ``numbers`` could take no message on ``subject`` now (what a preview leaves out)."""
        ruled = [number for number in numbers if self.applies(tenant, number)]
        if not ruled:
            return set()
        now = self._clock()
        sends = self._sends.sends_of(tenant.tenant_id, subject, ruled)
        return {number for number, times in sends.items() if not fits(recent(times, now), now)}
