"""API endpoints for kraamzorg intake weeks: a planning system reads and keeps its organisation's grid.

A kraamzorg organisation's token reads its own twelve weeks; with the scope ``write-intake`` it
changes a week or confirms weeks unchanged. Writes go through the same services as the planner's
page (``kraamzorg.services``), with ``source = api`` and the token, so the validation, the version
check, the history and the signal on commit are the same (docs/api.md, "Kraamzorg intake weeks";
docs/kraamzorg.md, "The API"). Any other token (a hospital's, a region's) is refused with 403.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Header, Path, Router

from api.base import ApiProblem, Problem, expected_version, forbidden, not_found, only_query, request_token
from api.schemas import IntakeConfirmIn, IntakeConfirmResult, IntakeGridOut, IntakeIn, IntakeWeekOut
from capacity.models import ApiToken
from hospitals.models import Organisation
from kraamzorg.models import WEEKS_AHEAD, IntakeEvent, monday_of
from kraamzorg.selectors import GridWeek, grid, is_stale
from kraamzorg.services import IntakeVersionConflict, intake_confirm_unchanged, intake_week_set, weeks_ahead

router = Router(tags=["kraamzorg intake"])

Week = Annotated[date, Path(description="The week's Monday, YYYY-MM-DD (one of this week and the next eleven).")]
READ_ERRORS = {401: Problem, 403: Problem, 404: Problem, 422: Problem, 429: Problem}
WRITE_ERRORS = {**READ_ERRORS, 400: Problem, 409: Problem, 428: Problem}


def intake_organisation(token: ApiToken, *, write: bool) -> Organisation:
    """The kraamzorg organisation whose grid this token reads (or writes); 403 for any other token."""
    organisation = token.organisation
    if organisation is None or organisation.kind != Organisation.Kind.KRAAMZORG:
        raise forbidden(
            _("Intake weeks need a token of a kraamzorg organisation. Ask its organisation administrator for one.")
        )
    if write and not token.can_write_intake:
        raise forbidden(
            _(
                "This token may only read. Ask your organisation administrator for a token with the scope "
                "'read capacity and write intake weeks'."
            )
        )
    return organisation


def _in_grid(week: date, now: datetime) -> None:
    """404 in words for a week that is not one of the twelve."""
    weeks = weeks_ahead(now)
    if week in weeks:
        return
    if week.weekday() != 0:
        raise not_found(
            _("A week is named by its Monday: %(day)s is not a Monday; its week starts on %(monday)s.")
            % {"day": week.isoformat(), "monday": monday_of(week).isoformat()}
        )
    raise not_found(
        _("Week %(week)s is not one of the coming %(n)s weeks: from %(first)s to %(last)s.")
        % {"week": week.isoformat(), "n": WEEKS_AHEAD, "first": weeks[0].isoformat(), "last": weeks[-1].isoformat()}
    )


def _weeks(organisation_id: int, weeks: list[date], now: datetime) -> list[IntakeWeekOut]:
    """These weeks of the grid as stored now, in the grid's order."""
    return [IntakeWeekOut.of(w) for w in grid(organisation_id, now) if w.week in weeks]


def _etag(version: int) -> str:
    return f'"{version}"'


def _expected_version(if_match: str | None, body_version: int | None) -> int:
    return expected_version(
        if_match,
        body_version,
        bad_header=_('If-Match must be the week\'s version you last saw, e.g. If-Match: "3" ("0" for a new week).'),
    )


def _invalid_problem(errors: list[dict[str, str]]) -> ApiProblem:
    return ApiProblem(
        422, "invalid-intake", _("Invalid intake figures"), _("Nothing was saved: see errors."), errors=errors
    )


def _conflict(organisation_id: int, weeks: list[date], now: datetime) -> ApiProblem:
    return ApiProblem(
        409,
        "version-conflict",
        _("Version conflict"),
        _("The week was changed since the version you sent. Nothing was saved; the current state is included."),
        current=[w.model_dump(mode="json") for w in _weeks(organisation_id, weeks, now)],
    )


@router.get(
    "/intake/",
    response={200: IntakeGridOut, **READ_ERRORS},
    summary="Your kraamzorg organisation's twelve intake weeks",
    description=(
        "This week and the next eleven, each with its figures (null if never filled in), version and stale flag."
    ),
)
def intake_grid(request: HttpRequest) -> IntakeGridOut:
    only_query(request)
    organisation = intake_organisation(request_token(request), write=False)
    weeks = [IntakeWeekOut.of(w) for w in grid(organisation.pk)]
    return IntakeGridOut(
        organisation_id=organisation.pk,
        organisation=organisation.name,
        stale_weeks=sum(w.stale for w in weeks),
        weeks=weeks,
    )


# Before /intake/{week}: the path "confirm" is not a week.
@router.post(
    "/intake/confirm",
    response={200: IntakeConfirmResult, **WRITE_ERRORS},
    summary="Confirm intake weeks unchanged",
    description=(
        "Each week with the version you last saw. All or nothing: if one week changed meanwhile, nothing is "
        "confirmed (409 with the current state of the weeks you sent). A week never filled in has nothing to "
        "confirm: set its figures first."
    ),
)
def intake_confirm(request: HttpRequest, payload: IntakeConfirmIn) -> IntakeConfirmResult:
    token = request_token(request)
    organisation = intake_organisation(token, write=True)
    now = timezone.now()
    grid_weeks = weeks_ahead(now)
    errors: list[dict[str, str]] = []
    seen: set[date] = set()
    for i, item in enumerate(payload.weeks):
        if item.week not in grid_weeks:
            errors.append(
                {
                    "in": "body",
                    "pointer": f"/weeks/{i}/week",
                    "detail": _("Choose one of the coming %(n)s weeks, by its Monday (%(first)s to %(last)s).")
                    % {"n": WEEKS_AHEAD, "first": grid_weeks[0].isoformat(), "last": grid_weeks[-1].isoformat()},
                }
            )
        elif item.week in seen:
            errors.append({"in": "body", "pointer": f"/weeks/{i}/week", "detail": _("This week is listed twice.")})
        seen.add(item.week)
    if errors:
        raise _invalid_problem(errors)
    versions = {item.week: item.version for item in payload.weeks}
    try:
        rows = intake_confirm_unchanged(
            by=token.created_by,
            organisation_id=organisation.pk,
            versions=versions,
            source=IntakeEvent.Source.API,
            api_token=token,
            now=now,
        )
    except ValidationError as exc:
        raise _invalid_problem(
            [{"in": "body", "pointer": "/weeks", "detail": m} for ms in exc.message_dict.values() for m in ms]
        ) from exc
    except IntakeVersionConflict as conflict:
        raise _conflict(organisation.pk, list(versions), now) from conflict
    return IntakeConfirmResult(weeks=[IntakeWeekOut.of(GridWeek(week=r.week, row=r, stale=False)) for r in rows])


@router.get(
    "/intake/{week}",
    response={200: IntakeWeekOut, **READ_ERRORS},
    summary="One intake week (ETag = version)",
)
def intake_week_detail(request: HttpRequest, response: HttpResponse, week: Week) -> IntakeWeekOut:
    only_query(request)
    organisation = intake_organisation(request_token(request), write=False)
    now = timezone.now()
    _in_grid(week, now)
    [found] = _weeks(organisation.pk, [week], now)
    response["ETag"] = _etag(found.version)
    return found


@router.put(
    "/intake/{week}",
    response={200: IntakeWeekOut, **WRITE_ERRORS},
    summary="Set one intake week's figures",
    description=(
        "Send the week's full figures with the version you last saw (If-Match header or 'version'; 0 for a "
        "week never filled in). A stale version gets 409 with the week's current state; nothing is saved."
    ),
)
def intake_week_update(
    request: HttpRequest,
    response: HttpResponse,
    week: Week,
    payload: IntakeIn,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> IntakeWeekOut:
    token = request_token(request)
    organisation = intake_organisation(token, write=True)
    now = timezone.now()
    _in_grid(week, now)
    version = _expected_version(if_match, payload.version)
    try:
        row = intake_week_set(
            by=token.created_by,
            organisation_id=organisation.pk,
            week=week,
            change=payload.change(),
            expected_version=version,
            source=IntakeEvent.Source.API,
            api_token=token,
            retry_confirms=True,  # a retry after a lost answer confirms what got through
            now=now,
        )
    except ValidationError as exc:
        raise _invalid_problem(
            [
                {"in": "path" if field == "week" else "body", "pointer": f"/{field}", "detail": message}
                for field, messages in exc.message_dict.items()
                for message in messages
            ]
        ) from exc
    except IntakeVersionConflict as conflict:
        raise _conflict(organisation.pk, [week], now) from conflict
    response["ETag"] = _etag(row.version)
    return IntakeWeekOut.of(GridWeek(week=row.week, row=row, stale=is_stale(row, now)))
