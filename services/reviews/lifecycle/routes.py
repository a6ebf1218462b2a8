"""HTTP routes of the case lifecycle: parse, authorise, call service.py."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response, status

from services.reviews.lifecycle import schemas as s
from services.reviews.lifecycle import service
from services.reviews.routes import PolicyDep
from shared.service import PrincipalDep, RuntimeDep, SessionDep

router = APIRouter(tags=["case lifecycle"])

CaseId = Annotated[str, Path(max_length=64)]
ItemId = Annotated[str, Path(max_length=64)]
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0)]


@router.get("/case-lifecycle", summary="The state machine and review criteria, as data")
async def get_lifecycle(principal: PrincipalDep) -> s.LifecycleOut:
    return service.lifecycle()


@router.post(
    "/cases/{case_id}/transitions",
    summary="Move a case to its next state (409 lists the allowed transitions)",
)
async def post_transition(
    case_id: CaseId,
    body: s.TransitionIn,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    policy: PolicyDep,
) -> s.TransitionOut:
    return await service.transition(session, runtime.outbox, principal, policy, case_id, body)


@router.get("/cases/{case_id}/timeline", summary="What happened to a case: who, when, what, why")
async def get_timeline(
    case_id: CaseId,
    principal: PrincipalDep,
    session: SessionDep,
    transition: Annotated[str | None, Query(max_length=60)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> s.TimelinePage:
    return await service.timeline(
        session, principal, case_id, transition=transition, limit=limit, offset=offset
    )


# -- rapid review -----------------------------------------------------------------------------


@router.put(
    "/cases/{case_id}/rapid-review",
    summary="Record (replace) the rapid review",
    responses={201: {"model": s.RapidReviewOut, "description": "Created"}},
)
async def put_rapid_review(
    case_id: CaseId,
    body: s.RapidReviewIn,
    principal: PrincipalDep,
    session: SessionDep,
    response: Response,
) -> s.RapidReviewOut:
    out, created = await service.put_rapid_review(session, principal, case_id, body)
    if created:
        response.status_code = status.HTTP_201_CREATED
    return out


@router.patch("/cases/{case_id}/rapid-review", summary="Change some fields of the rapid review")
async def patch_rapid_review(
    case_id: CaseId, body: s.RapidReviewPatch, principal: PrincipalDep, session: SessionDep
) -> s.RapidReviewOut:
    out, _ = await service.put_rapid_review(session, principal, case_id, body)
    return out


@router.get("/cases/{case_id}/rapid-review", summary="The rapid review")
async def get_rapid_review(
    case_id: CaseId, principal: PrincipalDep, session: SessionDep
) -> s.RapidReviewOut:
    return await service.get_rapid_review(session, principal, case_id)


# -- Panel response and national reviews ------------------------------------------------------


@router.post(
    "/cases/{case_id}/panel-response",
    status_code=status.HTTP_201_CREATED,
    summary="Record the Panel's answer (the record_panel_response transition)",
)
async def post_panel_response(
    case_id: CaseId,
    body: s.PanelResponseRequest,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    policy: PolicyDep,
) -> s.PanelResponseOut:
    return await service.panel_response(session, runtime.outbox, principal, policy, case_id, body)


@router.get("/cases/{case_id}/panel-response", summary="The Panel's answer")
async def get_panel_response(
    case_id: CaseId, principal: PrincipalDep, session: SessionDep
) -> s.PanelResponseOut:
    return await service.get_panel_response(session, principal, case_id)


@router.post(
    "/national-reviews",
    status_code=status.HTTP_201_CREATED,
    summary="Record a thematic national review and the cases it draws on (operator only)",
)
async def post_national_review(
    body: s.NationalReviewIn, principal: PrincipalDep, session: SessionDep
) -> s.NationalReviewOut:
    return await service.create_national_review(session, principal, body)


@router.get("/national-reviews", summary="National reviews the caller's partnership is part of")
async def list_national_reviews(
    principal: PrincipalDep,
    session: SessionDep,
    kind: Literal["case", "thematic"] | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> s.NationalReviewPage:
    return await service.list_national_reviews(
        session, principal, kind=kind, limit=limit, offset=offset
    )


@router.get("/national-reviews/{review_id}", summary="One national review")
async def get_national_review(
    review_id: ItemId, principal: PrincipalDep, session: SessionDep
) -> s.NationalReviewOut:
    return await service.get_national_review(session, principal, review_id)


# -- local review -----------------------------------------------------------------------------


@router.put(
    "/cases/{case_id}/local-review",
    summary="Set up the local review: reviewer, independence, terms of reference, milestones",
    responses={201: {"model": s.LocalReviewOut, "description": "Created"}},
)
async def put_local_review(
    case_id: CaseId,
    body: s.LocalReviewIn,
    principal: PrincipalDep,
    session: SessionDep,
    response: Response,
) -> s.LocalReviewOut:
    out, created = await service.put_local_review(session, principal, case_id, body)
    if created:
        response.status_code = status.HTTP_201_CREATED
    return out


@router.patch("/cases/{case_id}/local-review", summary="Change some fields of the local review")
async def patch_local_review(
    case_id: CaseId, body: s.LocalReviewPatch, principal: PrincipalDep, session: SessionDep
) -> s.LocalReviewOut:
    out, _ = await service.put_local_review(session, principal, case_id, body)
    return out


@router.get("/cases/{case_id}/local-review", summary="The local review with its dates")
async def get_local_review(
    case_id: CaseId, principal: PrincipalDep, session: SessionDep
) -> s.LocalReviewOut:
    return await service.get_local_review(session, principal, case_id)


@router.post(
    "/cases/{case_id}/local-review/reports",
    status_code=status.HTTP_201_CREATED,
    summary="Add a version of the local review report (text, url or both)",
)
async def post_report_version(
    case_id: CaseId, body: s.ReportVersionIn, principal: PrincipalDep, session: SessionDep
) -> s.ReportVersionOut:
    return await service.add_report_version(session, principal, case_id, body)


@router.get("/cases/{case_id}/local-review/reports", summary="Versions of the report")
async def list_report_versions(
    case_id: CaseId,
    principal: PrincipalDep,
    session: SessionDep,
    final: bool | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> s.ReportVersionPage:
    return await service.list_report_versions(
        session, principal, case_id, final=final, limit=limit, offset=offset
    )


# -- recommendations --------------------------------------------------------------------------


@router.post(
    "/cases/{case_id}/recommendations",
    status_code=status.HTTP_201_CREATED,
    summary="Add a recommendation of a review",
)
async def post_recommendation(
    case_id: CaseId, body: s.RecommendationIn, principal: PrincipalDep, session: SessionDep
) -> s.RecommendationOut:
    return await service.create_recommendation(session, principal, case_id, body)


@router.get("/cases/{case_id}/recommendations", summary="Recommendations with their actions")
async def list_recommendations(
    case_id: CaseId,
    principal: PrincipalDep,
    session: SessionDep,
    status: s.RecommendationStatus | None = None,
    source: s.Source | None = None,
    owner_agency: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> s.RecommendationPage:
    return await service.list_recommendations(
        session,
        principal,
        case_id,
        status=status,
        source=source,
        owner_agency=owner_agency,
        limit=limit,
        offset=offset,
    )


@router.get("/cases/{case_id}/recommendations/{recommendation_id}", summary="One recommendation")
async def get_recommendation(
    case_id: CaseId, recommendation_id: ItemId, principal: PrincipalDep, session: SessionDep
) -> s.RecommendationOut:
    return await service.get_recommendation(session, principal, case_id, recommendation_id)


@router.patch(
    "/cases/{case_id}/recommendations/{recommendation_id}",
    summary="Change a recommendation, or withdraw it with a reason (it is kept)",
)
async def patch_recommendation(
    case_id: CaseId,
    recommendation_id: ItemId,
    body: s.RecommendationPatch,
    principal: PrincipalDep,
    session: SessionDep,
) -> s.RecommendationOut:
    return await service.patch_recommendation(session, principal, case_id, recommendation_id, body)


@router.post(
    "/cases/{case_id}/recommendations/{recommendation_id}/actions",
    status_code=status.HTTP_201_CREATED,
    summary="Add an action to a recommendation",
)
async def post_action(
    case_id: CaseId,
    recommendation_id: ItemId,
    body: s.ActionIn,
    principal: PrincipalDep,
    session: SessionDep,
) -> s.RecommendationOut:
    return await service.add_action(session, principal, case_id, recommendation_id, body)


@router.patch(
    "/cases/{case_id}/recommendations/{recommendation_id}/actions/{action_id}",
    summary="Change an action; done needs evidence and sign-off",
)
async def patch_action(
    case_id: CaseId,
    recommendation_id: ItemId,
    action_id: ItemId,
    body: s.ActionPatch,
    principal: PrincipalDep,
    session: SessionDep,
) -> s.RecommendationOut:
    return await service.patch_action(
        session, principal, case_id, recommendation_id, action_id, body
    )
