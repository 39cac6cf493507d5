"""Every route, decided: the resolver's URL patterns and the websocket routes against a role matrix.

Adding a view or a socket without deciding who may use it breaks this test (``test_every_route_is_in_the_matrix``);
each decision is then checked for every persona (docs/security.md, "Who may do what").

Conventions of the matrix:
- ``get`` / ``post``: the personas allowed that method; everyone else is refused. ``None``: the method is not
  served (405), so nothing to decide.
- Refused means: anonymous → sent to the login page (pages) or 401 (JSON/API); a signed-in persona → 403 or 404
  (404 where the object is someone else's: it does not exist for them).
- Allowed means: not refused (any of 200, 302 elsewhere, 400 for the empty test input, 409; 405 is NOT allowed).
- Not served (``None``): never a 2xx answer.
- ``token``: the API; sessions do not count, a request without a bearer token is 401 problem+json for everyone.
- ``admin``: Django admin; only ``is_staff`` accounts (here the national administrator) get past its login.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from channels.routing import URLRouter
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from capacity.models import BoardToken
from capacity.services import board_token_issue
from hospitals.models import User
from kraamzorg.models import Shortage
from kraamzorg.services import weeks_ahead
from placements.models import PlacementRequest
from placements.services import PlacementInput, placement_send
from refusals.models import Alert, Refusal
from tests.api_support import org_token
from tests.conftest import PASSWORD, World

pytestmark = pytest.mark.django_db

PERSONAS = ("anonymous", "no_role", "staff", "midwife", "coordinator", "org_admin", "national_admin", "planner")
EVERYONE = frozenset(PERSONAS)
SIGNED_IN = EVERYONE - {"anonymous"}
WITH_ROLE = SIGNED_IN - {"no_role"}
SEARCHERS = frozenset({"midwife", "coordinator", "org_admin", "national_admin"})
STATS = frozenset({"coordinator", "national_admin"})
TOKEN_ADMINS = frozenset({"org_admin", "coordinator", "national_admin"})
PHONE_ADMINS = frozenset({"org_admin", "national_admin"})


@dataclass
class Things:
    """Objects the parametrised paths point at, owned so that the allowed persona may use them."""

    world: World
    board_token: BoardToken
    board_raw: str
    refusal: Refusal
    alert: Alert
    api_token_id: int
    member: User
    placement: PlacementRequest
    shortage: Shortage


@dataclass(frozen=True)
class Route:
    path: Callable[[Things], str]
    get: frozenset[str] | None = None
    post: frozenset[str] | None = None
    auth: str = "session"  # "session", "public", "token", "admin"
    json: bool = False  # anonymous gets 401, not a login redirect
    extra: dict[str, str] = field(default_factory=dict)


def fixed(path: str) -> Callable[[Things], str]:
    return lambda _t: path


MATRIX: dict[str, Route] = {
    # public
    "health": Route(fixed("/health/"), get=EVERYONE, auth="public"),
    "login": Route(fixed("/accounts/login/"), get=EVERYONE, post=EVERYONE, auth="public"),
    "logout": Route(fixed("/accounts/logout/"), post=EVERYONE, auth="public"),
    "set_language": Route(fixed("/i18n/setlang/"), post=EVERYONE, auth="public"),
    "capacity:screen": Route(lambda t: f"/board/screen/{t.board_raw}/", get=EVERYONE, auth="public"),
    # every role
    "home": Route(fixed("/"), get=WITH_ROLE),
    "capacity:board_national": Route(fixed("/board/"), get=WITH_ROLE),
    "capacity:board_region": Route(lambda t: f"/board/region/{t.world.region.code}/", get=WITH_ROLE),
    "capacity:board_rows": Route(lambda t: f"/board/rows/{t.world.region.code}/", get=WITH_ROLE),
    "capacity:toggle_favourite": Route(lambda t: f"/favourites/{t.world.location.pk}/", post=WITH_ROLE),
    # hospital staff
    "capacity:my_units": Route(fixed("/units/"), get=frozenset({"staff"})),
    # the kraamzorg planner's intake weeks: planners of the organisation only
    "kraamzorg:plan": Route(fixed("/kraamzorg/plan/"), get=frozenset({"planner"})),
    "kraamzorg:confirm_all": Route(fixed("/kraamzorg/plan/confirm-all/"), post=frozenset({"planner"})),
    "kraamzorg:week_update": Route(
        lambda t: f"/kraamzorg/plan/{weeks_ahead()[0]:%Y-%m-%d}/", post=frozenset({"planner"})
    ),
    "capacity:units_confirm_all": Route(fixed("/units/confirm-all/"), post=frozenset({"staff"})),
    "capacity:unit_update": Route(lambda t: f"/units/{t.world.unit.pk}/", post=frozenset({"staff"})),
    "capacity:unit_confirm": Route(lambda t: f"/units/{t.world.unit.pk}/confirm/", post=frozenset({"staff"})),
    # wall-screen links
    "capacity:screens": Route(fixed("/screens/"), get=STATS, post=STATS),
    "capacity:screen_revoke": Route(lambda t: f"/screens/{t.board_token.pk}/revoke/", post=STATS),
    # search
    "search:search": Route(fixed("/search/"), get=SEARCHERS),
    "search:search_results": Route(fixed("/search/results/"), get=SEARCHERS),
    "search:search_json": Route(fixed("/search/results.json"), get=SEARCHERS, json=True),
    "search:search_places": Route(fixed("/search/places/?where=Utr"), get=SEARCHERS),
    "search:kraamzorg": Route(fixed("/search/kraamzorg/"), get=SEARCHERS),
    "search:kraamzorg_results": Route(fixed("/search/kraamzorg/results/"), get=SEARCHERS),
    "search:care_rules": Route(
        fixed("/search/rules/"), get=frozenset({"national_admin"}), post=frozenset({"national_admin"})
    ),
    # accounts, phones, tokens
    "hospitals:members": Route(
        fixed("/accounts/members/"), get=frozenset({"org_admin"}), post=frozenset({"org_admin"})
    ),
    "hospitals:member_toggle": Route(
        lambda t: f"/accounts/members/{t.member.pk}/active/", post=frozenset({"org_admin"})
    ),
    "hospitals:member_unlock": Route(
        lambda t: f"/accounts/members/{t.member.pk}/unlock/", post=frozenset({"org_admin", "national_admin"})
    ),
    "hospitals:locked_accounts": Route(fixed("/accounts/locked/"), get=frozenset({"org_admin", "national_admin"})),
    "hospitals:member_mfa_reset": Route(
        lambda t: f"/accounts/members/{t.member.pk}/second-factor/reset/",
        post=frozenset({"org_admin", "national_admin"}),
    ),
    "hospitals:access_log": Route(fixed("/accounts/access-log/"), get=frozenset({"national_admin"})),
    # the second factor: every signed-in account manages its own
    "hospitals:mfa_account": Route(fixed("/accounts/second-factor/"), get=SIGNED_IN),
    "hospitals:mfa_setup": Route(fixed("/accounts/second-factor/set-up/"), get=SIGNED_IN, post=SIGNED_IN),
    "hospitals:mfa_verify": Route(fixed("/accounts/second-factor/verify/"), get=SIGNED_IN, post=SIGNED_IN),
    "hospitals:mfa_recovery_codes": Route(
        fixed("/accounts/second-factor/recovery-codes/"), get=SIGNED_IN, post=SIGNED_IN
    ),
    "hospitals:mfa_new_recovery_codes": Route(fixed("/accounts/second-factor/recovery-codes/new/"), post=SIGNED_IN),
    # one's own alert e-mails: the roles that get them
    "hospitals:alert_emails": Route(fixed("/accounts/alert-emails/"), get=STATS, post=STATS),
    # Only a midwifery practice's administrator; the matrix's org_admin runs a hospital
    # (tests/test_views_practice_vsv.py has the practice's administrator).
    "hospitals:practice_vsv": Route(fixed("/accounts/vsv/"), get=frozenset(), post=frozenset()),
    "hospitals:phones": Route(fixed("/accounts/phones/"), get=PHONE_ADMINS),
    "hospitals:phone_edit": Route(
        lambda t: f"/accounts/phones/{t.world.location.pk}/", get=PHONE_ADMINS, post=PHONE_ADMINS
    ),
    "api:api_tokens": Route(fixed("/accounts/api-tokens/"), get=TOKEN_ADMINS, post=TOKEN_ADMINS),
    # An organisation's token: its administrator revokes it (national administrators manage region tokens).
    "api:api_token_revoke": Route(
        lambda t: f"/accounts/api-tokens/{t.api_token_id}/revoke/", post=frozenset({"org_admin"})
    ),
    # refusals (midwives, their own) and statistics (coordinators of the region, national administrators)
    "refusals:mine": Route(fixed("/refusals/"), get=frozenset({"midwife"})),
    "refusals:register": Route(fixed("/refusals/new/"), get=frozenset({"midwife"}), post=frozenset({"midwife"})),
    "refusals:correct": Route(
        lambda t: f"/refusals/{t.refusal.pk}/", get=frozenset({"midwife"}), post=frozenset({"midwife"})
    ),
    "refusals:withdraw": Route(
        lambda t: f"/refusals/{t.refusal.pk}/withdraw/", get=frozenset({"midwife"}), post=frozenset({"midwife"})
    ),
    # kraamzorg shortages: midwives and planners register and withdraw their own
    "kraamzorg:shortages": Route(fixed("/kraamzorg/shortages/"), get=frozenset({"midwife", "planner"})),
    "kraamzorg:shortage_register": Route(
        fixed("/kraamzorg/shortages/new/"),
        get=frozenset({"midwife", "planner"}),
        post=frozenset({"midwife", "planner"}),
    ),
    "kraamzorg:shortage_withdraw": Route(
        lambda t: f"/kraamzorg/shortages/{t.shortage.pk}/withdraw/",
        get=frozenset({"midwife"}),
        post=frozenset({"midwife"}),
    ),
    # placement requests: midwives send and follow their own; staff of the location answer
    "placements:mine": Route(fixed("/requests/"), get=frozenset({"midwife"})),
    "placements:new": Route(
        lambda t: f"/requests/new/?location={t.world.location.pk}",
        get=frozenset({"midwife"}),
        post=frozenset({"midwife"}),
    ),
    "placements:ask": Route(lambda t: f"/requests/{t.placement.ask}/", get=frozenset({"midwife"})),
    "placements:ask_panel": Route(lambda t: f"/requests/{t.placement.ask}/panel/", get=frozenset({"midwife"})),
    "placements:ask_next": Route(lambda t: f"/requests/{t.placement.ask}/next/", post=frozenset({"midwife"})),
    "placements:withdraw": Route(lambda t: f"/requests/{t.placement.pk}/withdraw/", post=frozenset({"midwife"})),
    "placements:arrived": Route(lambda t: f"/requests/{t.placement.pk}/arrived/", post=frozenset({"midwife", "staff"})),
    "placements:seen": Route(lambda t: f"/requests/{t.placement.pk}/seen/", post=frozenset({"staff"})),
    "placements:accept": Route(lambda t: f"/requests/{t.placement.pk}/accept/", post=frozenset({"staff"})),
    "placements:decline": Route(lambda t: f"/requests/{t.placement.pk}/decline/", post=frozenset({"staff"})),
    "placements:desk": Route(fixed("/requests/desk/"), get=frozenset({"staff"})),
    "placements:desk_panel": Route(fixed("/requests/desk/panel/"), get=frozenset({"staff"})),
    "placement_stats:region": Route(lambda t: f"/statistics/{t.world.region.code}/requests/", get=STATS),
    "refusals:statistics": Route(fixed("/statistics/"), get=STATS),
    "refusals:statistics_region": Route(lambda t: f"/statistics/{t.world.region.code}/", get=STATS),
    "refusals:quarterly_report": Route(lambda t: f"/statistics/{t.world.region.code}/report/", get=STATS),
    "refusals:benchmark": Route(fixed("/statistics/benchmark/"), get=STATS),
    "refusals:outcomes": Route(lambda t: f"/statistics/{t.world.region.code}/outcomes/", get=STATS),
    # the region's kraamzorg view (its files: test_the_kraamzorg_files_admit_exactly_the_statistics_roles)
    "refusals:kraamzorg": Route(lambda t: f"/statistics/{t.world.region.code}/kraamzorg/", get=STATS),
    "refusals:alert_acknowledge": Route(lambda t: f"/alerts/{t.alert.pk}/acknowledge/", post=STATS),
    # the API: bearer tokens only (scopes: tests/test_api_*.py)
    "api_events": Route(lambda t: f"/api/v1/events/?region={t.world.region.code}", get=frozenset(), auth="token"),
    "api-v1:openapi-json": Route(fixed("/api/v1/openapi.json"), get=WITH_ROLE, json=True),
    "api-v1:openapi-view": Route(fixed("/api/v1/docs"), get=WITH_ROLE),
    # Prometheus: METRICS_TOKEN only, never a session (tests/test_metrics.py)
    "metrics": Route(fixed("/metrics"), get=frozenset(), auth="token"),
}
API_ROUTES = {
    # Every other API operation: 401 without a token, whoever is signed in.
    "api-v1:api-root": "/api/v1/",
    "api-v1:regions": "/api/v1/regions",
    "api-v1:locations": "/api/v1/locations",
    "api-v1:location_detail": "/api/v1/locations/{location}",
    "api-v1:unit_detail": "/api/v1/units/{unit}",
    "api-v1:unit_update": "/api/v1/units/{unit}",
    "api-v1:unit_confirm": "/api/v1/units/{unit}/confirm",
    "api-v1:location_update": "/api/v1/locations/{location}/units",
    "api-v1:unit_history": "/api/v1/units/{unit}/history",
    "api-v1:refusal_statistics": "/api/v1/regions/{region}/refusal-statistics",
    "api-v1:search": "/api/v1/search?origin=3584&care=overdracht",
    "api-v1:fhir_export": "/api/v1/exports/fhir",
    "api-v1:edxl_export": "/api/v1/exports/edxl-have",
    "api-v1:request_list": "/api/v1/requests/",
    "api-v1:request_detail": "/api/v1/requests/{placement}",
    "api-v1:request_seen": "/api/v1/requests/{placement}/seen",
    "api-v1:request_accept": "/api/v1/requests/{placement}/accept",
    "api-v1:request_decline": "/api/v1/requests/{placement}/decline",
    "api-v1:request_arrived": "/api/v1/requests/{placement}/arrived",
    "api-v1:fhir_request_export": "/api/v1/exports/fhir/requests/{placement}",
    # kraamzorg intake weeks (any Monday: without a token the week is never looked at)
    "api-v1:intake_grid": "/api/v1/intake/",
    "api-v1:intake_confirm": "/api/v1/intake/confirm",
    "api-v1:intake_week_detail": "/api/v1/intake/2026-12-07",
    "api-v1:intake_week_update": "/api/v1/intake/2026-12-07",
}
# Websocket routes (config/asgi.py): who may keep a socket open.
SOCKETS: dict[str, frozenset[str]] = {
    "ws/board/screen/<str:token>/": EVERYONE,  # the link is the credential
    "ws/board/<slug:scope>/": WITH_ROLE,
    "ws/search/": SEARCHERS,
    "ws/search/kraamzorg/": SEARCHERS,
    "ws/statistics/<slug:region_code>/": STATS,
    "ws/alerts/": STATS,
    "ws/kraamzorg/plan/": frozenset({"planner"}),  # their own organisation's grid only
    "ws/statistics/<slug:region_code>/kraamzorg/": STATS,
    "ws/requests/desk/": frozenset({"staff"}),
    "ws/requests/mine/": frozenset({"midwife"}),
    "/api/v1/stream/": frozenset(),  # bearer token only: tests/test_api_stream.py
}


def walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace + (f"{pattern.namespace}:" if pattern.namespace else "")
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), namespace + (pattern.name or "")


def http_routes() -> list[tuple[str, str]]:
    return list(walk(get_resolver().url_patterns))


def websocket_routes() -> list[str]:
    from capacity.routing import websocket_urlpatterns as board
    from placements.routing import websocket_urlpatterns as placements
    from refusals.routing import websocket_urlpatterns as refusals
    from search.routing import websocket_urlpatterns as search

    URLRouter(board + search + refusals + placements)  # the same list config/asgi.py routes
    return [str(p.pattern) for p in board + search + refusals + placements] + ["/api/v1/stream/"]


def test_every_route_is_in_the_matrix() -> None:
    undecided = [
        f"{path} ({name or 'unnamed'})"
        for path, name in http_routes()
        if not path.startswith("admin/") and name not in MATRIX and name not in API_ROUTES
    ]
    assert undecided == [], "decide who may use these routes in tests/test_security_role_matrix.py"
    assert sorted(set(websocket_routes()) - set(SOCKETS)) == []
    stale = sorted(set(MATRIX) | set(API_ROUTES) - {name for _p, name in http_routes()})
    assert [name for name in stale if name not in {n for _p, n in http_routes()}] == []


@pytest.fixture
def things(world: World) -> Things:
    board, raw = board_token_issue(label="Verloskamer", region_id=world.region.pk, by=world.coordinator)
    refusal = Refusal.objects.create(
        location=world.location,
        region=world.region,
        care_type="overdracht",
        reason="no_delivery_room",
        outcome="home",
        registered_by=world.midwife,
    )
    alert = Alert.objects.create(
        kind=Alert.Kind.LOCATION_SPIKE,
        key=f"spike:location:{world.location.pk}",
        region=world.region,
        location=world.location,
        count=3,
        detail={"refusals": [], "threshold": 3, "window_hours": 6},
    )
    org_token(world.hospital, world.org_admin)
    from capacity.models import ApiToken

    api_token_id = ApiToken.objects.get(organisation=world.hospital).pk
    member = User.objects.create_user(
        username="member", password=PASSWORD, role=User.Role.HOSPITAL_STAFF, organisation=world.hospital
    )
    placement = placement_send(
        by=world.midwife,
        data=PlacementInput(
            location_id=world.location.pk,
            care_type="overdracht",
            urgency="urgent",
            expected_arrival=timezone.now() + timedelta(minutes=30),
            callback_phone="06 1234 5678",
        ),
    )
    shortage = Shortage.objects.create(
        region=world.region, pc4="3584", municipality="Utrecht", due_week=weeks_ahead()[2], indicated_hours=49,
        promised_hours=24, reason="staff", registered_by=world.midwife, registered_for=world.practice,
    )  # fmt: skip
    return Things(world, board, raw, refusal, alert, api_token_id, member, placement, shortage)


@pytest.fixture
def things_async(things: Things) -> Things:
    """The same objects for the socket test (committed: it runs with a transactional database)."""
    return things


def client_as(world: World, persona: str) -> Client:
    client = Client()
    client.cookies["django_language"] = "en"
    if persona != "anonymous":
        client.force_login(world.personas()[persona])
    return client


def refused(response: Any, persona: str, route: Route) -> bool:
    if persona == "anonymous" and route.auth == "session":
        if route.json:
            return response.status_code == 401
        return response.status_code == 302 and "/accounts/login/" in response["Location"]
    return response.status_code in (401, 403, 404)


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_each_route_admits_exactly_the_personas_it_names(name: str, things: Things) -> None:
    route = MATRIX[name]
    wrong: list[str] = []
    for method, allowed in (("GET", route.get), ("POST", route.post)):
        for persona in PERSONAS:
            client = client_as(things.world, persona)
            path = route.path(things)
            response = client.get(path) if method == "GET" else client.post(path, {})
            if allowed is None:
                # Not served: never a 2xx (405, a refusal, 415 for a body the API does not take, or a
                # redirect that changes nothing, as set_language's GET).
                if 200 <= response.status_code < 300:
                    wrong.append(f"{method} {persona}: {response.status_code} (should not be served)")
                continue
            if route.auth == "token":
                if response.status_code != 401:
                    wrong.append(f"{method} {persona}: {response.status_code} without a token")
                continue
            is_refused = refused(response, persona, route)
            if persona in allowed and (is_refused or response.status_code == 405):
                wrong.append(f"{method} {persona}: refused with {response.status_code}")
            if persona not in allowed and not is_refused:
                wrong.append(f"{method} {persona}: admitted with {response.status_code}")
    assert wrong == [], f"{name}: {wrong}"


@pytest.mark.parametrize("name", sorted(API_ROUTES))
def test_every_api_route_needs_a_token_whoever_is_signed_in(name: str, things: Things) -> None:
    world = things.world
    path = API_ROUTES[name].format(
        location=world.location.pk, unit=world.unit.pk, region=world.region.code, placement=things.placement.pk
    )
    for persona in ("anonymous", "national_admin", "midwife", "staff"):
        client = client_as(world, persona)
        sent = (
            client.get(path),
            client.put(path, "{}", content_type="application/json"),
            client.post(path, '{"version": 1}', content_type="application/json"),
        )
        for response in sent:
            assert response.status_code in (401, 404, 405), (name, persona, response.status_code)
            if response.status_code == 401:
                assert response["Content-Type"] == "application/problem+json"
    things.placement.refresh_from_db()
    assert (things.placement.state, things.placement.version) == ("sent", 1), "a session answered a request"


def test_the_django_admin_is_for_staff_accounts_only(things: Things) -> None:
    world = things.world
    concrete = []
    for path, _name in http_routes():
        if not path.startswith("admin/"):
            continue
        url = "/" + path.replace("<path:object_id>", "1").replace("<int:object_id>", "1")
        url = url.replace("<id>", "1").replace("<path:content_type_id>", "1")
        if "<" in url or "(?P" in url or url.endswith("$") or "^" in url:
            continue
        concrete.append(url)
    assert len(concrete) > 50
    for persona in ("anonymous", "no_role", "midwife", "coordinator", "org_admin"):
        client = client_as(world, persona)
        for url in concrete:
            if url in ("/admin/login/", "/admin/logout/"):
                continue
            response = client.get(url)
            assert response.status_code in (302, 404), (persona, url, response.status_code)
            if response.status_code == 302:
                assert "/admin/login/" in response["Location"] or "/accounts/login/" in response["Location"], (
                    persona,
                    url,
                )
    admin = client_as(world, "national_admin")
    assert admin.get("/admin/").status_code == 200


SOCKET_PATHS: dict[str, Callable[[Things], str]] = {
    "ws/board/screen/<str:token>/": lambda t: f"/ws/board/screen/{t.board_raw}/",
    "ws/board/<slug:scope>/": lambda t: f"/ws/board/{t.world.region.code}/",
    "ws/search/": lambda t: f"/ws/search/?locations={t.world.location.pk}",
    "ws/search/kraamzorg/": lambda t: (
        f"/ws/search/kraamzorg/?organisations={t.world.kraamzorg.pk}&week={weeks_ahead()[0]}"
    ),
    "ws/statistics/<slug:region_code>/": lambda t: f"/ws/statistics/{t.world.region.code}/",
    "ws/alerts/": lambda _t: "/ws/alerts/",
    "ws/kraamzorg/plan/": lambda _t: "/ws/kraamzorg/plan/",
    "ws/statistics/<slug:region_code>/kraamzorg/": lambda t: f"/ws/statistics/{t.world.region.code}/kraamzorg/",
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", sorted(SOCKET_PATHS))
async def test_each_socket_admits_exactly_the_personas_it_names(route: str, things_async: Things) -> None:
    """Allowed: the socket is accepted and stays open. Refused: accepted, then closed 4401 (anonymous) or 4403."""
    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator

    from config.asgi import application

    world = things_async.world
    wrong = []
    for persona in PERSONAS:
        headers = [(b"origin", b"http://testserver")]
        if persona != "anonymous":
            user = world.personas()[persona]

            def cookie(user: User = user) -> bytes:
                client = Client()
                client.force_login(user)
                return f"sessionid={client.cookies['sessionid'].value}".encode()

            headers.append((b"cookie", await database_sync_to_async(cookie)()))
        comm = WebsocketCommunicator(application, SOCKET_PATHS[route](things_async), headers=headers)
        connected, _ = await comm.connect(timeout=5)
        if not connected:
            wrong.append(f"{persona}: refused at the handshake (browsers see 1006)")
            continue
        try:
            message = await comm.receive_output(timeout=1)
        except TimeoutError:  # quiet and still open (the test communicator has stopped the app)
            message = {"type": "open"}
        closed = message["type"] == "websocket.close"
        if persona in SOCKETS[route]:
            if closed:
                wrong.append(f"{persona}: closed with {message.get('code')}")
        else:
            expected = 4401 if persona == "anonymous" else 4403
            if not closed or message.get("code") != expected:
                wrong.append(f"{persona}: {message.get('type')} {message.get('code')} (expected close {expected})")
        if message["type"] != "open":
            await comm.disconnect()
    assert wrong == [], f"{route}: {wrong}"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_kraamzorg_files_admit_exactly_the_statistics_roles(fmt: str, things: Things) -> None:
    """The region's kraamzorg exports (the page with ?format=): the page's roles, every other persona refused."""
    route = MATRIX["refusals:kraamzorg"]
    wrong: list[str] = []
    for persona in PERSONAS:
        response = client_as(things.world, persona).get(f"{route.path(things)}?format={fmt}")
        is_refused = refused(response, persona, route)
        if persona in STATS and (is_refused or response.status_code != 200):
            wrong.append(f"{persona}: {response.status_code}")
        if persona not in STATS and not is_refused:
            wrong.append(f"{persona}: admitted with {response.status_code}")
        if persona in STATS and response.status_code == 200:
            assert response["Content-Disposition"].endswith(f'.{fmt}"')
    assert wrong == []
