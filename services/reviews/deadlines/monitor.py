"""What "due soon", "overdue" and "met" mean, as data and pure functions (no I/O).

Source: /work/shared/domain.md section 4 (the deadlines, and the SIN-5WD clock starting when
the council *becomes aware*) and section 8 (working days: Monday to Friday except the bank
holidays of England and Wales; "within N working days of D" is the N-th working day after D).

- A deadline is **met** once the partnership records the day it was met.
- It is **overdue** (breached) from the calendar day after its due date, while unmet: the due
  date itself is the last day to act.
- It is **due soon** (approaching) when unmet, not overdue, and at most ``lead`` working days
  remain: ``working_days_between(today, due_on) <= lead``, 0 on the due day itself. The lead
  is per rule, in working days, from settings.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from services.reviews.cases import Clock, IntakePolicy, system_clock
from services.reviews.settings import ReviewsSettings
from shared.calendar import WorkingDayCalendar

# Which stored deadlines are counted from which of the case's dates (domain.md s4): the
# notification rules run from the day the council became aware (SIN-5WD, LAC-DEATH and
# CARE-LEAVER-DEATH); RR-15WD runs from the notification, which a correction never moves; no
# rule runs from the incident date (it is stored for the record and national statistics).
DATE_DEPENDENCIES: Mapping[str, frozenset[str]] = {
    "aware_on": frozenset({"SIN-5WD", "LAC-DEATH", "CARE-LEAVER-DEATH"}),
    "incident_date": frozenset(),
}


class Status(enum.StrEnum):
    open = "open"
    overdue = "overdue"
    met = "met"


class StatusFilter(enum.StrEnum):
    due_soon = "due_soon"
    overdue = "overdue"
    open = "open"
    met = "met"


@dataclass(frozen=True)
class Monitor:
    """The intake policy (rule book, calendar, zone, clock) plus the approaching lead times."""

    intake: IntakePolicy
    default_lead: int
    leads: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: ReviewsSettings, clock: Clock = system_clock) -> Monitor:
        return cls.of(IntakePolicy.from_settings(settings, clock), settings)

    @classmethod
    def of(cls, intake: IntakePolicy, settings: ReviewsSettings) -> Monitor:
        return cls(intake, settings.deadline_lead_working_days, dict(settings.deadline_lead_times))

    @property
    def calendar(self) -> WorkingDayCalendar:
        return self.intake.calendar

    def today(self) -> date:
        """Today in England (the clock's moment in the service's time zone)."""
        return self.intake.local_date(self.intake.now())

    def lead(self, rule_id: str) -> int:
        return self.leads.get(rule_id, self.default_lead)

    def max_lead(self) -> int:
        return max([self.default_lead, *self.leads.values()])

    def due_soon_before(self, today: date, lead: int) -> date:
        """The first due date that is *not* due soon with this lead: due soon means
        ``today <= due_on < due_soon_before(today, lead)`` (a range SQL can filter on)."""
        return self.calendar.add_working_days(today, lead + 1)

    def working_days_remaining(self, today: date, due_on: date) -> int:
        """0 on the due day, negative once overdue (working days overdue)."""
        return self.calendar.working_days_between(today, due_on)

    def status(self, today: date, due_on: date, met_on: date | None) -> Status:
        if met_on is not None:
            return Status.met
        return Status.overdue if due_on < today else Status.open

    def is_due_soon(self, today: date, rule_id: str, due_on: date, met_on: date | None) -> bool:
        if met_on is not None or due_on < today:
            return False
        return self.working_days_remaining(today, due_on) <= self.lead(rule_id)
