"""HTTP endpoints of the reporting service: parse, authorise, call queries.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse

from services.reporting import queries
from services.reporting.pages import dashboard_page
from services.reporting.readmodel import london_today
from services.reporting.schemas import CaseOut, PartnershipPage, PartnershipSummary
from services.reporting.settings import ReportingSettings
from shared.calendar import default_calendar
from shared.service import PrincipalDep, RuntimeDep, SessionDep

router = APIRouter(tags=["dashboard"])


def _clock(runtime: RuntimeDep) -> queries.Clock:
    """Today in England and the working-day calendar with any operator-added holidays."""
    settings = runtime.settings
    extra = settings.extra_bank_holidays if isinstance(settings, ReportingSettings) else []
    return queries.Clock(london_today(), default_calendar(extra))


ClockDep = Annotated[queries.Clock, Depends(_clock)]


@router.get("/", include_in_schema=False)
async def dashboard() -> HTMLResponse:
    """The dashboard page: a shell that asks for the API token and calls the JSON API.

    Browsers cannot send a bearer token on navigation, so the page itself holds no data and
    needs no authentication.
    """
    return dashboard_page()


@router.get("/partnerships", summary="Partnerships the caller may see, with open cases")
async def list_partnerships(
    principal: PrincipalDep,
    session: SessionDep,
    clock: ClockDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> PartnershipPage:
    return await queries.list_partnerships(session, principal, clock, limit, offset)


@router.get(
    "/partnerships/{partnership_id}/summary",
    summary="A partnership's cases, deadlines and notification deliveries",
)
async def partnership_summary(
    partnership_id: str, principal: PrincipalDep, session: SessionDep, clock: ClockDep
) -> PartnershipSummary:
    return await queries.partnership_summary(session, principal, clock, partnership_id)


@router.get("/cases/{case_id}", summary="One case with its deadlines and notifications")
async def case_detail(
    case_id: str, principal: PrincipalDep, session: SessionDep, clock: ClockDep
) -> CaseOut:
    return await queries.case_detail(session, principal, clock, case_id)
