"""API endpoints for placement requests: a hospital system reads and answers the requests to its locations.

Only an organisation token with the scope ``answer-requests`` sees requests, and only those to its own
organisation's locations: a request carries the midwife's call-back number, which a token issued to
read capacity was never meant to hand out (docs/api.md, "Placement requests"). Answers go through the
one transition service (``placements.services.placement_transition``) with the token, so the history
records ``via = api`` and the token, and the screens and the event stream are told as for an answer
on the web page.
"""

from __future__ import annotations

from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Header, Path, Query, Router

from api.base import ApiProblem, Problem, expected_version, forbidden, not_found, only_query, request_token
from api.schemas import MAX_ID, AnswerIn, DeclineIn, RequestOut, RequestPage
from capacity.models import ApiToken
from hospitals import audit
from hospitals.models import AccessLog
from placements.models import PlacementRequest
from placements.services import OPEN, StalePlacement, TransitionRefused, placement_transition

router = Router(tags=["placement requests"])

State = PlacementRequest.State
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
READ_ERRORS = {401: Problem, 403: Problem, 404: Problem, 422: Problem, 429: Problem}
WRITE_ERRORS = {**READ_ERRORS, 400: Problem, 409: Problem, 428: Problem}
StateFilter = Literal["open", "sent", "seen", "accepted", "declined", "expired", "withdrawn", "arrived"]


def answering_organisation(token: ApiToken) -> int:
    """The organisation whose requests this token reads and answers; 403 for any other token."""
    if not token.can_answer_requests or token.organisation_id is None:
        raise forbidden(
            _(
                "Placement requests need an organisation token with the scope 'read capacity and answer "
                "placement requests'. Ask your organisation administrator for one."
            )
        )
    return token.organisation_id


def requests_to(organisation_id: int, *, region_id: int | None = None) -> QuerySet[PlacementRequest]:
    """The requests to an organisation's locations (in one region, if given), with what ``RequestOut`` reads."""
    qs = PlacementRequest.objects.filter(location__organisation_id=organisation_id)
    if region_id is not None:
        qs = qs.filter(location__region_id=region_id)
    return qs.select_related("location__organisation", "midwife__organisation")


def open_requests(organisation_id: int, *, region_id: int | None = None) -> list[PlacementRequest]:
    """Those waiting for an answer, the nearest deadline first (the stream's snapshot, the list's default)."""
    return list(requests_to(organisation_id, region_id=region_id).filter(state__in=OPEN).order_by("deadline", "pk"))


def request_of(token: ApiToken, request_id: int) -> PlacementRequest:
    """One request to this token's organisation: 403 for another token, 404 for an unknown id."""
    organisation_id = answering_organisation(token)
    request = (
        PlacementRequest.objects.select_related("location__organisation", "midwife__organisation")
        .filter(pk=request_id)
        .first()
    )
    if request is None:
        raise not_found(_("There is no placement request %(id)s.") % {"id": request_id})
    if request.location.organisation_id != organisation_id:
        raise forbidden(_("This token may only see the placement requests to its own organisation's locations."))
    return request


def _log(request: HttpRequest, token: ApiToken, object_id: object, rows: int) -> None:
    """A read of requests (they carry the midwife's number) in the access log, as the token's issuer."""
    audit.record(
        action=AccessLog.Action.VIEW,
        what="placement requests (API)",
        request=request,
        user=token.created_by,
        object_id=object_id,
        scope=audit.scope_of(organisation=token.organisation_id, rows=rows, token=token.pk),
    )


def _etag(placement: PlacementRequest) -> str:
    return f'"{placement.version}"'


def _expected_version(if_match: str | None, body_version: int | None) -> int:
    return expected_version(
        if_match, body_version, bad_header=_('If-Match must be the request version you last saw, e.g. If-Match: "2".')
    )


def _current(placement: PlacementRequest) -> dict[str, object]:
    return RequestOut.of(placement).model_dump(mode="json")


def _answer(
    request: HttpRequest,
    response: HttpResponse,
    request_id: int,
    to: str,
    *,
    if_match: str | None,
    body_version: int | None,
    reason: str = "",
) -> RequestOut:
    token = request_token(request)
    placement = request_of(token, request_id)
    version = _expected_version(if_match, body_version)
    try:
        moved = placement_transition(
            request_id=placement.pk, to=to, by=None, expected_version=version, reason=reason, api_token=token
        )
    except StalePlacement as stale:
        raise ApiProblem(
            409,
            "version-conflict",
            _("Version conflict"),
            _("The request was changed since the version you sent. Nothing was saved; the current state is included."),
            current=_current(stale.current),
        ) from stale
    except TransitionRefused as refused:
        # The service's own words: "Too late: the request expired at 03:12 ...", "already accepted".
        raise ApiProblem(
            409, "transition-refused", _("Not possible now"), refused.message, current=_current(refused.current)
        ) from refused
    except ValidationError as exc:
        raise ApiProblem(
            422,
            "invalid-input",
            _("Invalid input"),
            _("The answer was not saved: see errors."),
            errors=[
                {"in": "body", "pointer": f"/{field}", "detail": message}
                for field, messages in exc.message_dict.items()
                for message in messages
            ],
        ) from exc
    response["ETag"] = _etag(moved)
    return RequestOut.of(moved)


@router.get(
    "/requests/",
    response={200: RequestPage, **READ_ERRORS},
    summary="The placement requests to your organisation's locations",
    description=(
        "By default the open ones (sent or seen: waiting for an answer), the nearest deadline first; "
        "with state=... those in that state, newest first. Needs an answer-requests token."
    ),
)
def request_list(
    request: HttpRequest,
    state: StateFilter = "open",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> RequestPage:
    only_query(request, "state", "page", "page_size")
    token = request_token(request)
    qs = requests_to(answering_organisation(token))
    if state == "open":
        qs = qs.filter(state__in=OPEN).order_by("deadline", "pk")
    else:
        qs = qs.filter(state=state).order_by("-sent_at", "-pk")
    count = qs.count()
    start = (page - 1) * page_size
    rows = list(qs[start : start + page_size])
    _log(request, token, state, len(rows))
    return RequestPage(
        count=count,
        page=page,
        page_size=page_size,
        next_page=page + 1 if start + page_size < count else None,
        results=[RequestOut.of(r) for r in rows],
    )


@router.get(
    "/requests/{request_id}",
    response={200: RequestOut, **READ_ERRORS},
    summary="One placement request (ETag = version)",
)
def request_detail(request: HttpRequest, response: HttpResponse, request_id: Id) -> RequestOut:
    only_query(request)
    token = request_token(request)
    placement = request_of(token, request_id)
    _log(request, token, placement.pk, 1)
    response["ETag"] = _etag(placement)
    return RequestOut.of(placement)


@router.post(
    "/requests/{request_id}/seen",
    response={200: RequestOut, **WRITE_ERRORS},
    summary="Tell the midwife her request was seen",
)
def request_seen(
    request: HttpRequest,
    response: HttpResponse,
    request_id: Id,
    payload: AnswerIn | None = None,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> RequestOut:
    return _answer(
        request, response, request_id, State.SEEN, if_match=if_match, body_version=payload.version if payload else None
    )


@router.post(
    "/requests/{request_id}/accept",
    response={200: RequestOut, **WRITE_ERRORS},
    summary="Accept: the location takes her in",
    description="The ask's other open requests (parallel asking) are withdrawn. After the deadline: 409, expired.",
)
def request_accept(
    request: HttpRequest,
    response: HttpResponse,
    request_id: Id,
    payload: AnswerIn | None = None,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> RequestOut:
    return _answer(
        request,
        response,
        request_id,
        State.ACCEPTED,
        if_match=if_match,
        body_version=payload.version if payload else None,
    )


@router.post(
    "/requests/{request_id}/decline",
    response={200: RequestOut, **WRITE_ERRORS},
    summary="Decline, with the reason: registered as a refusal",
)
def request_decline(
    request: HttpRequest,
    response: HttpResponse,
    request_id: Id,
    payload: DeclineIn,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> RequestOut:
    return _answer(
        request,
        response,
        request_id,
        State.DECLINED,
        if_match=if_match,
        body_version=payload.version,
        reason=payload.reason,
    )


@router.post(
    "/requests/{request_id}/arrived",
    response={200: RequestOut, **WRITE_ERRORS},
    summary="Record that she arrived (an accepted request)",
)
def request_arrived(
    request: HttpRequest,
    response: HttpResponse,
    request_id: Id,
    payload: AnswerIn | None = None,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> RequestOut:
    return _answer(
        request,
        response,
        request_id,
        State.ARRIVED,
        if_match=if_match,
        body_version=payload.version if payload else None,
    )
