"""The kraamzorg intake API: a planning system reads its grid and writes weeks through the services."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from api.services import api_token_revoke
from capacity.models import ApiToken
from hospitals.models import User
from kraamzorg.models import IntakeEvent, IntakeWeek
from kraamzorg.services import IntakeChange, intake_week_set, weeks_ahead
from kraamzorg.signals import intake_changed
from tests.api_support import Api, org_token, region_token
from tests.conftest import Kraamzorg, World

pytestmark = pytest.mark.django_db

OPEN = {"families": 4, "hours": "full", "status": "open"}


@pytest.fixture
def kz_admin(world: World) -> User:
    return User.objects.create_user(
        username="kz_admin", role=User.Role.ORG_ADMIN, organisation=world.kraamzorg, email="kz_admin@example.org"
    )


@pytest.fixture
def writer(world: World, kz_admin: User) -> Api:
    return Api(org_token(world.kraamzorg, kz_admin, scope=ApiToken.Scope.WRITE_INTAKE))


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert body["type"].startswith(f"{settings.PUBLIC_BASE_URL}/problems/")
    return body


def _pointers(problem: dict[str, Any]) -> list[str]:
    return [e["pointer"] for e in problem["errors"]]


def _planner_sets(kz: Kraamzorg, week: date, version: int = 0, **figures: Any) -> IntakeWeek:
    change = IntakeChange(**{**OPEN, **figures})
    return intake_week_set(
        by=kz.planner, organisation_id=kz.organisation.pk, week=week, change=change, expected_version=version
    )


# --- reads ----------------------------------------------------------------------------


def test_the_grid_is_twelve_weeks_with_versions_and_stale_flags(world: World, kz: Kraamzorg, writer: Api) -> None:
    weeks = weeks_ahead()
    _planner_sets(kz, weeks[1], families=7)
    IntakeWeek.objects.filter(week=weeks[1]).update(confirmed_at=timezone.now() - timedelta(days=8))
    _planner_sets(kz, weeks[2], families=2, hours="minimum", minimum_hours=24, status="limited", reason="staff")
    body = writer.get("/intake/").json()
    assert (body["organisation_id"], body["organisation"]) == (world.kraamzorg.pk, "Kraamzorg Synthetisch Utrecht")
    assert [w["week"] for w in body["weeks"]] == [w.isoformat() for w in weeks]
    assert body["stale_weeks"] == 11  # ten never filled in, one not confirmed for eight days
    never, old, fresh = body["weeks"][0], body["weeks"][1], body["weeks"][2]
    assert (never["filled_in"], never["version"], never["families"], never["stale"], never["updated_at"]) == (
        False,
        0,
        None,
        True,
        None,
    )
    assert (old["families"], old["version"], old["stale"]) == (7, 1, True)
    assert {k: fresh[k] for k in ("families", "hours", "minimum_hours", "status", "reason", "stale")} == {
        "families": 2,
        "hours": "minimum",
        "minimum_hours": 24,
        "status": "limited",
        "reason": "staff",
        "stale": False,
    }
    assert fresh["iso_week"] == f"{weeks[2]:%G-W%V}" and fresh["updated_at"] and fresh["confirmed_at"]


def test_one_week_with_its_version_as_etag(kz: Kraamzorg, writer: Api) -> None:
    week = weeks_ahead()[4]
    response = writer.get(f"/intake/{week.isoformat()}")
    assert response.status_code == 200 and response["ETag"] == '"0"' and response.json()["filled_in"] is False
    _planner_sets(kz, week)
    response = writer.get(f"/intake/{week.isoformat()}")
    assert response["ETag"] == '"1"' and response.json()["families"] == 4


# --- writes -----------------------------------------------------------------------------


def test_a_new_week_is_filled_in_with_history_attributed_to_the_token(
    world: World, kz_admin: User, writer: Api, django_capture_on_commit_callbacks
) -> None:
    week = weeks_ahead()[2]
    told: list[dict[str, Any]] = []

    def on_change(sender: object, **kwargs: Any) -> None:
        told.append(kwargs)

    intake_changed.connect(on_change, weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = writer.put(f"/intake/{week.isoformat()}", OPEN, **{"If-Match": '"0"'})
    finally:
        intake_changed.disconnect(on_change)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["families"], body["version"], body["filled_in"], body["stale"]) == (4, 1, True, False)
    assert response["ETag"] == '"1"'
    [event] = IntakeEvent.objects.all()
    assert (event.action, event.source, event.by, event.version, event.before) == ("update", "api", kz_admin, 1, None)
    assert event.week.organisation == world.kraamzorg and event.after["families"] == 4
    assert told == [{"signal": intake_changed, "organisation_id": world.kraamzorg.pk, "weeks": [week]}]
    token = ApiToken.objects.get()
    assert event.api_token == token  # which planning system made the change
    assert token.last_used_at is not None


def test_a_change_with_the_version_in_the_body(kz: Kraamzorg, writer: Api) -> None:
    week = weeks_ahead()[0]
    _planner_sets(kz, week)
    stop = {"families": 0, "hours": "full", "status": "stop", "reason": "full", "version": 1}
    response = writer.put(f"/intake/{week.isoformat()}", stop)
    assert response.status_code == 200, response.content
    row = IntakeWeek.objects.get(week=week)
    assert (row.status, row.reason, row.families, row.version) == ("stop", "full", 0, 2)
    assert list(row.events.values_list("source", flat=True)) == ["web", "api"]
    assert list(row.events.filter(source="api").values_list("before__status", flat=True)) == ["open"]


def test_a_stale_version_is_409_with_the_current_week_and_saves_nothing(kz: Kraamzorg, writer: Api) -> None:
    week = weeks_ahead()[3]
    _planner_sets(kz, week, families=9)  # the planner filled it in on the page meanwhile
    problem = _problem(writer.put(f"/intake/{week.isoformat()}", {**OPEN, "version": 0}), 409)
    [current] = problem["current"]
    assert (current["week"], current["version"], current["families"]) == (week.isoformat(), 1, 9)
    row = IntakeWeek.objects.get(week=week)
    assert (row.families, row.version, row.events.count()) == (9, 1, 1)
    # With the version from `current` it goes through.
    assert writer.put(f"/intake/{week.isoformat()}", {**OPEN, "version": current["version"]}).status_code == 200


def test_a_retry_after_a_lost_answer_confirms_instead_of_409(kz: Kraamzorg, writer: Api) -> None:
    week = weeks_ahead()[4]
    first = writer.put(f"/intake/{week.isoformat()}", {**OPEN, "version": 0})
    assert first.status_code == 200  # ... and the answer was lost on the way: the system sends it again
    again = writer.put(f"/intake/{week.isoformat()}", {**OPEN, "version": 0})
    assert again.status_code == 200, again.content
    assert again.json()["version"] == 2
    row = IntakeWeek.objects.get(week=week)
    assert list(row.events.values_list("action", "source")) == [("update", "api"), ("confirm", "api")]
    # Other figures on a stale version are someone else's change: 409, nothing written.
    _problem(writer.put(f"/intake/{week.isoformat()}", {**OPEN, "families": 1, "version": 0}), 409)
    assert row.events.count() == 2


def test_no_version_is_428_and_a_bad_if_match_400(writer: Api) -> None:
    week = weeks_ahead()[0].isoformat()
    _problem(writer.put(f"/intake/{week}", OPEN), 428)
    _problem(writer.put(f"/intake/{week}", OPEN, **{"If-Match": "abc"}), 400)
    _problem(writer.put(f"/intake/{week}", {**OPEN, "version": 1}, **{"If-Match": '"0"'}), 400)
    assert not IntakeEvent.objects.exists()


@pytest.mark.parametrize(
    ("body", "pointer", "words"),
    [
        ({"families": 2, "hours": "minimum", "status": "open"}, "/minimum_hours", "minimum hours"),
        ({"families": 2, "hours": "full", "status": "limited"}, "/reason", "needs a reason"),
        ({"families": 3, "hours": "full", "status": "stop", "reason": "staff"}, "/families", "set the number to 0"),
    ],
)
def test_bad_figures_are_422_tied_to_the_field(writer: Api, body: dict, pointer: str, words: str) -> None:
    week = weeks_ahead()[1].isoformat()
    problem = _problem(writer.put(f"/intake/{week}", {**body, "version": 0}, **{"Accept-Language": "en"}), 422)
    assert problem["type"].endswith("/invalid-intake")
    [error] = problem["errors"]
    assert (error["in"], error["pointer"]) == ("body", pointer) and words in error["detail"]
    assert not IntakeWeek.objects.exists() and not IntakeEvent.objects.exists()


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"families": -1, "hours": "full", "status": "open"}, "/families"),
        ({"families": 1000, "hours": "full", "status": "open"}, "/families"),
        ({"families": "3", "hours": "full", "status": "open"}, "/families"),
        ({"families": 3, "hours": "half", "status": "open"}, "/hours"),
        ({"families": 3, "hours": "minimum", "minimum_hours": 49, "status": "open"}, "/minimum_hours"),
        ({"families": 3, "hours": "full", "status": "closed"}, "/status"),
        ({"families": 3, "hours": "full", "status": "limited", "reason": "weather"}, "/reason"),
        ({"families": 3, "hours": "full", "status": "open", "note": "x"}, "/note"),
        ({"hours": "full", "status": "open"}, "/families"),
    ],
)
def test_schema_violations_are_422_problems_with_the_field(writer: Api, body: dict, pointer: str) -> None:
    week = weeks_ahead()[1].isoformat()
    problem = _problem(writer.put(f"/intake/{week}", {**body, "version": 0}), 422)
    assert pointer in _pointers(problem)
    assert not IntakeEvent.objects.exists()


def test_messages_in_dutch_on_request(writer: Api) -> None:
    week = weeks_ahead()[1].isoformat()
    body = {"families": 2, "hours": "full", "status": "limited", "version": 0}
    english = writer.put(f"/intake/{week}", body, **{"Accept-Language": "en"}).json()
    dutch = writer.put(f"/intake/{week}", body, **{"Accept-Language": "nl"}).json()
    assert dutch["errors"][0]["pointer"] == "/reason"
    # The service's own words, in the caller's language (the API's new titles get theirs centrally).
    assert dutch["errors"][0]["detail"] != english["errors"][0]["detail"]


def test_weeks_outside_the_grid_are_404_in_words(writer: Api) -> None:
    weeks = weeks_ahead()
    after, before, wednesday = weeks[-1] + timedelta(days=7), weeks[0] - timedelta(days=7), weeks[1] + timedelta(2)
    for day in (after, before):
        for response in (writer.get(f"/intake/{day}"), writer.put(f"/intake/{day}", {**OPEN, "version": 0})):
            problem = _problem(response, 404)
            assert "not one of the coming 12 weeks" in problem["detail"] and weeks[0].isoformat() in problem["detail"]
    problem = _problem(writer.put(f"/intake/{wednesday}", {**OPEN, "version": 0}), 404)
    assert "not a Monday" in problem["detail"] and weeks[1].isoformat() in problem["detail"]
    for malformed in ("2026-13-45", "next-week", "20261207"):
        assert _problem(writer.get(f"/intake/{malformed}"), 422)["errors"][0]["in"] == "path"
    assert not IntakeWeek.objects.exists()


# --- confirm unchanged ------------------------------------------------------------------------


def test_confirm_weeks_unchanged(kz: Kraamzorg, writer: Api) -> None:
    weeks = weeks_ahead()[:2]
    for week in weeks:
        _planner_sets(kz, week)
    IntakeWeek.objects.update(confirmed_at=timezone.now() - timedelta(days=9))
    body = {"weeks": [{"week": w.isoformat(), "version": 1} for w in weeks]}
    response = writer.post("/intake/confirm", body)
    assert response.status_code == 200, response.content
    assert [(w["week"], w["version"], w["stale"]) for w in response.json()["weeks"]] == [
        (w.isoformat(), 2, False) for w in weeks
    ]
    confirms = IntakeEvent.objects.filter(action="confirm")
    assert sorted(confirms.values_list("source", flat=True)) == ["api", "api"]
    assert all(event.api_token_id is not None for event in confirms)
    assert not IntakeEvent.objects.filter(source="web", api_token__isnull=False).exists()
    assert writer.get("/intake/").json()["stale_weeks"] == 10


def test_confirm_is_all_or_nothing_409_on_a_changed_week(kz: Kraamzorg, writer: Api) -> None:
    weeks = weeks_ahead()[:2]
    for week in weeks:
        _planner_sets(kz, week)
    _planner_sets(kz, weeks[1], version=1, families=1)  # changed meanwhile
    body = {"weeks": [{"week": w.isoformat(), "version": 1} for w in weeks]}
    problem = _problem(writer.post("/intake/confirm", body), 409)
    current = [(w["week"], w["version"]) for w in problem["current"]]
    assert current == [(weeks[0].isoformat(), 1), (weeks[1].isoformat(), 2)]
    assert not IntakeEvent.objects.filter(action="confirm").exists()
    # A week never filled in has nothing to confirm: it is stale too.
    never = weeks_ahead()[5]
    problem = _problem(writer.post("/intake/confirm", {"weeks": [{"week": never.isoformat(), "version": 1}]}), 409)
    assert problem["current"][0]["filled_in"] is False


def test_confirm_bad_input_is_422_per_week(writer: Api) -> None:
    weeks = weeks_ahead()
    outside = (weeks[-1] + timedelta(days=7)).isoformat()
    body = {"weeks": [{"week": weeks[0].isoformat(), "version": 1}, {"week": outside, "version": 1}]}
    assert _pointers(_problem(writer.post("/intake/confirm", body), 422)) == ["/weeks/1/week"]
    twice = {"weeks": [{"week": weeks[0].isoformat(), "version": 1}] * 2}
    assert _pointers(_problem(writer.post("/intake/confirm", twice), 422)) == ["/weeks/1/week"]
    bad_bodies: list[dict[str, Any]] = [
        {"weeks": []},
        {"weeks": [{"week": 20261207, "version": 1}]},
        {"weeks": [{"week": "x", "version": 0}]},
    ]
    for bad in bad_bodies:
        assert _problem(writer.post("/intake/confirm", bad), 422)["errors"]
    assert not IntakeEvent.objects.exists()


# --- who may ---------------------------------------------------------------------------------


def test_a_read_token_of_the_organisation_reads_but_cannot_write(world: World, kz: Kraamzorg, kz_admin: User) -> None:
    week = weeks_ahead()[0]
    _planner_sets(kz, week)
    reader = Api(org_token(world.kraamzorg, kz_admin, scope=ApiToken.Scope.READ))
    assert reader.get("/intake/").status_code == 200
    assert reader.get(f"/intake/{week}").status_code == 200
    assert "write intake weeks" in _problem(reader.put(f"/intake/{week}", {**OPEN, "version": 1}), 403)["detail"]
    _problem(reader.post("/intake/confirm", {"weeks": [{"week": week.isoformat(), "version": 1}]}), 403)
    assert IntakeEvent.objects.count() == 1


def test_hospital_and_region_tokens_are_refused(world: World, kz: Kraamzorg) -> None:
    week = weeks_ahead()[0]
    _planner_sets(kz, week)
    for raw in (
        org_token(world.hospital, world.org_admin, scope=ApiToken.Scope.WRITE_CAPACITY),
        org_token(world.hospital, world.org_admin, scope=ApiToken.Scope.ANSWER_REQUESTS),
        region_token(world.region, world.coordinator),
    ):
        api = Api(raw)
        for response in (
            api.get("/intake/"),
            api.get(f"/intake/{week}"),
            api.put(f"/intake/{week}", {**OPEN, "version": 1}),
            api.post("/intake/confirm", {"weeks": [{"week": week.isoformat(), "version": 1}]}),
        ):
            assert "kraamzorg organisation" in _problem(response, 403)["detail"]
    assert IntakeEvent.objects.count() == 1


def test_another_organisations_token_writes_only_its_own_grid(world: World, kz: Kraamzorg) -> None:
    week = weeks_ahead()[0]
    _planner_sets(kz, week, families=9)
    other_org = kz.other_planner.organisation
    assert other_org is not None
    other = Api(org_token(other_org, kz.other_planner, scope=ApiToken.Scope.WRITE_INTAKE))
    grid = other.get("/intake/").json()
    assert grid["organisation_id"] == other_org.pk and grid["weeks"][0]["filled_in"] is False
    assert other.put(f"/intake/{week}", {**OPEN, "families": 1, "version": 0}).status_code == 200
    _problem(other.post("/intake/confirm", {"weeks": [{"week": week.isoformat(), "version": 2}]}), 409)
    mine = IntakeWeek.objects.get(organisation=world.kraamzorg, week=week)
    assert (mine.families, mine.version) == (9, 1)
    assert IntakeWeek.objects.get(organisation=other_org, week=week).families == 1


def test_missing_unknown_and_revoked_tokens_are_401(world: World, kz_admin: User) -> None:
    raw = org_token(world.kraamzorg, kz_admin, scope=ApiToken.Scope.WRITE_INTAKE)
    api_token_revoke(token_id=ApiToken.objects.get().pk, by=kz_admin)
    week = weeks_ahead()[0]
    confirm = {"weeks": [{"week": week.isoformat(), "version": 1}]}
    # One call per bad token: more would lock the test client's address out (429, hospitals/lockout.py).
    _problem(Api(raw).put(f"/intake/{week}", {**OPEN, "version": 0}), 401)
    _problem(Api("bcap_nonsense").post("/intake/confirm", confirm), 401)
    nobody = Api(None)
    for response in (
        nobody.get("/intake/"),
        nobody.get(f"/intake/{week}"),
        nobody.put(f"/intake/{week}", {**OPEN, "version": 0}),
        nobody.post("/intake/confirm", confirm),
    ):
        assert "Bearer" in _problem(response, 401)["detail"]
    assert not IntakeEvent.objects.exists()


def test_the_token_keeps_writing_after_its_issuer_is_deactivated(kz_admin: User, writer: Api) -> None:
    """A token belongs to the organisation (docs/api.md): a planning system does not stop when an admin leaves."""
    User.objects.filter(pk=kz_admin.pk).update(is_active=False)
    week = weeks_ahead()[0]
    assert writer.put(f"/intake/{week}", {**OPEN, "version": 0}).status_code == 200
    assert IntakeEvent.objects.get().by == kz_admin


def test_the_schema_describes_the_intake_operations(writer: Api) -> None:
    paths = writer.get("/openapi.json").json()["paths"]
    assert set(paths["/api/v1/intake/{week}"]) == {"get", "put"}
    assert "409" in paths["/api/v1/intake/{week}"]["put"]["responses"]
    assert "application/problem+json" in paths["/api/v1/intake/confirm"]["post"]["responses"]["409"]["content"]
    assert "/api/v1/intake/" in paths
