"""Tests for services.reviews.rules (domain.md s4 and s8). Dates checked against the ``holidays``
package: 25 Dec 2026 Fri, 28 Dec 2026 Mon (Boxing Day substitute), 1 Jan 2027 Fri."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from services.reviews.rules import (
    DEFAULT_RULEBOOK,
    Deadline,
    DeadlineRule,
    IncidentKind,
    NoRuleInForce,
    NotASeriousIncident,
    RuleBook,
    UnknownRule,
    compute_deadline,
    incident_deadlines,
    needs_rapid_review,
)
from shared.calendar import WorkingDayCalendar

CAL = WorkingDayCalendar()
WT2018_LAST = date(2023, 12, 14)
WT2023_FIRST = date(2023, 12, 15)


def _rule(**changes: object) -> DeadlineRule:
    base = DeadlineRule(
        id="X",
        title="x",
        trigger="x",
        period=5,
        unit="working_days",
        recipients=("panel",),
        edition="WT2023",
        effective_from=WT2023_FIRST,
        effective_to=None,
        source="test",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


# -- the rule data --------------------------------------------------------------------------

REQUIRED = {
    "SIN-5WD",
    "LAC-DEATH",
    "CARE-LEAVER-DEATH",
    "RR-15WD",
    "LCSPR-6M",
    "LCSPR-PRE-PUB-7WD",
    "AR-7D",
    "ARR-DFE",
}


def test_default_rulebook_has_the_required_rules() -> None:
    assert set(DEFAULT_RULEBOOK.ids()) >= REQUIRED


@pytest.mark.parametrize(
    ("rule_id", "period", "unit", "recipients", "verify"),
    [
        ("SIN-5WD", 5, "working_days", {"panel", "ofsted", "dfe", "local_partners"}, False),
        ("LAC-DEATH", 5, "working_days", {"dfe", "ofsted"}, False),
        ("CARE-LEAVER-DEATH", 5, "working_days", {"dfe", "ofsted"}, True),
        ("RR-15WD", 15, "working_days", {"panel"}, False),
        ("LCSPR-6M", 6, "calendar_months", set(), False),
        ("LCSPR-PRE-PUB-7WD", 7, "working_days", {"panel", "dfe", "ofsted"}, True),
        ("AR-7D", 7, "calendar_days", {"panel", "foundations"}, True),
        ("ARR-DFE", 3, "calendar_months", {"dfe"}, False),
    ],
)
def test_wt2023_rule_values(
    rule_id: str, period: int, unit: str, recipients: set[str], verify: bool
) -> None:
    rule = DEFAULT_RULEBOOK.rule(rule_id, date(2026, 1, 5))
    assert rule.edition == "WT2023"
    assert rule.period == period
    assert rule.unit == unit
    assert set(rule.recipients) == recipients
    assert rule.verify is verify
    assert rule.effective_from == WT2023_FIRST
    assert rule.effective_to is None
    assert rule.source == f"domain.md s4 {rule_id}"


def test_ar_7d_recipients_confirmed_for_2018_only() -> None:
    assert DEFAULT_RULEBOOK.rule("AR-7D", date(2020, 1, 1)).verify is False
    assert DEFAULT_RULEBOOK.rule("AR-7D", date(2024, 1, 1)).verify is True


def test_editions_windows() -> None:
    for rule_id in REQUIRED - {"CARE-LEAVER-DEATH"}:
        editions = DEFAULT_RULEBOOK.editions(rule_id)
        assert [e.edition for e in editions] == ["WT2018", "WT2023"]
        assert (editions[0].effective_from, editions[0].effective_to) == (
            date(2018, 6, 29),
            WT2018_LAST,
        )
        assert (editions[1].effective_from, editions[1].effective_to) == (WT2023_FIRST, None)
    (only,) = DEFAULT_RULEBOOK.editions("CARE-LEAVER-DEATH")
    assert (only.edition, only.effective_from, only.effective_to) == ("WT2023", WT2023_FIRST, None)


def test_rules_are_immutable() -> None:
    rule = DEFAULT_RULEBOOK.rule("SIN-5WD", date(2026, 1, 5))
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.period = 10  # type: ignore[misc]


@pytest.mark.parametrize(
    "changes",
    [
        {"period": 0},
        {"period": -5},
        {"unit": "weeks"},
        {"recipients": ("panel", "mi5")},
        {"recipients": ("panel", "panel")},
        {"effective_to": date(2020, 1, 1)},
        {"direction": "sideways"},
    ],
)
def test_invalid_rule_data_is_rejected(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        _rule(**changes)


def test_overlapping_editions_are_rejected() -> None:
    with pytest.raises(ValueError, match="overlap"):
        RuleBook(
            [
                _rule(edition="A", effective_from=date(2018, 1, 1), effective_to=date(2024, 1, 1)),
                _rule(edition="B", effective_from=date(2023, 12, 15), effective_to=None),
            ]
        )
    with pytest.raises(ValueError, match="overlap"):
        RuleBook([_rule(edition="A"), _rule(edition="B")])


# -- edition selection ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("on", "edition"),
    [
        (date(2018, 6, 29), "WT2018"),
        (date(2020, 3, 23), "WT2018"),
        (WT2018_LAST, "WT2018"),
        (WT2023_FIRST, "WT2023"),
        (date(2030, 1, 1), "WT2023"),
    ],
)
def test_edition_in_force_on_the_clock_start_date(on: date, edition: str) -> None:
    for rule_id in ("SIN-5WD", "RR-15WD", "LAC-DEATH", "LCSPR-6M"):
        assert DEFAULT_RULEBOOK.rule(rule_id, on).edition == edition


def test_no_edition_before_wt2018() -> None:
    with pytest.raises(NoRuleInForce) as info:
        DEFAULT_RULEBOOK.rule("SIN-5WD", date(2018, 6, 28))
    assert isinstance(info.value, KeyError)
    assert "2018-06-28" in str(info.value)


@pytest.mark.parametrize("on", [WT2018_LAST, date(2019, 1, 1), date(2018, 6, 29)])
def test_care_leaver_rule_not_in_force_before_wt2023(on: date) -> None:
    with pytest.raises(NoRuleInForce, match="CARE-LEAVER-DEATH"):
        DEFAULT_RULEBOOK.rule("CARE-LEAVER-DEATH", on)
    assert DEFAULT_RULEBOOK.rule("CARE-LEAVER-DEATH", WT2023_FIRST).edition == "WT2023"


def test_unknown_rule() -> None:
    with pytest.raises(UnknownRule) as info:
        DEFAULT_RULEBOOK.rule("NOPE-1WD", date(2026, 1, 5))
    assert isinstance(info.value, KeyError)
    assert str(info.value) == "unknown deadline rule 'NOPE-1WD'"
    assert "NOPE-1WD" not in DEFAULT_RULEBOOK
    assert "SIN-5WD" in DEFAULT_RULEBOOK


# -- overrides ------------------------------------------------------------------------------


def test_override_of_a_verify_period() -> None:
    book = DEFAULT_RULEBOOK.with_overrides({"CARE-LEAVER-DEATH": 10})
    rule = book.rule("CARE-LEAVER-DEATH", date(2026, 12, 18))
    assert rule.period == 10
    assert rule.verify is True
    # 10 working days from Fri 18 Dec 2026: 21, 22, 23, 24, 29, 30, 31, 4, 5, 6
    assert compute_deadline(rule, date(2026, 12, 18), CAL) == date(2027, 1, 6)
    # the default rulebook is unchanged
    assert DEFAULT_RULEBOOK.rule("CARE-LEAVER-DEATH", date(2026, 12, 18)).period == 5
    # other rules are carried over untouched
    assert book.rule("SIN-5WD", date(2026, 12, 18)) == DEFAULT_RULEBOOK.rule(
        "SIN-5WD", date(2026, 12, 18)
    )
    assert len(book) == len(DEFAULT_RULEBOOK)


def test_override_applies_to_every_edition() -> None:
    book = DEFAULT_RULEBOOK.with_overrides({"LCSPR-PRE-PUB-7WD": 10})
    assert book.rule("LCSPR-PRE-PUB-7WD", date(2020, 1, 1)).period == 10
    assert book.rule("LCSPR-PRE-PUB-7WD", date(2026, 1, 1)).period == 10


def test_override_with_the_default_value_is_a_no_op() -> None:
    book = DEFAULT_RULEBOOK.with_overrides({"CARE-LEAVER-DEATH": 5})
    assert list(book) == list(DEFAULT_RULEBOOK)


def test_override_of_unknown_rule_fails_loudly() -> None:
    with pytest.raises(UnknownRule):
        DEFAULT_RULEBOOK.with_overrides({"CARE-LEAVER-DEATHS": 5})


@pytest.mark.parametrize("bad", [0, -1])
def test_override_with_invalid_period_fails(bad: int) -> None:
    with pytest.raises(ValueError):
        DEFAULT_RULEBOOK.with_overrides({"CARE-LEAVER-DEATH": bad})


def test_override_flows_into_incident_deadlines() -> None:
    book = DEFAULT_RULEBOOK.with_overrides({"CARE-LEAVER-DEATH": 10})
    (notify,) = incident_deadlines(
        IncidentKind.care_leaver_death, date(2026, 12, 18), date(2026, 12, 18), False, book, CAL
    )
    assert notify.due_on == date(2027, 1, 6)


# -- compute_deadline -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule_id", "start", "expected"),
    [
        ("SIN-5WD", date(2026, 12, 18), date(2026, 12, 29)),  # domain.md s8 example
        ("SIN-5WD", date(2026, 12, 19), date(2026, 12, 29)),  # Saturday start
        ("SIN-5WD", date(2026, 4, 2), date(2026, 4, 13)),  # over Easter 2026: 7, 8, 9, 10, 13
        ("RR-15WD", date(2026, 12, 18), date(2027, 1, 13)),  # over Christmas and New Year
        ("RR-15WD", date(2026, 12, 21), date(2027, 1, 14)),
        ("LCSPR-6M", date(2026, 8, 31), date(2027, 2, 28)),
        ("LCSPR-6M", date(2027, 8, 31), date(2028, 2, 29)),  # leap year
        ("LCSPR-6M", date(2026, 3, 10), date(2026, 9, 10)),
        ("ARR-DFE", date(2026, 11, 30), date(2027, 2, 28)),
        ("ARR-DFE", date(2027, 11, 30), date(2028, 2, 29)),
        ("AR-7D", date(2026, 12, 28), date(2027, 1, 4)),  # calendar days, holidays count
        ("AR-7D", date(2028, 2, 25), date(2028, 3, 3)),
        # at least 7 working days before publication on Fri 19 June 2026
        ("LCSPR-PRE-PUB-7WD", date(2026, 6, 19), date(2026, 6, 10)),
        # publication Tue 5 Jan 2027: 4 Jan, 31, 30, 29 Dec, 24, 23, 22 Dec
        ("LCSPR-PRE-PUB-7WD", date(2027, 1, 5), date(2026, 12, 22)),
    ],
)
def test_compute_deadline(rule_id: str, start: date, expected: date) -> None:
    rule = DEFAULT_RULEBOOK.rule(rule_id, start)
    assert compute_deadline(rule, start, CAL) == expected


def test_compute_deadline_with_operator_added_holiday() -> None:
    cal = WorkingDayCalendar(extra_holidays=[date(2026, 12, 22)])
    rule = DEFAULT_RULEBOOK.rule("SIN-5WD", date(2026, 12, 18))
    assert compute_deadline(rule, date(2026, 12, 18), cal) == date(2026, 12, 30)


def test_compute_deadline_for_a_wt2018_case() -> None:
    rule = DEFAULT_RULEBOOK.rule("SIN-5WD", date(2020, 12, 24))
    assert rule.edition == "WT2018"
    # 25 Dec 2020 Fri, 28 Dec Mon (Boxing Day substitute), 1 Jan 2021 Fri
    assert compute_deadline(rule, date(2020, 12, 24), CAL) == date(2021, 1, 5)


# -- needs_rapid_review ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "abuse", "expected"),
    [
        (IncidentKind.death_or_serious_harm, True, True),
        (IncidentKind.death_or_serious_harm, False, False),
        (IncidentKind.outside_england_resident_child, True, True),
        (IncidentKind.looked_after_child_death, True, True),
        (IncidentKind.looked_after_child_death, False, False),
        (IncidentKind.care_leaver_death, True, True),
        (IncidentKind.care_leaver_death, False, False),
    ],
)
def test_needs_rapid_review(kind: IncidentKind, abuse: bool, expected: bool) -> None:
    assert needs_rapid_review(kind, abuse) is expected


def test_incident_kind_values_are_stable_strings() -> None:
    assert IncidentKind("care_leaver_death") is IncidentKind.care_leaver_death
    assert {k.value for k in IncidentKind} == {
        "death_or_serious_harm",
        "outside_england_resident_child",
        "looked_after_child_death",
        "care_leaver_death",
    }
    with pytest.raises(ValueError):
        needs_rapid_review("child_in_need", True)  # type: ignore[arg-type]


# -- incident_deadlines ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", [IncidentKind.death_or_serious_harm, IncidentKind.outside_england_resident_child]
)
def test_serious_incident_deadlines_over_christmas_2026(kind: IncidentKind) -> None:
    aware = date(2026, 12, 18)
    notified = date(2026, 12, 22)
    deadlines = incident_deadlines(kind, aware, notified, True, DEFAULT_RULEBOOK, CAL)
    assert deadlines == [
        Deadline(
            rule_id="SIN-5WD",
            title=DEFAULT_RULEBOOK.rule("SIN-5WD", aware).title,
            due_on=date(2026, 12, 29),
            starts_on=aware,
            edition="WT2023",
            recipients=("panel", "ofsted", "dfe", "local_partners"),
        ),
        Deadline(
            rule_id="RR-15WD",
            title=DEFAULT_RULEBOOK.rule("RR-15WD", aware).title,
            # from Tue 22 Dec: 23, 24, 29, 30, 31, 4-8 Jan, 11-15 Jan
            due_on=date(2027, 1, 15),
            starts_on=notified,
            edition="WT2023",
            recipients=("panel",),
        ),
    ]


def test_serious_incident_without_abuse_or_neglect_is_not_notifiable() -> None:
    with pytest.raises(NotASeriousIncident):
        incident_deadlines(
            IncidentKind.death_or_serious_harm,
            date(2026, 6, 1),
            date(2026, 6, 1),
            False,
            DEFAULT_RULEBOOK,
            CAL,
        )


def test_notified_before_aware_is_rejected() -> None:
    with pytest.raises(ValueError, match="before aware_on"):
        incident_deadlines(
            IncidentKind.death_or_serious_harm,
            date(2026, 6, 10),
            date(2026, 6, 9),
            True,
            DEFAULT_RULEBOOK,
            CAL,
        )


def test_looked_after_child_death_without_abuse() -> None:
    (notify,) = incident_deadlines(
        IncidentKind.looked_after_child_death,
        date(2026, 4, 2),
        date(2026, 4, 2),
        False,
        DEFAULT_RULEBOOK,
        CAL,
    )
    assert notify.rule_id == "LAC-DEATH"
    assert notify.recipients == ("dfe", "ofsted")
    assert notify.starts_on == date(2026, 4, 2)
    assert notify.due_on == date(2026, 4, 13)  # over Good Friday and Easter Monday 2026
    assert notify.edition == "WT2023"


def test_looked_after_child_death_with_abuse_adds_panel_and_rapid_review() -> None:
    notify, review = incident_deadlines(
        IncidentKind.looked_after_child_death,
        date(2026, 12, 18),
        date(2026, 12, 21),
        True,
        DEFAULT_RULEBOOK,
        CAL,
    )
    assert notify.rule_id == "LAC-DEATH"
    assert notify.due_on == date(2026, 12, 29)
    assert set(notify.recipients) == {"dfe", "ofsted", "panel", "local_partners"}
    assert notify.recipients[:2] == ("dfe", "ofsted")
    assert review.rule_id == "RR-15WD"
    assert review.starts_on == date(2026, 12, 21)
    assert review.due_on == date(2027, 1, 14)


def test_death_notification_with_abuse_is_due_by_the_earlier_rule() -> None:
    book = DEFAULT_RULEBOOK.with_overrides({"CARE-LEAVER-DEATH": 10})
    notify, _ = incident_deadlines(
        IncidentKind.care_leaver_death, date(2026, 12, 18), date(2026, 12, 18), True, book, CAL
    )
    assert notify.rule_id == "CARE-LEAVER-DEATH"
    assert notify.due_on == date(2026, 12, 29)  # SIN-5WD's 5 days, not the overridden 10


def test_care_leaver_death_without_abuse() -> None:
    (notify,) = incident_deadlines(
        IncidentKind.care_leaver_death,
        WT2023_FIRST,
        WT2023_FIRST,
        False,
        DEFAULT_RULEBOOK,
        CAL,
    )
    assert notify.rule_id == "CARE-LEAVER-DEATH"
    assert notify.edition == "WT2023"
    assert notify.verify is True
    assert notify.recipients == ("dfe", "ofsted")
    # Fri 15 Dec 2023: 18, 19, 20, 21, 22
    assert notify.due_on == date(2023, 12, 22)


def test_care_leaver_death_with_abuse_adds_panel_and_rapid_review() -> None:
    deadlines = incident_deadlines(
        IncidentKind.care_leaver_death,
        date(2024, 12, 20),
        date(2024, 12, 23),
        True,
        DEFAULT_RULEBOOK,
        CAL,
    )
    assert [d.rule_id for d in deadlines] == ["CARE-LEAVER-DEATH", "RR-15WD"]
    # Fri 20 Dec 2024: 23, 24, (25, 26 holidays), 27, 30, 31
    assert deadlines[0].due_on == date(2024, 12, 31)
    assert "panel" in deadlines[0].recipients
    # Mon 23 Dec 2024: 24, 27, 30, 31, (1 Jan), 2, 3, 6-10, 13, 14, 15, 16 Jan
    assert deadlines[1].due_on == date(2025, 1, 16)


@pytest.mark.parametrize("abuse", [True, False])
def test_care_leaver_death_before_wt2023_has_no_rule(abuse: bool) -> None:
    with pytest.raises(NoRuleInForce, match="2023-12-14"):
        incident_deadlines(
            IncidentKind.care_leaver_death,
            WT2018_LAST,
            WT2023_FIRST,  # notified after the change: the clock started before it
            abuse,
            DEFAULT_RULEBOOK,
            CAL,
        )


def test_edition_follows_aware_date_even_if_notified_after_the_change() -> None:
    deadlines = incident_deadlines(
        IncidentKind.death_or_serious_harm,
        WT2018_LAST,  # Thursday 14 Dec 2023
        date(2023, 12, 18),
        True,
        DEFAULT_RULEBOOK,
        CAL,
    )
    assert [(d.rule_id, d.edition) for d in deadlines] == [
        ("SIN-5WD", "WT2018"),
        ("RR-15WD", "WT2018"),
    ]
    # Thu 14 Dec 2023: 15, 18, 19, 20, 21
    assert deadlines[0].due_on == date(2023, 12, 21)
    # Mon 18 Dec 2023: 19-22, (25, 26), 27, 28, 29, (1 Jan), 2-5, 8, 9, 10, 11
    assert deadlines[1].due_on == date(2024, 1, 11)


def test_edition_on_the_first_day_of_wt2023() -> None:
    deadlines = incident_deadlines(
        IncidentKind.death_or_serious_harm,
        WT2023_FIRST,
        WT2023_FIRST,
        True,
        DEFAULT_RULEBOOK,
        CAL,
    )
    assert [(d.rule_id, d.edition) for d in deadlines] == [
        ("SIN-5WD", "WT2023"),
        ("RR-15WD", "WT2023"),
    ]
