"""Reads for the placement screens: a location's desk, a midwife's asks, the next place to ask."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from capacity.selectors import board_location
from hospitals.models import Location, User
from hospitals.permissions import is_hospital_staff
from placements.models import PlacementRequest
from refusals.models import Refusal
from search.selectors import LocationResult, OriginError, parse_origin, practice_origin, search_capacity

State = PlacementRequest.State
OPEN = (State.SENT, State.SEEN)
# How long a closed request stays on the desk and in the midwife's list, greyed; an accepted one
# stays until she arrives or it is this old.
RECENT = timedelta(hours=2)


def _with_people(qs: QuerySet[PlacementRequest]) -> QuerySet[PlacementRequest]:
    return qs.select_related("location", "location__region", "midwife", "midwife__organisation")


@dataclass
class Desk:
    """One location's requests as its staff see them: waiting (nearest deadline first), accepted, closed."""

    location: Location
    waiting: list[PlacementRequest] = field(default_factory=list)
    accepted: list[PlacementRequest] = field(default_factory=list)
    closed: list[PlacementRequest] = field(default_factory=list)
    # The decline buttons: a refusal's reasons, so that a decline is counted as one.
    reasons: list[tuple[str, object]] = field(default_factory=lambda: list(Refusal.Reason.choices))


def desk_location_ids(user: User) -> list[int]:
    """The locations whose requests a member of staff answers: their own."""
    if not is_hospital_staff(user):
        return []
    return sorted(user.locations.filter(active=True).values_list("pk", flat=True))


def desks(location_ids: Iterable[int], *, now: datetime | None = None) -> list[Desk]:
    now = now or timezone.now()
    ids = sorted(set(location_ids))
    by_location = {loc.pk: Desk(loc) for loc in Location.objects.filter(pk__in=ids).order_by("name")}
    shown = Q(state__in=OPEN) | Q(sent_at__gte=now - RECENT)
    for request in _with_people(PlacementRequest.objects.filter(shown, location_id__in=ids)).order_by("deadline", "pk"):
        desk = by_location[request.location_id]
        if request.state in OPEN:
            desk.waiting.append(request)
        elif request.state == State.ACCEPTED:
            desk.accepted.append(request)
        else:
            desk.closed.append(request)
    return list(by_location.values())


def desk(location_id: int, *, now: datetime | None = None) -> Desk:
    return desks([location_id], now=now)[0]


@dataclass
class Ask:
    """One client's search for a place: the requests sent for her, and what to do next."""

    ask: uuid.UUID
    requests: list[PlacementRequest]
    next_location: LocationResult | None = None

    @property
    def ask_str(self) -> str:
        return str(self.ask)

    @property
    def first(self) -> PlacementRequest:
        return self.requests[0]

    @property
    def placed(self) -> PlacementRequest | None:
        """The request that took her in (accepted or arrived), if any."""
        return next((r for r in self.requests if r.state in (State.ACCEPTED, State.ARRIVED)), None)

    @property
    def waiting(self) -> list[PlacementRequest]:
        return [r for r in self.requests if r.state in OPEN]

    @property
    def needs_place(self) -> bool:
        """Every location asked said no or did not answer: she still needs a place."""
        return (
            self.placed is None
            and not self.waiting
            and any(r.state in (State.DECLINED, State.EXPIRED) for r in self.requests)
        )


def ask_of(ask: uuid.UUID, midwife: User, *, with_next: bool = True) -> Ask | None:
    requests = list(_with_people(PlacementRequest.objects.filter(ask=ask, midwife=midwife)).order_by("sent_at", "pk"))
    if not requests:
        return None
    result = Ask(ask, requests)
    if with_next and result.needs_place:
        result.next_location = next_location(result)
    return result


def asks_of(midwife: User, *, now: datetime | None = None, limit: int = 20) -> list[Ask]:
    """Her recent asks, the newest first: every ask with a request still open or sent in the last hours."""
    now = now or timezone.now()
    recent = PlacementRequest.objects.filter(midwife=midwife).filter(
        Q(state__in=(*OPEN, State.ACCEPTED)) | Q(sent_at__gte=now - RECENT)
    )
    keys = list(dict.fromkeys(recent.order_by("-sent_at", "-pk").values_list("ask", flat=True)))[:limit]
    found = [ask_of(key, midwife) for key in keys]
    return [a for a in found if a is not None]


def next_location(ask: Ask) -> LocationResult | None:
    """The next place to ask for her, from the same ranking as the search (the search run again now,
    from where she searched): the first location not asked yet, and not in an admission stop."""
    first = ask.first
    origin = None
    if first.search_origin:
        try:
            origin = parse_origin(first.search_origin)
        except OriginError:
            origin = None
    origin = origin or practice_origin(first.midwife)
    if origin is None:
        return None
    asked = {r.location_id for r in ask.requests}
    result = search_capacity(origin=origin, care=first.care_type, gestational_weeks=first.gestational_weeks)
    return next((r for r in result.results if r.location.pk not in asked and not r.in_stop), None)


def beds_to_lower(request: PlacementRequest) -> list[object]:
    """After an acceptance: the location's obstetric units with a free bed, for the one-tap prompt."""
    row = board_location(request.location_id)
    if row is None:
        return []
    return [u for u in row.units if u.is_obstetric_at(row.location) and u.available > 0 and u.status != "stop"]
