"""HTTP routes of the funding feature: parse, authorise (in funding.py), call funding.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from services.partners.funding import funding
from services.partners.funding.rules import ContributorKind, parse_financial_year
from services.partners.funding.schemas import (
    BudgetIn,
    BudgetOut,
    BudgetPage,
    BudgetPatch,
    ContributionIn,
    ContributionOut,
    ContributionPage,
    ContributionPatch,
    FundingAnalysis,
    FundingSettingsOut,
    FundingSettingsPatch,
)
from shared.problems import Unprocessable
from shared.service import PrincipalDep, RuntimeDep, SessionDep

router = APIRouter(tags=["funding"], prefix="/partnerships/{partnership_id}/funding")

PartnershipId = Annotated[str, Path(max_length=64)]
Year = Annotated[str, Path(max_length=7, examples=["2025-26"])]
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0)]


def _year(value: str, field: str = "year") -> str:
    """A financial year in a path or query ("2025-26"); 422 naming it otherwise."""
    try:
        parse_financial_year(value)
    except ValueError as exc:
        raise Unprocessable(str(exc), field=field) from exc
    return value


@router.get("/settings", summary="Basis for proportionate shares, tolerance, child population")
async def get_settings(
    partnership_id: PartnershipId, principal: PrincipalDep, session: SessionDep
) -> FundingSettingsOut:
    return await funding.get_settings(session, principal, partnership_id)


@router.patch("/settings", summary="Change the basis, weights, tolerance or child population")
async def patch_settings(
    partnership_id: PartnershipId,
    body: FundingSettingsPatch,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> FundingSettingsOut:
    return await funding.patch_settings(session, runtime.outbox, principal, partnership_id, body)


@router.post("/budgets", status_code=status.HTTP_201_CREATED, summary="Record a year's budget")
async def create_budget(
    partnership_id: PartnershipId,
    body: BudgetIn,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> BudgetOut:
    return await funding.create_budget(session, runtime.outbox, principal, partnership_id, body)


@router.get("/budgets", summary="Budgets by financial year")
async def list_budgets(
    partnership_id: PartnershipId,
    principal: PrincipalDep,
    session: SessionDep,
    limit: Limit = 50,
    offset: Offset = 0,
) -> BudgetPage:
    items, total = await funding.list_budgets(session, principal, partnership_id, limit, offset)
    return BudgetPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/budgets/{year}")
async def get_budget(
    partnership_id: PartnershipId, year: Year, principal: PrincipalDep, session: SessionDep
) -> BudgetOut:
    return await funding.get_budget(session, principal, partnership_id, _year(year))


@router.patch("/budgets/{year}")
async def patch_budget(
    partnership_id: PartnershipId,
    year: Year,
    body: BudgetPatch,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> BudgetOut:
    return await funding.patch_budget(
        session, runtime.outbox, principal, partnership_id, _year(year), body
    )


@router.post(
    "/contributions",
    status_code=status.HTTP_201_CREATED,
    summary="Record a contribution (money and/or in kind) for a financial year",
)
async def create_contribution(
    partnership_id: PartnershipId,
    body: ContributionIn,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> ContributionOut:
    return await funding.create_contribution(
        session, runtime.outbox, principal, partnership_id, body
    )


@router.get("/contributions", summary="Contributions, filtered by year, contributor kind, partner")
async def list_contributions(
    partnership_id: PartnershipId,
    principal: PrincipalDep,
    session: SessionDep,
    year: Annotated[str | None, Query(max_length=7)] = None,
    contributor_kind: ContributorKind | None = None,
    partner_id: Annotated[str | None, Query(max_length=64)] = None,
    include_withdrawn: bool = False,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ContributionPage:
    items, total = await funding.list_contributions(
        session,
        principal,
        partnership_id,
        year=_year(year) if year is not None else None,
        contributor_kind=contributor_kind,
        partner_id=partner_id,
        include_withdrawn=include_withdrawn,
        limit=limit,
        offset=offset,
    )
    return ContributionPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/contributions/{contribution_id}")
async def get_contribution(
    partnership_id: PartnershipId,
    contribution_id: Annotated[str, Path(max_length=64)],
    principal: PrincipalDep,
    session: SessionDep,
) -> ContributionOut:
    return await funding.get_contribution(session, principal, partnership_id, contribution_id)


@router.patch("/contributions/{contribution_id}", summary="Correct a contribution (partial)")
async def patch_contribution(
    partnership_id: PartnershipId,
    contribution_id: Annotated[str, Path(max_length=64)],
    body: ContributionPatch,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> ContributionOut:
    return await funding.patch_contribution(
        session, runtime.outbox, principal, partnership_id, contribution_id, body
    )


@router.delete(
    "/contributions/{contribution_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Withdraw a contribution (kept for history, left out of the analysis)",
)
async def withdraw_contribution(
    partnership_id: PartnershipId,
    contribution_id: Annotated[str, Path(max_length=64)],
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    await funding.withdraw_contribution(
        session, runtime.outbox, principal, partnership_id, contribution_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{year}/analysis",
    summary="Each contributor's amount and share, total against budget, and equity flags",
)
async def analysis(
    partnership_id: PartnershipId, year: Year, principal: PrincipalDep, session: SessionDep
) -> FundingAnalysis:
    return await funding.analyse(session, principal, partnership_id, _year(year))
