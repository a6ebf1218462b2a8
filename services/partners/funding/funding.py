"""Funding operations: settings, budgets, contributions and the equity analysis.

Each write stores its rows, an audit entry and its event in the request's transaction. The
rules themselves (financial years, shares, thresholds) live in :mod:`.rules` as data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.partners.funding.models import FundingBudget, FundingContribution, FundingSettings
from services.partners.funding.rules import (
    DEFAULT_RULES,
    ContributorTotal,
    FundingRules,
    financial_year_of,
    flat_amount_across_partnerships,
    proportionate_shares,
)
from services.partners.funding.schemas import (
    BudgetIn,
    BudgetOut,
    BudgetPatch,
    ContributionIn,
    ContributionOut,
    ContributionPatch,
    ContributorAnalysis,
    FundingAnalysis,
    FundingFlag,
    FundingSettingsOut,
    FundingSettingsPatch,
    InKindOut,
)
from services.partners.models import SafeguardingPartner
from services.partners.registry import partnership_for
from shared.audit import record_audit
from shared.auth import Principal
from shared.contracts.partners.funding import (
    FundingBudgetSet,
    FundingContributionRecorded,
    FundingContributionUpdated,
    FundingContributionWithdrawn,
    FundingSettingsUpdated,
)
from shared.db import fetch_page
from shared.outbox import Outbox
from shared.problems import Conflict, NotFound, Unprocessable
from shared.tables import utcnow


async def _partners(session: AsyncSession, partnership_id: str) -> list[SafeguardingPartner]:
    rows = await session.exec(
        select(SafeguardingPartner)
        .where(SafeguardingPartner.partnership_id == partnership_id)
        .order_by(col(SafeguardingPartner.kind), col(SafeguardingPartner.id))
    )
    return list(rows.all())


def contributor_key(name: str) -> str:
    """One body across partnerships: its name, case and spacing folded."""
    return " ".join(name.split()).casefold()


# --- settings -------------------------------------------------------------------------------


def _tolerance(settings: FundingSettings | None, rules: FundingRules) -> Decimal:
    if settings is not None and settings.tolerance is not None:
        return Decimal(settings.tolerance)
    return rules.default_tolerance


def _settings_out(
    partnership_id: str, s: FundingSettings | None, rules: FundingRules = DEFAULT_RULES
) -> FundingSettingsOut:
    return FundingSettingsOut(
        partnership_id=partnership_id,
        basis=s.basis if s else "equal_thirds",
        weights={k: Decimal(str(v)) for k, v in (s.weights if s else {}).items()},
        child_population=s.child_population if s else None,
        tolerance=_tolerance(s, rules),
        tolerance_is_default=s is None or s.tolerance is None,
    )


async def get_settings(
    session: AsyncSession, principal: Principal, partnership_id: str
) -> FundingSettingsOut:
    await partnership_for(session, principal, partnership_id)
    return _settings_out(partnership_id, await session.get(FundingSettings, partnership_id))


async def patch_settings(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    partnership_id: str,
    body: FundingSettingsPatch,
) -> FundingSettingsOut:
    await partnership_for(session, principal, partnership_id)
    settings = await session.get(FundingSettings, partnership_id) or FundingSettings(
        partnership_id=partnership_id
    )
    changes = body.model_dump(exclude_unset=True)
    for name in ("basis", "weights", "tolerance"):
        if name in changes and changes[name] is None:
            raise Unprocessable(f"{name} cannot be cleared.", field=name)
    if "basis" in changes:
        settings.basis = changes["basis"]
    if "weights" in changes:
        settings.weights = {k: str(v) for k, v in changes["weights"].items()}
    if "child_population" in changes:
        settings.child_population = changes["child_population"]
    if "tolerance" in changes:
        settings.tolerance = str(changes["tolerance"])
    partner_ids = {p.id for p in await _partners(session, partnership_id)}
    unknown = sorted(set(settings.weights) - partner_ids)
    if unknown:
        raise Unprocessable(
            f"Weights name partners that are not this partnership's: {', '.join(unknown)}.",
            field="weights",
        )
    if settings.basis != "equal_thirds":
        missing = sorted(pid for pid in partner_ids if pid not in settings.weights)
        if missing or not any(Decimal(str(w)) > 0 for w in settings.weights.values()):
            raise Unprocessable(
                f"The {settings.basis} basis needs a positive weight for every statutory "
                f"partner; missing: {', '.join(missing) or 'all are zero'}.",
                field="weights",
            )
    settings.updated_at = utcnow()
    session.add(settings)
    out = _settings_out(partnership_id, settings)
    outbox.emit(
        session,
        FundingSettingsUpdated(
            partnership_id=partnership_id,
            basis=out.basis,
            weights={k: str(v) for k, v in out.weights.items()},
            child_population=out.child_population,
            tolerance=str(out.tolerance),
            changes=sorted(changes),
        ),
        partnership_id=partnership_id,
        subject=partnership_id,
    )
    record_audit(
        session,
        principal,
        "update",
        "funding_settings",
        partnership_id,
        partnership_id=partnership_id,
        detail={k: _jsonable(v) for k, v in changes.items()},
    )
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


# --- budgets --------------------------------------------------------------------------------


def _budget_out(b: FundingBudget) -> BudgetOut:
    return BudgetOut.model_validate(b, from_attributes=True)


async def _find_budget(session: AsyncSession, partnership_id: str, year: str) -> FundingBudget:
    budget = (
        await session.exec(
            select(FundingBudget)
            .where(FundingBudget.partnership_id == partnership_id)
            .where(FundingBudget.year == year)
        )
    ).first()
    if budget is None:
        raise NotFound(f"No budget recorded for {year}.")
    return budget


async def create_budget(
    session: AsyncSession, outbox: Outbox, principal: Principal, partnership_id: str, body: BudgetIn
) -> BudgetOut:
    await partnership_for(session, principal, partnership_id)
    try:
        await _find_budget(session, partnership_id, body.year)
    except NotFound:
        pass
    else:
        raise Conflict(f"A budget for {body.year} exists; PATCH it instead.", field="year")
    budget = FundingBudget(
        partnership_id=partnership_id,
        year=body.year,
        amount_pence=body.amount_pence,
        note=body.note,
    )
    session.add(budget)
    await session.flush()
    _budget_event(session, outbox, budget, None)
    record_audit(
        session,
        principal,
        "create",
        "funding_budget",
        budget.id,
        partnership_id=partnership_id,
        detail={"year": budget.year, "amount_pence": budget.amount_pence},
    )
    return _budget_out(budget)


def _budget_event(
    session: AsyncSession, outbox: Outbox, budget: FundingBudget, previous: int | None
) -> None:
    outbox.emit(
        session,
        FundingBudgetSet(
            partnership_id=budget.partnership_id,
            budget_id=budget.id,
            year=budget.year,
            amount_pence=budget.amount_pence,
            previous_amount_pence=previous,
        ),
        partnership_id=budget.partnership_id,
        subject=budget.id,
    )


async def patch_budget(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    partnership_id: str,
    year: str,
    body: BudgetPatch,
) -> BudgetOut:
    await partnership_for(session, principal, partnership_id)
    budget = await _find_budget(session, partnership_id, year)
    changes = body.model_dump(exclude_unset=True)
    if "amount_pence" in changes and changes["amount_pence"] is None:
        raise Unprocessable("amount_pence cannot be cleared.", field="amount_pence")
    previous = budget.amount_pence
    for name, value in changes.items():
        setattr(budget, name, value)
    budget.updated_at = utcnow()
    session.add(budget)
    _budget_event(session, outbox, budget, previous)
    record_audit(
        session,
        principal,
        "update",
        "funding_budget",
        budget.id,
        partnership_id=partnership_id,
        detail={"year": year, "changes": changes, "previous_amount_pence": previous},
    )
    return _budget_out(budget)


async def get_budget(
    session: AsyncSession, principal: Principal, partnership_id: str, year: str
) -> BudgetOut:
    await partnership_for(session, principal, partnership_id)
    return _budget_out(await _find_budget(session, partnership_id, year))


async def list_budgets(
    session: AsyncSession, principal: Principal, partnership_id: str, limit: int, offset: int
) -> tuple[list[BudgetOut], int]:
    await partnership_for(session, principal, partnership_id)
    rows, total = await fetch_page(
        session,
        FundingBudget,
        [col(FundingBudget.partnership_id) == partnership_id],
        [col(FundingBudget.year)],
        limit=limit,
        offset=offset,
    )
    return [_budget_out(b) for b in rows], total


# --- contributions --------------------------------------------------------------------------


def _contribution_out(c: FundingContribution) -> ContributionOut:
    return ContributionOut(
        id=c.id,
        partnership_id=c.partnership_id,
        year=c.year,
        contributed_on=c.contributed_on,
        contributor_kind=c.contributor_kind,
        partner_id=c.partner_id,
        agency_id=c.agency_id,
        contributor_name=c.contributor_name,
        money_pence=c.money_pence,
        in_kind=[InKindOut(**item) for item in c.in_kind],
        in_kind_pence=c.in_kind_pence,
        total_pence=c.money_pence + c.in_kind_pence,
        decided_unilaterally=c.decided_unilaterally,
        covers_shortfall=c.covers_shortfall,
        note=c.note,
        created_at=c.created_at,
        updated_at=c.updated_at,
        withdrawn_at=c.withdrawn_at,
    )


def _check_year_and_amounts(c: FundingContribution) -> None:
    """Cross-field rules (domain.md 3): the date must fall in the stated financial year (1 April
    to 31 March), and a contribution gives something, money or in kind."""
    if c.contributed_on is not None:
        actual = financial_year_of(c.contributed_on)
        if c.year and c.year != actual:
            raise Unprocessable(
                f"{c.contributed_on.isoformat()} falls in financial year {actual}, not {c.year} "
                "(a financial year runs 1 April to 31 March).",
                field="contributed_on",
            )
        c.year = actual
    if not c.year:
        raise Unprocessable(
            "Give the financial year (e.g. 2025-26) or contributed_on.", field="year"
        )
    if c.money_pence == 0 and c.in_kind_pence == 0:
        raise Unprocessable(
            "A contribution needs money or an in-kind item with a value.", field="money_pence"
        )


async def create_contribution(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    partnership_id: str,
    body: ContributionIn,
) -> ContributionOut:
    await partnership_for(session, principal, partnership_id)
    who = body.contributor
    name = who.name
    if who.kind == "statutory_partner":
        partners = {p.id: p for p in await _partners(session, partnership_id)}
        if who.partner_id is None or who.partner_id not in partners:
            raise Unprocessable(
                "A statutory partner contributor names one of this partnership's partners.",
                field="contributor.partner_id",
            )
        name = partners[who.partner_id].organisation
    elif who.partner_id is not None:
        raise Unprocessable(
            "partner_id is only for statutory partners.", field="contributor.partner_id"
        )
    if not name:
        raise Unprocessable("Name the contributor.", field="contributor.name")
    in_kind = [item.model_dump() for item in body.in_kind]
    contribution = FundingContribution(
        partnership_id=partnership_id,
        year=body.year or "",
        contributed_on=body.contributed_on,
        contributor_kind=who.kind,
        partner_id=who.partner_id,
        agency_id=who.agency_id,
        contributor_name=name,
        contributor_key=contributor_key(name),
        money_pence=body.money_pence,
        in_kind=in_kind,
        in_kind_pence=sum(i["estimated_value_pence"] for i in in_kind),
        decided_unilaterally=body.decided_unilaterally,
        covers_shortfall=body.covers_shortfall,
        note=body.note,
    )
    _check_year_and_amounts(contribution)
    session.add(contribution)
    await session.flush()
    outbox.emit(
        session,
        FundingContributionRecorded(
            partnership_id=partnership_id,
            contribution_id=contribution.id,
            year=contribution.year,
            contributed_on=contribution.contributed_on,
            contributor_kind=contribution.contributor_kind,
            contributor_name=contribution.contributor_name,
            partner_id=contribution.partner_id,
            agency_id=contribution.agency_id,
            money_pence=contribution.money_pence,
            in_kind_pence=contribution.in_kind_pence,
            decided_unilaterally=contribution.decided_unilaterally,
            covers_shortfall=contribution.covers_shortfall,
        ),
        partnership_id=partnership_id,
        subject=contribution.id,
    )
    record_audit(
        session,
        principal,
        "create",
        "funding_contribution",
        contribution.id,
        partnership_id=partnership_id,
        detail={
            "year": contribution.year,
            "contributor": contribution.contributor_name,
            "money_pence": contribution.money_pence,
            "in_kind_pence": contribution.in_kind_pence,
        },
    )
    return _contribution_out(contribution)


async def _find_contribution(
    session: AsyncSession, partnership_id: str, contribution_id: str
) -> FundingContribution:
    c = await session.get(FundingContribution, contribution_id)
    if c is None or c.partnership_id != partnership_id:
        raise NotFound("Contribution not found.")
    return c


async def get_contribution(
    session: AsyncSession, principal: Principal, partnership_id: str, contribution_id: str
) -> ContributionOut:
    await partnership_for(session, principal, partnership_id)
    return _contribution_out(await _find_contribution(session, partnership_id, contribution_id))


async def patch_contribution(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    partnership_id: str,
    contribution_id: str,
    body: ContributionPatch,
) -> ContributionOut:
    await partnership_for(session, principal, partnership_id)
    c = await _find_contribution(session, partnership_id, contribution_id)
    if c.withdrawn_at is not None:
        raise Conflict("A withdrawn contribution cannot be changed.")
    changes = body.model_dump(exclude_unset=True)
    for name in ("money_pence", "in_kind", "decided_unilaterally", "covers_shortfall", "year"):
        if name in changes and changes[name] is None:
            raise Unprocessable(f"{name} cannot be cleared.", field=name)
    before = {name: _jsonable(getattr(c, name)) for name in changes}
    for name, value in changes.items():
        setattr(c, name, value)
    if "in_kind" in changes:
        c.in_kind_pence = sum(i["estimated_value_pence"] for i in c.in_kind)
    if "contributed_on" in changes and "year" not in changes and c.contributed_on is not None:
        c.year = financial_year_of(c.contributed_on)  # a moved date moves the year with it
    _check_year_and_amounts(c)
    c.updated_at = utcnow()
    session.add(c)
    outbox.emit(
        session,
        FundingContributionUpdated(
            partnership_id=partnership_id,
            contribution_id=c.id,
            year=c.year,
            money_pence=c.money_pence,
            in_kind_pence=c.in_kind_pence,
            decided_unilaterally=c.decided_unilaterally,
            covers_shortfall=c.covers_shortfall,
            changes=sorted(changes),
        ),
        partnership_id=partnership_id,
        subject=c.id,
    )
    record_audit(
        session,
        principal,
        "update",
        "funding_contribution",
        c.id,
        partnership_id=partnership_id,
        detail={"before": before, "after": {k: _jsonable(v) for k, v in changes.items()}},
    )
    return _contribution_out(c)


async def withdraw_contribution(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    partnership_id: str,
    contribution_id: str,
) -> None:
    """Soft delete: the row stays for the funding history, out of the analysis."""
    await partnership_for(session, principal, partnership_id)
    c = await _find_contribution(session, partnership_id, contribution_id)
    if c.withdrawn_at is not None:
        return
    c.withdrawn_at = utcnow()
    session.add(c)
    outbox.emit(
        session,
        FundingContributionWithdrawn(
            partnership_id=partnership_id, contribution_id=c.id, year=c.year
        ),
        partnership_id=partnership_id,
        subject=c.id,
    )
    record_audit(
        session,
        principal,
        "withdraw",
        "funding_contribution",
        c.id,
        partnership_id=partnership_id,
        detail={"year": c.year, "contributor": c.contributor_name},
    )


async def list_contributions(
    session: AsyncSession,
    principal: Principal,
    partnership_id: str,
    *,
    year: str | None,
    contributor_kind: str | None,
    partner_id: str | None,
    include_withdrawn: bool,
    limit: int,
    offset: int,
) -> tuple[list[ContributionOut], int]:
    await partnership_for(session, principal, partnership_id)
    query = select(FundingContribution).where(FundingContribution.partnership_id == partnership_id)
    count = (
        select(func.count())
        .select_from(FundingContribution)
        .where(FundingContribution.partnership_id == partnership_id)
    )
    filters: list[Any] = []
    if year is not None:
        filters.append(FundingContribution.year == year)
    if contributor_kind is not None:
        filters.append(FundingContribution.contributor_kind == contributor_kind)
    if partner_id is not None:
        filters.append(FundingContribution.partner_id == partner_id)
    if not include_withdrawn:
        filters.append(col(FundingContribution.withdrawn_at).is_(None))
    for f in filters:
        query, count = query.where(f), count.where(f)
    total = (await session.exec(count)).one()
    rows = await session.exec(
        query.order_by(col(FundingContribution.year), col(FundingContribution.created_at))
        .order_by(col(FundingContribution.id))
        .limit(limit)
        .offset(offset)
    )
    return [_contribution_out(c) for c in rows.all()], int(total)


# --- analysis -------------------------------------------------------------------------------


def _population(settings: FundingSettings | None) -> int | None:
    """The area's child population: stated, or else (child_population basis) the largest
    per-partner population, since every partner serves the whole area or a part of it."""
    if settings is None:
        return None
    if settings.child_population:
        return settings.child_population
    if settings.basis == "child_population" and settings.weights:
        return int(max(Decimal(str(w)) for w in settings.weights.values()))
    return None


async def analyse(
    session: AsyncSession,
    principal: Principal,
    partnership_id: str,
    year: str,
    rules: FundingRules = DEFAULT_RULES,
) -> FundingAnalysis:
    await partnership_for(session, principal, partnership_id)
    settings = await session.get(FundingSettings, partnership_id)
    basis = settings.basis if settings else "equal_thirds"
    tolerance = _tolerance(settings, rules)
    partners = await _partners(session, partnership_id)
    kinds = {p.id: p.kind for p in partners}
    rows = (
        await session.exec(
            select(FundingContribution)
            .where(FundingContribution.partnership_id == partnership_id)
            .where(FundingContribution.year == year)
            .where(col(FundingContribution.withdrawn_at).is_(None))
        )
    ).all()
    totals = _contributor_totals(rows, partners)
    budget_row = (
        await session.exec(
            select(FundingBudget)
            .where(FundingBudget.partnership_id == partnership_id)
            .where(FundingBudget.year == year)
        )
    ).first()
    money = sum(t.money_pence for t in totals)
    in_kind = sum(t.in_kind_pence for t in totals)
    total = money + in_kind
    budget = budget_row.amount_pence if budget_row else None
    balance = None if budget is None else total - budget
    position = (
        "no_budget"
        if balance is None
        else "shortfall"
        if balance < 0
        else "surplus"
        if balance > 0
        else "balanced"
    )
    weights = {k: Decimal(str(v)) for k, v in (settings.weights if settings else {}).items()}
    paid = {t.partner_id: t.total_pence for t in totals if t.partner_id}
    shares = {
        s.partner_id: s
        for s in proportionate_shares(basis, [p.id for p in partners], weights, paid, tolerance)
    }
    contributors: list[ContributorAnalysis] = []
    flags: list[FundingFlag] = []
    for t in totals:
        share = shares.get(t.partner_id) if t.partner_id else None
        contributors.append(
            ContributorAnalysis(
                name=t.name,
                kind=t.kind,
                partner_id=t.partner_id,
                partner_kind=t.partner_kind,
                money_pence=t.money_pence,
                in_kind_pence=t.in_kind_pence,
                total_pence=t.total_pence,
                share_of_total=(Decimal(t.total_pence) / total).quantize(Decimal("0.0001"))
                if total
                else None,
                expected_share=share.expected_share if share else None,
                expected_pence=share.expected_pence if share else None,
                share_of_partners=share.actual_share if share else None,
            )
        )
        if share and share.below_share:
            flags.append(
                FundingFlag(
                    code="below_proportionate_share",
                    contributor=t.name,
                    partner_id=t.partner_id,
                    detail=f"Paid {t.total_pence}p against a proportionate share of "
                    f"{share.expected_pence}p ({basis}); more than {tolerance:%} below.",
                )
            )
        if t.decided_unilaterally:
            flags.append(
                FundingFlag(
                    code="decided_unilaterally",
                    contributor=t.name,
                    partner_id=t.partner_id,
                    detail="Recorded as decided by the contributor alone, not agreed by the "
                    "partners.",
                )
            )
        if t.money_pence > 0:
            finding = await _flat_amount(session, partnership_id, year, t, rules)
            if finding is not None:
                flags.append(finding)
    flags.extend(_council_covers_shortfall(totals, shares, kinds))
    return FundingAnalysis(
        partnership_id=partnership_id,
        year=year,
        basis=basis,
        tolerance=tolerance,
        budget_pence=budget,
        money_pence=money,
        in_kind_pence=in_kind,
        total_pence=total,
        balance_pence=balance,
        position=position,  # type: ignore[arg-type]
        contributors=contributors,
        flags=flags,
    )


def _contributor_totals(
    rows: Sequence[FundingContribution], partners: list[SafeguardingPartner]
) -> list[ContributorTotal]:
    """Sum a year's rows per contributor; every statutory partner appears, even at zero."""
    kinds = {p.id: p.kind for p in partners}
    acc: dict[str, ContributorTotal] = {
        f"partner:{p.id}": ContributorTotal(
            key=contributor_key(p.organisation),
            name=p.organisation,
            kind="statutory_partner",
            partner_id=p.id,
            partner_kind=p.kind,
            money_pence=0,
            in_kind_pence=0,
        )
        for p in partners
    }
    for c in rows:
        key = f"partner:{c.partner_id}" if c.partner_id else f"other:{c.contributor_key}"
        seen = acc.get(key) or ContributorTotal(
            key=c.contributor_key,
            name=c.contributor_name,
            kind=c.contributor_kind,  # type: ignore[arg-type]
            partner_id=c.partner_id,
            partner_kind=kinds.get(c.partner_id or ""),
            money_pence=0,
            in_kind_pence=0,
        )
        acc[key] = replace(
            seen,
            money_pence=seen.money_pence + c.money_pence,
            in_kind_pence=seen.in_kind_pence + c.in_kind_pence,
            decided_unilaterally=seen.decided_unilaterally or c.decided_unilaterally,
            covers_shortfall=seen.covers_shortfall or c.covers_shortfall,
        )
    return list(acc.values())


async def _flat_amount(
    session: AsyncSession, partnership_id: str, year: str, t: ContributorTotal, rules: FundingRules
) -> FundingFlag | None:
    """The same money from this contributor to partnerships of very different size (domain.md
    3: a flat GBP 5,000 to each of 32 London boroughs). Other partnerships stay unnamed."""
    sums = (
        await session.exec(
            select(FundingContribution.partnership_id, func.sum(FundingContribution.money_pence))
            .where(FundingContribution.contributor_key == t.key)
            .where(FundingContribution.year == year)
            .where(col(FundingContribution.withdrawn_at).is_(None))
            .group_by(col(FundingContribution.partnership_id))
        )
    ).all()
    amounts = {pid: int(total or 0) for pid, total in sums}
    amounts[partnership_id] = t.money_pence
    settings_rows = (
        await session.exec(
            select(FundingSettings).where(col(FundingSettings.partnership_id).in_(list(amounts)))
        )
    ).all()
    populations = {s.partnership_id: _population(s) for s in settings_rows}
    finding = flat_amount_across_partnerships(t.money_pence, amounts, populations, rules)
    if finding is None:
        return None
    return FundingFlag(
        code="flat_amount_across_partnerships",
        contributor=t.name,
        partner_id=t.partner_id,
        detail=f"The same {t.money_pence}p recorded in {len(finding.partnership_ids)} "
        f"partnerships whose child populations range from {finding.smallest_population} to "
        f"{finding.largest_population}: looks set unilaterally, not in proportion to size.",
    )


def _council_covers_shortfall(
    totals: list[ContributorTotal], shares: dict[str, Any], kinds: dict[str, str]
) -> list[FundingFlag]:
    """The council covering the gap (domain.md 3): a council contribution marked as covering a
    shortfall, or the council above its share beyond tolerance while another partner is below."""
    councils = [t for t in totals if t.partner_id and kinds.get(t.partner_id) == "local_authority"]
    others_below = any(
        s.below_share for pid, s in shares.items() if kinds.get(pid) != "local_authority"
    )
    flags = []
    for t in councils:
        share = shares.get(t.partner_id or "")
        over = bool(share and share.above_share and others_below)
        if t.covers_shortfall or over:
            flags.append(
                FundingFlag(
                    code="council_covers_shortfall",
                    contributor=t.name,
                    partner_id=t.partner_id,
                    detail="The council is paying above its share while another partner pays "
                    "below it."
                    if over
                    else "The council recorded a contribution to cover a funding shortfall.",
                )
            )
    return flags
