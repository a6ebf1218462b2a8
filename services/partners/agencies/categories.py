"""Categories of relevant agency: the schedule of SI 2018/789 as reference data.

domain.md section 1: relevant agencies are organisations the safeguarding partners choose to
work with; their kinds come from the schedule of the Child Safeguarding Practice Review and
Relevant Agency (England) Regulations 2018 (SI 2018/789, regulation 18), about 38 kinds under
headings such as education and childcare; health and social care; criminal justice; police and
immigration; miscellaneous. The schedule was amended in 2023, so each category carries the
dates it is valid for, and an agency may only be named under a category valid on the day it is
named.

(verify) The headings, the wording and the exact list below are a working transcription and
must be checked against the schedule on legislation.gov.uk before being relied on. In
particular the 2023 amendment is modelled as taking effect on 6 November 2023 (the date the
published point-in-time version of the schedule changes) and as replacing the secure college
with the secure 16 to 19 Academy: verify both the date and the content.

The three flags (education setting; youth custody or residential home; designated health
professionals) are derived from the category: domain.md section 1 expects all schools,
colleges and education settings to be fully engaged and designated health professionals'
expertise to be secured, so the registry can list them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

Heading = Literal[
    "education_and_childcare",
    "health_and_social_care",
    "criminal_justice",
    "police_and_immigration",
    "miscellaneous",
]

HEADINGS: dict[Heading, str] = {
    "education_and_childcare": "Education and childcare",
    "health_and_social_care": "Health and social care",
    "criminal_justice": "Criminal justice",
    "police_and_immigration": "Police and immigration",
    "miscellaneous": "Miscellaneous",
}

SCHEDULE_IN_FORCE = date(2018, 6, 29)  # reg. 1: the day after the regulations were made
AMENDED_2023 = date(2023, 11, 6)  # (verify) the first day of the amended schedule


@dataclass(frozen=True)
class AgencyCategory:
    """One kind of relevant agency, valid from ``valid_from`` to ``valid_to`` inclusive."""

    code: str
    heading: Heading
    label: str
    valid_from: date = SCHEDULE_IN_FORCE
    valid_to: date | None = None
    education_setting: bool = False
    youth_custody_or_residential: bool = False
    designated_health_professionals: bool = False

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


def _edu(code: str, label: str) -> AgencyCategory:
    return AgencyCategory(code, "education_and_childcare", label, education_setting=True)


def _residential(
    code: str, label: str, heading: Heading = "health_and_social_care"
) -> AgencyCategory:
    return AgencyCategory(code, heading, label, youth_custody_or_residential=True)


def _health(code: str, label: str) -> AgencyCategory:
    return AgencyCategory(
        code, "health_and_social_care", label, designated_health_professionals=True
    )


CATEGORIES: tuple[AgencyCategory, ...] = (
    # Education and childcare
    _edu("academy_proprietor", "The proprietor of an Academy school"),
    _edu("academy_16_19_proprietor", "The proprietor of a 16 to 19 Academy"),
    _edu(
        "alternative_provision_academy_proprietor",
        "The proprietor of an alternative provision Academy",
    ),
    _edu("maintained_school_governing_body", "The governing body of a maintained school"),
    _edu("maintained_nursery_governing_body", "The governing body of a maintained nursery school"),
    _edu(
        "independent_school_proprietor", "The proprietor of an independent educational institution"
    ),
    _edu(
        "non_maintained_special_school_proprietor",
        "The proprietor of a non-maintained special school",
    ),
    _edu(
        "pupil_referral_unit_management_committee",
        "The management committee of a pupil referral unit",
    ),
    _edu(
        "further_education_governing_body",
        "The governing body of an institution in the further education sector",
    ),
    _edu(
        "special_post_16_institution_proprietor", "The proprietor of a special post-16 institution"
    ),
    _edu(
        "post_16_education_or_training_provider",
        "A provider of post-16 education or training funded by the Secretary of State",
    ),
    _edu(
        "early_years_provider",
        "A provider of early years provision registered under Part 3 of the Childcare Act 2006",
    ),
    _edu(
        "later_years_provider",
        "A provider of later years childcare registered under Part 3 of the Childcare Act 2006",
    ),
    _edu(
        "childminder_agency",
        "A childminder agency registered under Part 3 of the Childcare Act 2006",
    ),
    # Health and social care
    _health("nhs_england", "NHS England"),
    _health("nhs_trust", "An NHS trust"),
    _health("nhs_foundation_trust", "An NHS foundation trust"),
    _health("welsh_local_health_board", "A Local Health Board in Wales (cross-border services)"),
    _health(
        "registered_health_or_care_provider",
        "A person registered under Chapter 2 of Part 1 of the Health and Social Care Act 2008",
    ),
    _residential("childrens_home", "A person registered to carry on a children's home"),
    _residential(
        "residential_family_centre", "A person registered to carry on a residential family centre"
    ),
    AgencyCategory(
        "fostering_agency",
        "health_and_social_care",
        "A person registered to carry on a fostering agency",
    ),
    AgencyCategory(
        "voluntary_adoption_agency", "health_and_social_care", "A voluntary adoption agency"
    ),
    AgencyCategory(
        "adoption_support_agency",
        "health_and_social_care",
        "A person registered to carry on an adoption support agency",
    ),
    _residential(
        "residential_holiday_scheme",
        "A person registered to carry on a residential holiday scheme for disabled children",
    ),
    # Criminal justice
    AgencyCategory(
        "youth_offending_team", "criminal_justice", "A youth offending team (youth justice service)"
    ),
    AgencyCategory("probation_provider", "criminal_justice", "A provider of probation services"),
    _residential(
        "prison_governor",
        "The governor of a prison (or director of a contracted-out prison)",
        "criminal_justice",
    ),
    _residential(
        "young_offender_institution_governor",
        "The governor of a young offender institution",
        "criminal_justice",
    ),
    _residential(
        "secure_training_centre", "The director of a secure training centre", "criminal_justice"
    ),
    AgencyCategory(
        "secure_college",
        "criminal_justice",
        "The principal of a secure college",
        valid_to=date(2023, 11, 5),  # (verify) the last day of the original schedule
        youth_custody_or_residential=True,
    ),
    AgencyCategory(
        "secure_16_19_academy_proprietor",
        "criminal_justice",
        "The proprietor of a secure 16 to 19 Academy",
        valid_from=AMENDED_2023,
        youth_custody_or_residential=True,
        education_setting=True,
    ),
    # Police and immigration
    AgencyCategory(
        "british_transport_police", "police_and_immigration", "The British Transport Police Force"
    ),
    AgencyCategory("national_crime_agency", "police_and_immigration", "The National Crime Agency"),
    AgencyCategory(
        "immigration_functions",
        "police_and_immigration",
        "The Secretary of State, for immigration, asylum and nationality functions",
    ),
    # Miscellaneous
    AgencyCategory(
        "cafcass",
        "miscellaneous",
        "The Children and Family Court Advisory and Support Service (Cafcass)",
    ),
    AgencyCategory(
        "nspcc", "miscellaneous", "The National Society for the Prevention of Cruelty to Children"
    ),
    AgencyCategory("district_council", "miscellaneous", "A district council in a two-tier area"),
)

BY_CODE: dict[str, AgencyCategory] = {c.code: c for c in CATEGORIES}


def category(code: str) -> AgencyCategory | None:
    return BY_CODE.get(code)


def valid_on(day: date) -> list[AgencyCategory]:
    """The categories an agency may be named under on ``day``."""
    return [c for c in CATEGORIES if c.valid_on(day)]
