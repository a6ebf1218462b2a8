"""Statutory deadline rules for serious incidents, reviews and reports, as data.

Source: /work/shared/domain.md section 4 (the rules table) and section 8 (working days). Each
rule is data: an id, a trigger, a period and unit, recipients, the edition of *Working Together*
it comes from, and the dates that edition is in force. Guidance changes (WT2018 -> WT2023), and
a case keeps the rule edition in force on the day its clock started (domain.md preamble).
Figures marked (verify) in domain.md carry ``verify=True`` and can be overridden from settings
without a release (:meth:`RuleBook.with_overrides`).

Pure module: no I/O, no database, no settings import.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Literal, get_args

from shared.calendar import WorkingDayCalendar

__all__ = [
    "DEFAULT_RULEBOOK",
    "RECIPIENTS",
    "WT2018_FROM",
    "WT2018_TO",
    "WT2023_FROM",
    "Deadline",
    "DeadlineRule",
    "IncidentKind",
    "NoRuleInForce",
    "NotASeriousIncident",
    "Recipient",
    "RuleBook",
    "RuleLookupError",
    "Unit",
    "UnknownRule",
    "compute_deadline",
    "incident_deadlines",
    "needs_rapid_review",
]

Unit = Literal["working_days", "calendar_days", "calendar_months"]
Direction = Literal["after", "before"]
Recipient = Literal["panel", "ofsted", "dfe", "local_partners", "foundations", "yjb"]
RECIPIENTS: frozenset[str] = frozenset(get_args(Recipient))
_UNITS: frozenset[str] = frozenset(get_args(Unit))
_DIRECTIONS: frozenset[str] = frozenset(get_args(Direction))

WT2018_FROM = date(2018, 6, 29)
WT2018_TO = date(2023, 12, 14)
WT2023_FROM = date(2023, 12, 15)


class RuleLookupError(KeyError):
    """No rule edition could be found; ``str()`` gives a readable message."""

    def __init__(self, message: str, rule_id: str, on: date | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.rule_id = rule_id
        self.on = on

    def __str__(self) -> str:
        return self.message


class UnknownRule(RuleLookupError):
    """The rule id is not in the rulebook at all."""


class NoRuleInForce(RuleLookupError):
    """The rule exists, but no edition of it was in force on the date the clock started."""


class NotASeriousIncident(ValueError):
    """The incident does not meet the serious child safeguarding incident definition."""


@dataclass(frozen=True, slots=True)
class DeadlineRule:
    """One edition of one statutory deadline rule (a row of the domain.md s4 table).

    ``direction="after"``: due ``period`` units after the trigger date (the trigger day never
    counts). ``direction="before"``: due ``period`` units before the trigger date, e.g.
    LCSPR-PRE-PUB-7WD, whose trigger is the planned publication date.
    """

    id: str
    title: str
    trigger: str
    period: int
    unit: Unit
    recipients: tuple[str, ...]
    edition: str
    effective_from: date
    effective_to: date | None
    source: str
    verify: bool = False
    direction: Direction = "after"
    notes: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("rule id must not be empty")
        if isinstance(self.period, bool) or not isinstance(self.period, int) or self.period < 1:
            raise ValueError(f"{self.id}: period must be an int >= 1, got {self.period!r}")
        if self.unit not in _UNITS:
            raise ValueError(f"{self.id}: unknown unit {self.unit!r}")
        if self.direction not in _DIRECTIONS:
            raise ValueError(f"{self.id}: unknown direction {self.direction!r}")
        unknown = set(self.recipients) - RECIPIENTS
        if unknown:
            raise ValueError(f"{self.id}: unknown recipient codes {sorted(unknown)}")
        if len(set(self.recipients)) != len(self.recipients):
            raise ValueError(f"{self.id}: duplicate recipients {self.recipients}")
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError(f"{self.id} {self.edition}: effective_to is before effective_from")

    def in_force_on(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)


@dataclass(frozen=True, slots=True)
class Deadline:
    """A computed deadline for one case. ``starts_on`` is the day the clock starts (never
    counted); ``due_on`` the last day to act. ``edition`` is the rule edition applied."""

    rule_id: str
    title: str
    due_on: date
    starts_on: date
    edition: str
    recipients: tuple[str, ...]
    verify: bool = False


class RuleBook:
    """An immutable set of rule editions, looked up by id and the date a clock started."""

    __slots__ = ("_by_id",)

    def __init__(self, rules: Iterable[DeadlineRule]) -> None:
        by_id: dict[str, list[DeadlineRule]] = {}
        for rule in rules:
            by_id.setdefault(rule.id, []).append(rule)
        for rule_id, editions in by_id.items():
            editions.sort(key=lambda r: r.effective_from)
            for earlier, later in itertools.pairwise(editions):
                if earlier.effective_to is None or earlier.effective_to >= later.effective_from:
                    raise ValueError(
                        f"{rule_id}: editions {earlier.edition} and {later.edition} overlap"
                    )
        self._by_id: dict[str, tuple[DeadlineRule, ...]] = {
            rule_id: tuple(editions) for rule_id, editions in by_id.items()
        }

    def __iter__(self) -> Iterator[DeadlineRule]:
        for editions in self._by_id.values():
            yield from editions

    def __len__(self) -> int:
        return sum(len(editions) for editions in self._by_id.values())

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._by_id

    def ids(self) -> tuple[str, ...]:
        return tuple(self._by_id)

    def editions(self, rule_id: str) -> tuple[DeadlineRule, ...]:
        """All editions of a rule, oldest first. Raises :class:`UnknownRule`."""
        try:
            return self._by_id[rule_id]
        except KeyError:
            raise UnknownRule(f"unknown deadline rule {rule_id!r}", rule_id) from None

    def rule(self, id: str, on: date) -> DeadlineRule:
        """The edition of rule ``id`` in force on ``on`` (the day the case's clock started).

        Raises :class:`UnknownRule` for an unknown id and :class:`NoRuleInForce` when no
        edition covers ``on`` (both are ``KeyError`` subclasses).
        """
        for edition in self.editions(id):
            if edition.in_force_on(on):
                return edition
        raise NoRuleInForce(
            f"no edition of deadline rule {id!r} was in force on {on.isoformat()}", id, on
        )

    def with_overrides(self, overrides: Mapping[str, int]) -> RuleBook:
        """A new rulebook with the period of the named rules replaced, in every edition.

        This is how (verify) figures are configured without a release, e.g.
        ``{"CARE-LEAVER-DEATH": 5}``. Unknown ids raise :class:`UnknownRule` (a typo in
        settings should fail loudly); periods must be ints >= 1.
        """
        for rule_id in overrides:
            self.editions(rule_id)  # raises UnknownRule
        return RuleBook(
            replace(rule, period=overrides[rule.id]) if rule.id in overrides else rule
            for rule in self
        )


def compute_deadline(rule: DeadlineRule, start: date, calendar: WorkingDayCalendar) -> date:
    """The due date of ``rule`` for a clock starting on ``start`` (``start`` never counts).

    working_days: the period-th working day after (or before) ``start`` (domain.md s8);
    calendar_days: ``start`` plus (minus) the period; calendar_months: same day of month,
    clamped to the month's end (a 31 August decision + 6 months = end of February).
    """
    sign = 1 if rule.direction == "after" else -1
    if rule.unit == "working_days":
        if sign > 0:
            return calendar.add_working_days(start, rule.period)
        return calendar.subtract_working_days(start, rule.period)
    if rule.unit == "calendar_days":
        return calendar.add_calendar_days(start, sign * rule.period)
    if rule.unit == "calendar_months":
        return calendar.add_calendar_months(start, sign * rule.period)
    raise ValueError(f"unknown unit {rule.unit!r}")  # pragma: no cover (checked on creation)


def _deadline(rule: DeadlineRule, start: date, calendar: WorkingDayCalendar) -> Deadline:
    return Deadline(
        rule_id=rule.id,
        title=rule.title,
        due_on=compute_deadline(rule, start, calendar),
        starts_on=start,
        edition=rule.edition,
        recipients=rule.recipients,
        verify=rule.verify,
    )


# -- incident intake --------------------------------------------------------------------------


class IncidentKind(enum.StrEnum):
    """What the council has become aware of (domain.md s4)."""

    #: A serious child safeguarding incident in the area (abuse or neglect known or suspected,
    #: and the child died or was seriously harmed).
    death_or_serious_harm = "death_or_serious_harm"
    #: A serious incident outside England to a child normally resident in the area.
    outside_england_resident_child = "outside_england_resident_child"
    #: Death of a looked-after child, abuse or neglect suspected or not (LAC-DEATH).
    looked_after_child_death = "looked_after_child_death"
    #: WT2023: death of a care leaver up to and including age 24 (CARE-LEAVER-DEATH).
    care_leaver_death = "care_leaver_death"


_SERIOUS_INCIDENT_KINDS = frozenset(
    {IncidentKind.death_or_serious_harm, IncidentKind.outside_england_resident_child}
)
_DEATH_NOTIFICATION_RULE = {
    IncidentKind.looked_after_child_death: "LAC-DEATH",
    IncidentKind.care_leaver_death: "CARE-LEAVER-DEATH",
}


def needs_rapid_review(kind: IncidentKind, abuse_or_neglect_known_or_suspected: bool) -> bool:
    """Whether a rapid review (RR-15WD) is required (domain.md s4).

    Only a serious child safeguarding incident needs one, and the definition requires abuse or
    neglect to be known or suspected. So: the serious-incident kinds need one when the flag is
    set (without it the case does not meet the criteria); a looked-after child's or care
    leaver's death needs one only if abuse or neglect is known or suspected.
    """
    IncidentKind(kind)  # reject anything that is not a kind
    return bool(abuse_or_neglect_known_or_suspected)


def _merge_recipients(*groups: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(code for group in groups for code in group))


def incident_deadlines(
    kind: IncidentKind,
    aware_on: date,
    notified_on: date,
    abuse_or_neglect_known_or_suspected: bool,
    rulebook: RuleBook,
    calendar: WorkingDayCalendar,
) -> list[Deadline]:
    """The intake deadlines for an incident, earliest rule first (domain.md s4 and s8).

    - Serious incident in the area, or outside England to a child normally resident here:
      SIN-5WD counted from ``aware_on`` (the day the council became aware, not the incident
      date): notify the Panel, which shares every notification with DfE and Ofsted, and tell
      the local partners within the same 5 working days. Then RR-15WD counted from
      ``notified_on``: the rapid review goes to the Panel. Raises :class:`NotASeriousIncident`
      if abuse or neglect is neither known nor suspected (the definition is not met).
    - Looked-after child's death: LAC-DEATH, 5 working days from ``aware_on``, to DfE and
      Ofsted. If abuse or neglect is known or suspected the same notification also goes to the
      Panel and the local partners (it is then a serious incident: its due date is the earlier
      of LAC-DEATH and SIN-5WD), and RR-15WD runs from ``notified_on``.
    - Care leaver's death (WT2023 only): CARE-LEAVER-DEATH to DfE and Ofsted, period (verify)
      from the rulebook; Panel, local partners and RR-15WD only if abuse or neglect is known or
      suspected. A clock that started before 15 December 2023 raises :class:`NoRuleInForce`.

    Every rule's edition is the one in force on ``aware_on``, when the case's clock started,
    even for RR-15WD whose period is counted from ``notified_on``. ``notified_on`` must not be
    before ``aware_on``.
    """
    kind = IncidentKind(kind)
    if notified_on < aware_on:
        raise ValueError(
            f"notified_on ({notified_on.isoformat()}) is before aware_on ({aware_on.isoformat()})"
        )
    abuse = bool(abuse_or_neglect_known_or_suspected)
    deadlines: list[Deadline] = []

    if kind in _SERIOUS_INCIDENT_KINDS:
        if not abuse:
            raise NotASeriousIncident(
                f"{kind.value}: a serious child safeguarding incident needs abuse or neglect to "
                "be known or suspected (domain.md s4); no notification is due"
            )
        deadlines.append(_deadline(rulebook.rule("SIN-5WD", aware_on), aware_on, calendar))
    else:
        rule = rulebook.rule(_DEATH_NOTIFICATION_RULE[kind], aware_on)
        notification = _deadline(rule, aware_on, calendar)
        if abuse:
            sin = _deadline(rulebook.rule("SIN-5WD", aware_on), aware_on, calendar)
            notification = replace(
                notification,
                due_on=min(notification.due_on, sin.due_on),
                recipients=_merge_recipients(notification.recipients, sin.recipients),
                verify=notification.verify or sin.verify,
            )
        deadlines.append(notification)

    if needs_rapid_review(kind, abuse):
        rapid_review = rulebook.rule("RR-15WD", aware_on)
        deadlines.append(_deadline(rapid_review, notified_on, calendar))
    return deadlines


# -- the rules (domain.md s4) -----------------------------------------------------------------

_EDITIONS: tuple[tuple[str, date, date | None], ...] = (
    ("WT2018", WT2018_FROM, WT2018_TO),
    ("WT2023", WT2023_FROM, None),
)


@dataclass(frozen=True, slots=True)
class _Spec:
    id: str
    title: str
    trigger: str
    period: int
    unit: Unit
    recipients: tuple[str, ...]
    editions: tuple[str, ...] = ("WT2018", "WT2023")
    verify: tuple[str, ...] = ()  # editions whose figures domain.md marks (verify)
    direction: Direction = "after"
    notes: Mapping[str, str] = field(default_factory=dict)


_SPECS: tuple[_Spec, ...] = (
    _Spec(
        id="SIN-5WD",
        title="Notify the Panel of a serious child safeguarding incident",
        trigger=(
            "The council becomes aware of a serious child safeguarding incident in its area, "
            "or of one outside England to a child normally resident in its area"
        ),
        period=5,
        unit="working_days",
        recipients=("panel", "ofsted", "dfe", "local_partners"),
        notes={
            "WT2018": "The Panel shares every notification with DfE and Ofsted; the local "
            "partners are told within the same 5 working days.",
            "WT2023": "The Panel shares every notification with DfE and Ofsted; the local "
            "partners are told within the same 5 working days.",
        },
    ),
    _Spec(
        id="LAC-DEATH",
        title="Notify DfE and Ofsted of the death of a looked-after child",
        trigger="The council becomes aware of the death of a looked-after child",
        period=5,
        unit="working_days",
        recipients=("dfe", "ofsted"),
        notes={
            e: "Abuse or neglect suspected or not. The Panel considers it only if abuse or "
            "neglect is known or suspected."
            for e in ("WT2018", "WT2023")
        },
    ),
    _Spec(
        id="CARE-LEAVER-DEATH",
        title="Notify DfE and Ofsted of the death of a care leaver",
        trigger=(
            "The council becomes aware of the death of a care leaver up to and including age 24"
        ),
        period=5,
        unit="working_days",
        recipients=("dfe", "ofsted"),
        editions=("WT2023",),
        verify=("WT2023",),
        notes={
            "WT2023": "New in WT2023. No rapid review unless the serious incident criteria are "
            "met. The 5 working days period is to be verified."
        },
    ),
    _Spec(
        id="RR-15WD",
        title="Complete the rapid review and send it to the Panel",
        trigger="A serious incident notification is sent",
        period=15,
        unit="working_days",
        recipients=("panel",),
        notes={
            e: "Guidance, not statute. Led by the partners of the area where the incident "
            "happened, with the partners where the child lives if different."
            for e in ("WT2018", "WT2023")
        },
    ),
    _Spec(
        id="LCSPR-6M",
        title="Complete and publish the local child safeguarding practice review",
        trigger="The partners decide to hold a local child safeguarding practice review",
        period=6,
        unit="calendar_months",
        recipients=(),
    ),
    _Spec(
        id="LCSPR-PRE-PUB-7WD",
        title="Send the final local review report to the Panel, DfE and Ofsted",
        trigger=(
            "Planned publication date of a local review report (the due date is the latest day "
            "to send it)"
        ),
        period=7,
        unit="working_days",
        recipients=("panel", "dfe", "ofsted"),
        direction="before",
        verify=("WT2018", "WT2023"),
        notes={
            e: "At least 7 working days before publication. If only information about "
            "improvements is to be published, send that information."
            for e in ("WT2018", "WT2023")
        },
    ),
    _Spec(
        id="AR-7D",
        title="Send the yearly report to the Panel and Foundations",
        trigger="The yearly report is published",
        period=7,
        unit="calendar_days",
        recipients=("panel", "foundations"),
        verify=("WT2023",),
        notes={
            "WT2018": "To the Panel and the What Works Centre for Children's Social Care "
            "(now part of Foundations). Confirmed by seed 004.",
            "WT2023": "WT2023 recipients to be verified.",
        },
    ),
    _Spec(
        id="AR-12M",
        title="Publish the next yearly report",
        trigger="The previous yearly report is published",
        period=12,
        unit="calendar_months",
        recipients=(),
        notes={
            "WT2023": "WT2023 also expects the report to cover April to March and to be "
            "published by the end of September (verify); that is not a period rule."
        },
    ),
    _Spec(
        id="ARR-DFE",
        title="Implement the published arrangements (and send DfE the link)",
        trigger="The partners publish their arrangements",
        period=3,
        unit="calendar_months",
        recipients=("dfe",),
        notes={
            e: "Tell DfE by sending the published link; implement within 3 months of "
            "publication (seed 004, 4.7)."
            for e in ("WT2018", "WT2023")
        },
    ),
)


def _build_default_rules() -> list[DeadlineRule]:
    windows = {name: (start, end) for name, start, end in _EDITIONS}
    rules: list[DeadlineRule] = []
    for spec in _SPECS:
        for edition in spec.editions:
            start, end = windows[edition]
            rules.append(
                DeadlineRule(
                    id=spec.id,
                    title=spec.title,
                    trigger=spec.trigger,
                    period=spec.period,
                    unit=spec.unit,
                    recipients=spec.recipients,
                    edition=edition,
                    effective_from=start,
                    effective_to=end,
                    source=f"domain.md s4 {spec.id}",
                    verify=edition in spec.verify,
                    direction=spec.direction,
                    notes=spec.notes.get(edition, ""),
                )
            )
    return rules


DEFAULT_RULEBOOK = RuleBook(_build_default_rules())
