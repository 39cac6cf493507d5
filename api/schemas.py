"""API shapes: regions, locations, a unit's state, a capacity change, history, placement requests,
kraamzorg intake weeks (docs/api.md)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Annotated, Literal, cast, get_args

from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from ninja import Field, Schema
from pydantic import AwareDatetime, ConfigDict, field_validator

from capacity.models import CapacityEvent, Unit
from capacity.selectors import LocationUnits
from capacity.services import MAX_BEDS, MAX_STOP_AHEAD, CapacityChange, UnitWrite
from hospitals.models import CareType
from kraamzorg.models import INDICATED_HOURS, MAX_FAMILIES, WEEKS_AHEAD, IntakeWeek
from kraamzorg.selectors import GridWeek
from kraamzorg.services import IntakeChange
from placements.models import PlacementRequest
from refusals.models import Refusal

# Database ids are 64-bit; a bigger number is "not found", never a database error.
MAX_ID = 2**63 - 1
UnitKind = Literal["delivery_suite", "birth_centre", "nicu", "high_care", "medium_care"]
Status = Literal["open", "limited", "stop"]
StopReason = Literal["beds", "staff", "other"]
Action = Literal["update", "confirm", "stale", "stop_overdue"]
Source = Literal["web", "api", "system", "admin"]
Version = Annotated[int, Field(ge=1, le=2**31 - 1)]
Beds = Annotated[int, Field(ge=0, le=MAX_BEDS)]
# The models store these as text with choices. The Literals above name exactly those choices,
# checked once here at import (not on every unit of every push): reading a stored value back
# as its Literal is then a fact, and a choice added without the Literal stops the API loading.
for _literal, _choices in (
    (UnitKind, Unit.Kind),
    (Status, Unit.Status),
    (StopReason, Unit.StopReason),
    (Action, CapacityEvent.Action),
    (Source, CapacityEvent.Source),
):
    if set(get_args(_literal)) != set(_choices.values):
        raise ImproperlyConfigured(f"api/schemas.py: {_literal} does not match {_choices.__qualname__}")


def plain_text(value: str) -> str:
    """Text the database can store: no NUL characters, no lone surrogates."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode text") from exc
    return value


class UnitOut(Schema):
    id: int
    location_id: int
    kind: UnitKind
    kind_label: str
    staffed_total: int = Field(description="Beds staffed now.")
    available: int = Field(description="Beds free now: vacant, staffed and usable.")
    status: Status
    stop_reason: StopReason | None
    stop_expected_end: datetime | None
    note: str
    colour: Literal["green", "orange", "red"] = Field(description="Board rule: green 2+, orange 1, red 0 or stop.")
    version: int = Field(description="Send it back as If-Match (or 'version') with a change.")
    updated_at: datetime
    confirmed_at: datetime = Field(description="When the figures were last set or confirmed unchanged.")
    stale: bool = Field(description="Not confirmed within the configured time (default 4 hours).")
    stale_since: datetime | None
    stop_overdue: bool = Field(description="A stop whose expected end has passed.")

    @staticmethod
    def of(unit: Unit, now: datetime | None = None) -> UnitOut:
        now = now or timezone.now()
        stale_since = unit.stale_since(now)
        return UnitOut(
            id=unit.pk,
            location_id=unit.location_id,
            kind=cast(UnitKind, unit.kind),
            kind_label=str(unit.get_kind_display()),
            staffed_total=unit.staffed_total,
            available=unit.available,
            status=cast(Status, unit.status),
            stop_reason=cast(StopReason, unit.stop_reason) or None,
            stop_expected_end=unit.stop_expected_end,
            note=unit.note,
            colour=unit.colour,
            version=unit.version,
            updated_at=unit.updated_at,
            confirmed_at=unit.confirmed_at,
            stale=stale_since is not None,
            stale_since=stale_since,
            stop_overdue=unit.is_stop_overdue(now),
        )


class RegionOut(Schema):
    id: int
    code: str
    name: str


class LocationOut(Schema):
    id: int
    slug: str
    name: str
    kind: str
    city: str
    region: str
    organisation_id: int
    organisation: str
    neonatal_level: int
    acute_obstetrics: bool
    latitude: float
    longitude: float
    phone: str = Field(description="The delivery suite's number as entered by the organisation; empty if none.")
    phone_e164: str = Field(description="The same number in E.164 form, for dialling; empty if none.")
    units: list[UnitOut]

    @staticmethod
    def of(row: LocationUnits) -> LocationOut:
        now = timezone.now()
        location = row.location
        return LocationOut(
            id=location.pk,
            slug=location.slug,
            name=location.name,
            kind=location.kind,
            city=location.city,
            region=location.region.code,
            organisation_id=location.organisation_id,
            organisation=location.organisation.name,
            neonatal_level=location.neonatal_level,
            acute_obstetrics=location.acute_obstetrics,
            latitude=location.latitude,
            longitude=location.longitude,
            phone=location.phone if location.phone_e164 else "",
            phone_e164=location.phone_e164,
            units=[UnitOut.of(u, now) for u in row.units],
        )


def location_event_frame(row: LocationUnits) -> str | None:
    """The API stream's JSON event for one pushed location row (api/stream.py); inactive ones are not listed."""
    if not row.location.active:
        return None
    return json.dumps({"type": "location", "location": LocationOut.of(row).model_dump(mode="json")})


# Input is taken as the schema says: no "5" for 5, no 0 for a date, no unknown fields
# (a misspelt "nte" must not be dropped silently).
STRICT = ConfigDict(strict=True, extra="forbid")


class CapacityIn(Schema):
    """A unit's figures as the hospital system knows them now (a full snapshot, never a delta)."""

    model_config = STRICT

    staffed_total: Beds
    available: Beds = Field(description="0 <= available <= staffed_total.")
    status: Status
    stop_reason: StopReason | None = Field(None, description="Required when status is 'stop'.")
    stop_expected_end: AwareDatetime | None = Field(
        None, description="Optional, with a time zone; in the future, at most a year ahead.", strict=False
    )
    note: str = Field("", max_length=200)

    @field_validator("note")
    @classmethod
    def _note(cls, value: str) -> str:
        return plain_text(value)

    @field_validator("stop_expected_end", mode="before")
    @classmethod
    def _end_is_text(cls, value: object) -> object:
        # Lax datetime parsing would take a number as a Unix time; the schema says a string.
        if value is not None and not isinstance(value, str):
            raise ValueError("must be a date-time string with a time zone")
        return value

    @field_validator("stop_expected_end")
    @classmethod
    def _end(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        try:
            utc = value.astimezone(UTC)
        except OverflowError as exc:
            raise ValueError("is out of range") from exc
        if utc > timezone.now() + MAX_STOP_AHEAD:
            raise ValueError("lies more than a year ahead")
        return utc

    def change(self) -> CapacityChange:
        return CapacityChange(
            staffed_total=self.staffed_total,
            available=self.available,
            status=self.status,
            stop_reason=self.stop_reason or "",
            stop_expected_end=self.stop_expected_end,
            note=self.note,
        )


class UnitUpdateIn(CapacityIn):
    version: Version | None = Field(None, description="The version you last saw; or send it as If-Match.")


class LocationUnitIn(CapacityIn):
    kind: UnitKind
    version: Version = Field(description="The version of this unit you last saw.")


class LocationUpdateIn(Schema):
    model_config = STRICT

    units: list[LocationUnitIn] = Field(min_length=1, max_length=len(Unit.Kind.values))


class WriteResult(Schema):
    result: Literal["updated", "confirmed"] = Field(
        description="'confirmed' when the figures were already current: only the confirmed time moved."
    )
    unit: UnitOut

    @staticmethod
    def of(written: UnitWrite) -> WriteResult:
        return WriteResult(result="updated" if written.updated else "confirmed", unit=UnitOut.of(written.unit))


class LocationWriteResult(Schema):
    units: list[WriteResult]


class ConfirmIn(Schema):
    model_config = STRICT

    version: Version | None = None


class HistoryEntry(Schema):
    at: datetime
    action: Action
    source: Source
    version: int
    before: dict[str, object]
    after: dict[str, object]
    api_token: str | None = Field(
        description="The name of the API token that made the change: shown to the unit's own organisation only."
    )

    @staticmethod
    def of(event: CapacityEvent, *, own_organisation: bool = False) -> HistoryEntry:
        return HistoryEntry(
            at=event.at,
            action=cast(Action, event.action),
            source=cast(Source, event.source),
            version=event.version,
            before=event.before,
            after=event.after,
            api_token=event.api_token.name if own_organisation and event.api_token is not None else None,
        )


class HistoryPage(Schema):
    count: int
    page: int
    page_size: int
    next_page: int | None
    results: list[HistoryEntry]


# --- placement requests (api/placements.py, docs/api.md "Placement requests") ------------------

RequestState = Literal["sent", "seen", "accepted", "declined", "expired", "withdrawn", "arrived"]
Urgency = Literal["immediate", "urgent", "planned"]
CareTypeCode = Literal["begeleiding", "overdracht"]
DeclineReason = Literal["no_delivery_room", "no_staff", "no_neonatal_bed", "admission_stop", "other"]
for _request_literal, _request_choices in (
    (RequestState, PlacementRequest.State),
    (Urgency, PlacementRequest.Urgency),
    (CareTypeCode, CareType),
    (DeclineReason, Refusal.Reason),
):
    if set(get_args(_request_literal)) != set(_request_choices.values):
        raise ImproperlyConfigured(f"api/schemas.py: {_request_literal} does not match {_request_choices.__qualname__}")


class RequestOut(Schema):
    """A placement request as the asked location's hospital system sees it: the care asked for, never the client."""

    id: int
    location_id: int
    state: RequestState
    version: int = Field(description="Send it back as If-Match (or 'version') with an answer.")
    urgency: Urgency
    care_type: CareTypeCode
    gestational_weeks: int | None = Field(description="Whole weeks (16-44); null for a term birth.")
    required_level: int = Field(description="Neonatal level required: 0 none, 1 medium care, 2 high care, 3 NICU.")
    expected_arrival: datetime
    sent_at: datetime
    deadline: datetime = Field(description="The answer is needed by then; after it the request expires.")
    answered_at: datetime | None
    decline_reason: DeclineReason | None
    callback_phone: str = Field(description="The midwife's own number (E.164), to call her back.")
    midwife_organisation: str | None = Field(description="The midwife's practice; never the midwife's name.")

    @staticmethod
    def of(request: PlacementRequest) -> RequestOut:
        """``request`` with ``midwife__organisation`` selected (placements' ``_with_people`` reads)."""
        organisation = request.midwife.organisation if request.midwife.organisation_id else None
        return RequestOut(
            id=request.pk,
            location_id=request.location_id,
            state=cast(RequestState, request.state),
            version=request.version,
            urgency=cast(Urgency, request.urgency),
            care_type=cast(CareTypeCode, request.care_type),
            gestational_weeks=request.gestational_weeks,
            required_level=request.required_level,
            expected_arrival=request.expected_arrival,
            sent_at=request.sent_at,
            deadline=request.deadline,
            answered_at=request.answered_at,
            decline_reason=cast(DeclineReason, request.decline_reason) or None,
            callback_phone=request.callback_phone,
            midwife_organisation=organisation.name if organisation is not None else None,
        )


class RequestPage(Schema):
    count: int
    page: int
    page_size: int
    next_page: int | None
    results: list[RequestOut]


class AnswerIn(Schema):
    model_config = STRICT

    version: Version | None = Field(None, description="The version you last saw; or send it as If-Match.")


class DeclineIn(AnswerIn):
    reason: DeclineReason = Field(description="Why you cannot take her in: it is registered as a refusal.")


def request_event_frame(request: PlacementRequest) -> str:
    """The API stream's event for one request (api/receivers.py): its full state, never a delta."""
    return json.dumps({"type": "request", "request": RequestOut.of(request).model_dump(mode="json")})


# --- kraamzorg intake weeks (api/intake.py, docs/api.md "Kraamzorg intake weeks") ----------------

IntakeStatus = Literal["open", "limited", "stop"]
IntakeHours = Literal["full", "minimum"]
IntakeReason = Literal["staff", "full", "area", "other"]
for _intake_literal, _intake_choices in (
    (IntakeStatus, IntakeWeek.Status),
    (IntakeHours, IntakeWeek.Hours),
    (IntakeReason, IntakeWeek.StopReason),
):
    if set(get_args(_intake_literal)) != set(_intake_choices.values):
        raise ImproperlyConfigured(f"api/schemas.py: {_intake_literal} does not match {_intake_choices.__qualname__}")
# 0 is the version of a week never filled in: send it to fill one in.
IntakeVersion = Annotated[int, Field(ge=0, le=2**31 - 1)]


class IntakeWeekOut(Schema):
    """One due week of the organisation's grid; the figures are null for a week never filled in."""

    week: date = Field(description="The Monday of the ISO week of the expected due dates (Dutch time).")
    iso_week: str = Field(description="The same week as ISO 8601, e.g. 2026-W50.")
    filled_in: bool
    families: int | None = Field(description="How many new families can be taken in.")
    hours: IntakeHours | None = Field(description="'full': the full indicated hours; 'minimum': only minimum_hours.")
    minimum_hours: int | None
    status: IntakeStatus | None
    reason: IntakeReason | None = Field(description="Why the intake is limited or stopped; null when open.")
    version: int = Field(description="Send it back as If-Match (or 'version') with a change; 0: never filled in.")
    updated_at: datetime | None
    confirmed_at: datetime | None = Field(description="When the figures were last set or confirmed unchanged.")
    stale: bool = Field(description="Never filled in, or not confirmed for more than 7 days.")

    @staticmethod
    def of(week: GridWeek) -> IntakeWeekOut:
        row = week.row
        return IntakeWeekOut(
            week=week.week,
            iso_week=f"{week.week:%G-W%V}",
            filled_in=row is not None,
            families=row.families if row else None,
            hours=cast(IntakeHours, row.hours) if row else None,
            minimum_hours=row.minimum_hours if row else None,
            status=cast(IntakeStatus, row.status) if row else None,
            reason=cast(IntakeReason, row.reason) or None if row else None,
            version=week.version,
            updated_at=row.updated_at if row else None,
            confirmed_at=row.confirmed_at if row else None,
            stale=week.stale,
        )


class IntakeGridOut(Schema):
    organisation_id: int
    organisation: str
    stale_weeks: int = Field(description="How many of the twelve weeks are stale.")
    weeks: list[IntakeWeekOut] = Field(description="This week and the next eleven, in order.")


class IntakeIn(Schema):
    """One week's figures as the planning system knows them now (the full state, never a delta)."""

    model_config = STRICT

    families: Annotated[int, Field(ge=0, le=MAX_FAMILIES)] = Field(description="0 with an intake stop.")
    hours: IntakeHours
    minimum_hours: Annotated[int, Field(ge=1, le=INDICATED_HOURS - 1)] | None = Field(
        None, description="Required with hours 'minimum'; dropped with 'full'."
    )
    status: IntakeStatus
    reason: IntakeReason | None = Field(None, description="Required when status is 'limited' or 'stop'.")
    version: IntakeVersion | None = Field(
        None, description="The version you last saw (0 for a week never filled in); or send it as If-Match."
    )

    def change(self) -> IntakeChange:
        return IntakeChange(
            families=self.families,
            hours=self.hours,
            status=self.status,
            minimum_hours=self.minimum_hours,
            reason=self.reason or "",
        )


class IntakeConfirmWeekIn(Schema):
    model_config = STRICT

    week: date = Field(description="The week's Monday, YYYY-MM-DD.", strict=False)
    version: Version = Field(description="The version of this week you last saw.")

    @field_validator("week", mode="before")
    @classmethod
    def _week_is_text(cls, value: object) -> object:
        # Lax date parsing would take a number as a Unix time; the schema says a string.
        if not isinstance(value, str):
            raise ValueError("must be a date string, YYYY-MM-DD")
        return value


class IntakeConfirmIn(Schema):
    model_config = STRICT

    weeks: list[IntakeConfirmWeekIn] = Field(min_length=1, max_length=WEEKS_AHEAD)


class IntakeConfirmResult(Schema):
    weeks: list[IntakeWeekOut] = Field(description="The weeks confirmed, with their new versions.")
