"""The demo's partnerships: one single-council partnership and one regional partnership of
three councils; both share one police force and one ICB (domain.md section 1: one force or
ICB often serves several partnerships). Names are real places; people are invented."""

from __future__ import annotations

from typing import Any

POLICE = "West Yorkshire Police"
ICB = "NHS West Yorkshire Integrated Care Board"

SINGLE: dict[str, Any] = {
    "name": "Leeds Safeguarding Children Partnership (demo)",
    "effective_from": "2019-09-29",
    "councils": [{"name": "Leeds City Council", "ons_code": "E08000035", "la_number": "383"}],
    "partners": [
        {
            "kind": "local_authority",
            "organisation": "Leeds City Council",
            "lead_role": "Chief Executive",
        },
        {"kind": "health_board", "organisation": ICB, "lead_role": "Chief Executive"},
        {"kind": "police", "organisation": POLICE, "lead_role": "Chief Constable"},
    ],
}
SINGLE_GEOGRAPHY = "The City of Leeds: one council area, one police district, one ICB place."

REGIONAL: dict[str, Any] = {
    "name": "Bradford, Calderdale and Kirklees Children's Safeguarding Partnership (demo)",
    "effective_from": "2019-09-29",
    "councils": [
        {
            "name": "City of Bradford Metropolitan District Council",
            "ons_code": "E08000032",
            "la_number": "380",
        },
        {
            "name": "Calderdale Metropolitan Borough Council",
            "ons_code": "E08000033",
            "la_number": "381",
        },
        {"name": "Kirklees Council", "ons_code": "E08000034", "la_number": "382"},
    ],
    "partners": [
        {
            "kind": "local_authority",
            "organisation": "City of Bradford Metropolitan District Council",
            "lead_role": "Chief Executive",
        },
        {
            "kind": "local_authority",
            "organisation": "Calderdale Metropolitan Borough Council",
            "lead_role": "Chief Executive",
        },
        {
            "kind": "local_authority",
            "organisation": "Kirklees Council",
            "lead_role": "Chief Executive",
        },
        {"kind": "health_board", "organisation": ICB, "lead_role": "Chief Executive"},
        {"kind": "police", "organisation": POLICE, "lead_role": "Chief Constable"},
    ],
}
REGIONAL_GEOGRAPHY = (
    "Three metropolitan districts of West Yorkshire: Bradford, Calderdale and Kirklees."
)

# (partner kind, delegate, rank, accountable to): the regional police delegate is a
# superintendent, four ranks below the chief constable, so the registry flags it.
DELEGATIONS: dict[str, list[tuple[str, str, str, str]]] = {
    "single": [
        ("police", "ACC Priya Shah", "assistant_chief_constable", "Chief Constable"),
        ("health_board", "Dr Tom Evans, Chief Nurse", "executive_director", "ICB Chief Executive"),
        (
            "local_authority",
            "Sam Green, Director of Children's Services",
            "director_of_childrens_services",
            "Chief Executive, Leeds City Council",
        ),
    ],
    "regional": [
        ("police", "Supt Alex Moore", "superintendent", "Assistant Chief Constable (Crime)"),
        (
            "health_board",
            "Ruth Khan, Director of Nursing",
            "executive_director",
            "ICB Chief Executive",
        ),
    ],
}
