"""The access log (NEN 7513 style): every listed action writes exactly one entry with who, what,
scope and from where; national administrators search and export it; retention purges old entries
only; nobody edits or deletes entries through the application (ORM, admin, SQL on PostgreSQL)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.contrib import admin as django_admin
from django.db import DatabaseError, connection, transaction
from django.db.models import ProtectedError
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from pytest_django import Settings

from capacity.models import ApiToken, BoardToken
from capacity.services import board_token_issue
from hospitals import audit
from hospitals.models import VSV, AccessLog, User
from hospitals.tasks import purge_access_log
from tests.api_support import Api, region_token
from tests.conftest import PASSWORD, World

URL = "/accounts/access-log/"


def new_entries(since: int) -> list[AccessLog]:
    return list(AccessLog.objects.filter(pk__gt=since).order_by("pk"))


def streamed(response: Any) -> bytes:
    """The body of a streaming response (the access-log CSV)."""
    return b"".join(response.streaming_content)


def last_id() -> int:
    return AccessLog.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


@dataclass
class Expected:
    action: str
    what: str
    user: str
    object_id: str = ""
    scope: tuple[str, ...] = ()
    path: str = ""


def signed_in(world: World, persona: str) -> Client:
    client = Client()
    client.force_login(world.personas()[persona])
    return client


# --- every listed action: one entry ------------------------------------------------------------
# Each case signs in (a login is an entry of its own, recorded by the lockout helper's receivers),
# then returns the action to perform and what its one entry must say.

Case = Callable[[World], tuple[Callable[[], Any], Expected]]


def statistics_page(world: World) -> tuple[Callable[[], Any], Expected]:
    c = signed_in(world, "coordinator")
    return lambda: c.get("/statistics/midden/?period=month&start=2026-01-15"), Expected(
        "view",
        "refusal statistics",
        "coordinator",
        "midden",
        ("region=midden", "period=2026-01"),
        "/statistics/midden/",
    )


def statistics_export(fmt: str) -> Case:
    def case(world: World) -> tuple[Callable[[], Any], Expected]:
        c = signed_in(world, "coordinator")
        return lambda: c.get(f"/statistics/midden/?period=quarter&start=2026-08-01&format={fmt}"), Expected(
            "export",
            "refusal statistics",
            "coordinator",
            "midden",
            ("region=midden", "period=2026-Q3", f"format={fmt}"),
        )

    return case


def quarterly_report(world: World) -> tuple[Callable[[], Any], Expected]:
    c = signed_in(world, "national_admin")
    return lambda: c.get("/statistics/midden/report/?quarter=" + _a_listed_quarter()), Expected(
        "view", "quarterly report", "national_admin", "midden", ("region=midden",), "/statistics/midden/report/"
    )


def outcomes_page(world: World) -> tuple[Callable[[], Any], Expected]:
    c = signed_in(world, "coordinator")
    return lambda: c.get("/statistics/midden/outcomes/?vsv="), Expected(
        "view", "refusal outcomes", "coordinator", "midden", ("region=midden",), "/statistics/midden/outcomes/"
    )


def benchmark_export(world: World) -> tuple[Callable[[], Any], Expected]:
    c = signed_in(world, "coordinator")
    return lambda: c.get("/statistics/benchmark/?format=csv"), Expected(
        "export", "region benchmark", "coordinator", "", ("format=csv",), "/statistics/benchmark/"
    )


def practice_vsv(world: World) -> tuple[Callable[[], Any], Expected]:
    vsv = VSV.objects.create(name="VSV Utrecht", region=world.region)
    User.objects.create_user(username="praktijkbeheer", password=PASSWORD, role=User.Role.ORG_ADMIN,
                             organisation=world.practice)  # fmt: skip
    c = Client()
    c.force_login(User.objects.get(username="praktijkbeheer"))
    return lambda: c.post("/accounts/vsv/", {"vsv": vsv.pk}), Expected(
        "setting_change", "organisation", "praktijkbeheer", str(world.practice.pk), (f"vsv=-->{vsv.pk}",),
        "/accounts/vsv/",
    )  # fmt: skip


def _a_listed_quarter() -> str:
    today = timezone.localdate()
    return f"{today.year}-Q{(today.month - 1) // 3 + 1}"


def refusal_list(world: World) -> tuple[Callable[[], Any], Expected]:
    c = signed_in(world, "midwife")
    return lambda: c.get("/refusals/"), Expected(
        "view", "refusal list", "midwife", "", ("registered_by=midwife",), "/refusals/"
    )


def member_create(world: World) -> tuple[Callable[[], Any], Expected]:
    c = signed_in(world, "org_admin")
    data = {
        "username": "nieuw",
        "email": "nieuw@example.org",
        "role": User.Role.HOSPITAL_STAFF,
        "password1": "een-lang-wachtwoord-2026",
        "password2": "een-lang-wachtwoord-2026",
        "locations": [world.location.pk],
    }
    return lambda: c.post("/accounts/members/", data), Expected(
        "account_change", "account", "org_admin", "", ("change=created", "username=nieuw"), "/accounts/members/"
    )


def member_deactivate(world: World) -> tuple[Callable[[], Any], Expected]:
    c = signed_in(world, "org_admin")
    path = f"/accounts/members/{world.staff.pk}/active/"
    return lambda: c.post(path), Expected(
        "account_change", "account", "org_admin", str(world.staff.pk), ("change=deactivated",), path
    )


def member_activate(world: World) -> tuple[Callable[[], Any], Expected]:
    User.objects.filter(pk=world.staff.pk).update(is_active=False)
    c = signed_in(world, "org_admin")
    path = f"/accounts/members/{world.staff.pk}/active/"
    return lambda: c.post(path), Expected(
        "account_change", "account", "org_admin", str(world.staff.pk), ("change=activated",), path
    )


def admin_role_change(world: World) -> tuple[Callable[[], Any], Expected]:
    root = User.objects.create_superuser("root", "root@example.org", "correct-horse-battery-staple")
    data = admin_change_data(root, world.staff, role=User.Role.COORDINATOR, region=world.region.pk, locations=[])
    c = Client()
    c.force_login(root)
    path = f"/admin/hospitals/user/{world.staff.pk}/change/"
    return lambda: c.post(path, data), Expected(
        "account_change",
        "account",
        "root",
        str(world.staff.pk),
        ("change=changed", "role=hospital_staff->coordinator", f"locations={world.location.pk}->-", "via=admin"),
        path,
    )


def board_token_create(world: World) -> tuple[Callable[[], Any], Expected]:
    c = signed_in(world, "coordinator")
    return lambda: c.post("/screens/", {"label": "Meldkamer", "region": world.region.pk}), Expected(
        "token_created", "wall-screen link", "coordinator", "", ("region=midden", "label=Meldkamer"), "/screens/"
    )


def board_token_revoke(world: World) -> tuple[Callable[[], Any], Expected]:
    token, _raw = board_token_issue(label="Meldkamer", region_id=world.region.pk, by=world.coordinator)
    c = signed_in(world, "coordinator")
    path = f"/screens/{token.pk}/revoke/"
    return lambda: c.post(path), Expected("token_revoked", "wall-screen link", "coordinator", str(token.pk), (), path)


def api_token_create(world: World) -> tuple[Callable[[], Any], Expected]:
    c = signed_in(world, "org_admin")
    return lambda: c.post("/accounts/api-tokens/", {"name": "HIS feed", "scope": "read"}), Expected(
        "token_created", "api token", "org_admin", "", ("scope=read", f"organisation={world.hospital.pk}")
    )


def api_token_revoke(world: World) -> tuple[Callable[[], Any], Expected]:
    region_token(world.region, world.coordinator)
    token = ApiToken.objects.get(region=world.region)
    c = signed_in(world, "coordinator")
    path = f"/accounts/api-tokens/{token.pk}/revoke/"
    return lambda: c.post(path), Expected("token_revoked", "api token", "coordinator", str(token.pk), (), path)


def api_read(path: str, what: str, object_id: str, scope: tuple[str, ...]) -> Case:
    def case(world: World) -> tuple[Callable[[], Any], Expected]:
        api = Api(region_token(world.region, world.coordinator))
        token = ApiToken.objects.get(region=world.region)
        return lambda: api.get(path), Expected(
            "export", what, "coordinator", object_id, (*scope, f"token={token.pk}"), "/api/v1" + path.split("?")[0]
        )

    return case


def access_log_export(world: World) -> tuple[Callable[[], Any], Expected]:
    c = signed_in(world, "national_admin")
    return lambda: streamed(c.get(URL + "?action=view&format=csv")), Expected(
        "export", "access log", "national_admin", "", ("action=view", "format=csv"), URL
    )


def alert_emails_off(world: World) -> tuple[Callable[[], Any], Expected]:
    c = signed_in(world, "coordinator")
    path = "/accounts/alert-emails/"
    return lambda: c.post(path, {}), Expected(
        "account_change", "account", "coordinator", str(world.coordinator.pk), ("alert_emails=True->False",), path
    )


CASES: dict[str, Case] = {
    "statistics page": statistics_page,
    "statistics csv": statistics_export("csv"),
    "statistics xlsx": statistics_export("xlsx"),
    "quarterly report": quarterly_report,
    "after a refusal": outcomes_page,
    "regions compared csv": benchmark_export,
    "practice vsv": practice_vsv,
    "refusal list": refusal_list,
    "member create": member_create,
    "member deactivate": member_deactivate,
    "member activate": member_activate,
    "admin role change": admin_role_change,
    "alert e-mails off": alert_emails_off,
    "board token issue": board_token_create,
    "board token revoke": board_token_revoke,
    "api token issue": api_token_create,
    "api token revoke": api_token_revoke,
    "api statistics": api_read(
        "/regions/midden/refusal-statistics?period=month",
        "refusal statistics",
        "midden",
        ("region=midden", "format=json"),
    ),
    "api fhir export": api_read("/exports/fhir?region=midden", "capacity export", "midden", ("format=fhir",)),
    "api edxl export": api_read("/exports/edxl-have", "capacity export", "", ("region=all", "format=edxl-have")),
    "access log export": access_log_export,
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_action_writes_exactly_one_entry(world: World, name: str) -> None:
    act, expected = CASES[name](world)
    before = last_id()
    response = act()
    if hasattr(response, "status_code"):
        assert response.status_code in (200, 302), getattr(response, "content", b"")[:500]
    entries = new_entries(before)
    assert len(entries) == 1, [str(e) for e in entries]
    entry = entries[0]
    user = User.objects.get(username=expected.user)
    assert (entry.action, entry.what, entry.user_id, entry.username, entry.role) == (
        expected.action,
        expected.what,
        user.pk,
        user.username,
        user.role,
    )
    assert entry.organisation == (user.organisation.name if user.organisation else "")
    if expected.object_id:
        assert entry.object_id == expected.object_id
    for part in expected.scope:
        assert part in entry.scope.split(" "), entry.scope
    assert entry.ip == "127.0.0.1"
    assert entry.path.startswith(expected.path or "/"), entry.path
    assert timezone.now() - entry.at < timedelta(minutes=1)


def test_live_statistics_refresh_is_not_an_entry(world: World) -> None:
    """The page view is logged; the htmx refresh of its figures (static/js/stats.js) is the same scope."""
    c = signed_in(world, "coordinator")
    before = last_id()
    response = c.get("/statistics/midden/", headers={"HX-Request": "true", "HX-Target": "stats-body"})
    assert response.status_code == 200
    assert new_entries(before) == []


def test_nothing_changed_nothing_logged(world: World) -> None:
    """Revoking twice, or an invalid statistics filter: no second or spurious entry."""
    token, _raw = board_token_issue(label="Hal", region_id=world.region.pk, by=world.coordinator)
    c = signed_in(world, "coordinator")
    c.post(f"/screens/{token.pk}/revoke/")
    before = last_id()
    c.post(f"/screens/{token.pk}/revoke/")
    assert c.get("/statistics/midden/?start=1999-01-01").status_code == 400
    assert new_entries(before) == []
    assert BoardToken.objects.get(pk=token.pk).revoked_by == world.coordinator


def test_revocation_and_activation_keep_who_did_it(world: World) -> None:
    region_token(world.region, world.coordinator)
    token = ApiToken.objects.get(region=world.region)
    signed_in(world, "national_admin").post(f"/accounts/api-tokens/{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.revoked_by == world.national_admin and token.revoked_at is not None
    User.objects.filter(pk=world.staff.pk).update(is_active=False)
    signed_in(world, "org_admin").post(f"/accounts/members/{world.staff.pk}/active/")
    change = world.staff.account_changes.get()
    assert (change.action, change.by) == ("activated", world.org_admin)


def test_admin_save_without_role_change_is_not_an_entry(world: World) -> None:
    root = User.objects.create_superuser("root", "root@example.org", "correct-horse-battery-staple")
    c = Client()
    c.force_login(root)
    before = last_id()
    response = c.post(
        f"/admin/hospitals/user/{world.staff.pk}/change/", admin_change_data(root, world.staff, first_name="Anna")
    )
    assert response.status_code == 302
    assert new_entries(before) == []


def admin_change_data(root: User, account: User, **changes: Any) -> dict[str, Any]:
    """The POST the admin's change form would send for ``account``, with ``changes`` applied."""
    model_admin = django_admin.site._registry[User]
    request = RequestFactory().get("/")
    request.user = root
    form = model_admin.get_form(request, account, change=True)(instance=account)
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = changes[name] if name in changes else form[name].value()
        widget = field.widget
        if hasattr(widget, "decompress"):
            for i, part in enumerate(widget.decompress(value)):
                data[f"{name}_{i}"] = "" if part is None else str(part)
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, list | tuple):
            data[name] = [getattr(v, "pk", v) for v in value]
        elif value is not None:
            data[name] = getattr(value, "pk", value)
    return data


# --- the search page and its export -----------------------------------------------------------


def _entries(world: World) -> None:
    now = timezone.now()
    AccessLog.objects.create(
        at=now - timedelta(days=40), username="midwife", role="midwife", action="view", what="refusal list"
    )
    AccessLog.objects.create(
        at=now - timedelta(days=2),
        user=world.coordinator,
        username="coordinator",
        role="coordinator",
        action="export",
        what="refusal statistics",
        scope="region=midden format=csv",
        organisation="",
        ip="10.0.0.7",
        path="/statistics/midden/?format=csv",
    )
    AccessLog.objects.create(
        at=now - timedelta(hours=1),
        user=world.org_admin,
        username="org_admin",
        role="org_admin",
        organisation="UMC Utrecht",
        action="token_created",
        what="api token",
        scope="label==HYPERLINK(1)",
    )


def test_national_admin_searches_the_log(world: World) -> None:
    _entries(world)
    c = signed_in(world, "national_admin")
    response = c.get(URL)
    assert 'id="access-log-table"' in response.content.decode()
    shown = [e.what for e in response.context["page"] if e.username != "national_admin"]
    assert shown == ["api token", "refusal statistics", "refusal list"]  # newest first

    def rows(query: str) -> list[str]:
        response = c.get(URL + query)
        assert response.status_code == 200
        return [e.what for e in response.context["page"] if e.username != "national_admin"]

    assert rows("?action=export") == ["refusal statistics"]
    assert rows("?user=MIDW") == ["refusal list"]
    assert rows("?organisation=umc") == ["api token"]
    assert rows("?what=statistics") == ["refusal statistics"]
    today = timezone.localdate()
    assert rows(f"?since={(today - timedelta(days=3)).isoformat()}") == ["api token", "refusal statistics"]
    assert rows(f"?until={(today - timedelta(days=30)).isoformat()}") == ["refusal list"]


def test_menu_links_to_the_log_for_national_admins_only(world: World) -> None:
    assert f'href="{URL}"' in signed_in(world, "national_admin").get("/statistics/").content.decode()
    assert f'href="{URL}"' not in signed_in(world, "coordinator").get("/statistics/midden/").content.decode()


def test_pages_newest_first(world: World) -> None:
    for i in range(55):
        AccessLog.objects.create(username=f"u{i:02d}", action="view", what="refusal list")
    c = signed_in(world, "national_admin")
    first = c.get(URL + "?what=refusal+list").context["page"]
    assert first.paginator.count == 55 and len(first) == 50 and first[0].username == "u54"
    second = c.get(URL + "?what=refusal+list&page=2")
    assert [e.username for e in second.context["page"]] == [f"u{i:02d}" for i in range(4, -1, -1)]
    assert "what=refusal+list&amp;page=1" in second.content.decode()


def test_bad_period_is_refused_on_its_field(world: World) -> None:
    response = signed_in(world, "national_admin").get(URL + "?since=2026-05-02&until=2026-05-01")
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="id_until-error"' in body and 'aria-describedby="id_until-error"' in body


def test_csv_export_of_filtered_rows(world: World) -> None:
    _entries(world)
    response = signed_in(world, "national_admin").get(URL + "?format=csv&what=token")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(streamed(response).decode().lstrip("\ufeff"))))
    assert len(rows) == 2  # header and the one match
    assert rows[1][1:6] == ["org_admin", "org_admin", "UMC Utrecht", "token_created", "api token"]
    assert rows[1][7] == "label==HYPERLINK(1)"


def test_csv_cells_never_start_a_formula(world: World) -> None:
    AccessLog.objects.create(username="=cmd|'/c calc'!A1", action="view", what="+x", scope="@SUM(1)")
    response = signed_in(world, "national_admin").get(URL + "?format=csv&user=cmd")
    row = list(csv.reader(io.StringIO(streamed(response).decode().lstrip("\ufeff"))))[1]
    assert row[1].startswith("'=") and row[5] == "'+x" and row[7] == "'@SUM(1)"


@pytest.mark.parametrize("persona", ["staff", "other_staff", "midwife", "coordinator", "org_admin", "no_role"])
def test_everyone_else_is_refused(world: World, persona: str) -> None:
    _entries(world)
    c = signed_in(world, persona)
    before = last_id()
    assert c.get(URL).status_code == 403
    assert c.get(URL + "?format=csv").status_code == 403
    assert c.post(URL).status_code in (403, 405)
    assert new_entries(before) == []


def test_anonymous_goes_to_login(world: World, client: Client) -> None:
    response = client.get(URL + "?format=csv")
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_post_is_refused(world: World) -> None:
    assert signed_in(world, "national_admin").post(URL).status_code == 405


# --- retention ----------------------------------------------------------------------------------


def test_purge_deletes_only_entries_past_retention(world: World, settings: Settings) -> None:
    settings.ACCESS_LOG_RETENTION_DAYS = 30
    now = timezone.now()
    old = [
        AccessLog.objects.create(at=now - timedelta(days=31, minutes=i), action="view", what="old") for i in range(5)
    ]
    kept = AccessLog.objects.create(at=now - timedelta(days=29), action="view", what="kept")
    assert audit.purge_expired(batch=2) == 5  # three batches of at most two
    assert not AccessLog.objects.filter(pk__in=[e.pk for e in old]).exists()
    assert AccessLog.objects.filter(pk=kept.pk).exists()
    assert purge_access_log() == 0  # the beat task: idempotent


def test_retention_zero_keeps_everything(world: World, settings: Settings) -> None:
    settings.ACCESS_LOG_RETENTION_DAYS = 0
    AccessLog.objects.create(at=timezone.now() - timedelta(days=4000), action="view", what="old")
    assert purge_access_log() == 0
    assert AccessLog.objects.filter(what="old").exists()


def test_purge_is_on_the_beat_schedule() -> None:
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "hospitals.tasks.purge_access_log" in tasks


# --- append-only ---------------------------------------------------------------------------------


def test_orm_cannot_change_or_delete(world: World) -> None:
    entry = audit.record(action=AccessLog.Action.VIEW, what="refusal list", user=world.midwife)
    entry.what = "nothing"
    with pytest.raises(RuntimeError):
        entry.save()
    with pytest.raises(RuntimeError):
        entry.delete()
    with pytest.raises(RuntimeError):
        AccessLog.objects.filter(pk=entry.pk).update(what="nothing")
    with pytest.raises(RuntimeError):
        AccessLog.objects.all().delete()
    with pytest.raises(RuntimeError):
        AccessLog.objects.bulk_update([entry], ["what"])
    assert AccessLog.objects.get(pk=entry.pk).what == "refusal list"


def test_an_account_with_entries_cannot_be_deleted(world: World) -> None:
    """SET_NULL would rewrite entries; the account is deactivated instead."""
    audit.record(action=AccessLog.Action.VIEW, what="refusal list", user=world.midwife)
    with pytest.raises(ProtectedError):
        world.midwife.delete()


def test_admin_shows_the_log_read_only(world: World) -> None:
    entry = audit.record(action=AccessLog.Action.VIEW, what="refusal list", user=world.midwife)
    root = User.objects.create_superuser("root", "root@example.org", "correct-horse-battery-staple")
    c = Client()
    c.force_login(root)
    base = "/admin/hospitals/accesslog/"
    assert c.get(base).status_code == 200
    assert c.get(f"{base}{entry.pk}/change/").status_code == 200  # view only
    assert c.post(f"{base}{entry.pk}/change/", {"what": "nothing"}).status_code == 403
    assert c.get(f"{base}add/").status_code == 403
    assert c.post(f"{base}{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    response = c.post(base, {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"})
    assert response.status_code in (200, 302)
    assert AccessLog.objects.get(pk=entry.pk).what == "refusal list"


postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL only (SQLite: documented)"
)


@postgres_only
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE hospitals_accesslog SET what = 'nothing' WHERE id = %s",
        "DELETE FROM hospitals_accesslog WHERE id = %s",
    ],
)
def test_database_refuses_raw_update_and_delete(world: World, sql: str) -> None:
    entry = audit.record(action=AccessLog.Action.VIEW, what="refusal list", user=world.midwife)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [entry.pk])
    assert AccessLog.objects.get(pk=entry.pk).what == "refusal list"


@postgres_only
def test_database_allows_delete_only_to_the_purge(world: World) -> None:
    entry = audit.record(action=AccessLog.Action.VIEW, what="refusal list", user=world.midwife)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL app.access_log_purge = 'on'")
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            cursor.execute("UPDATE hospitals_accesslog SET what = 'x' WHERE id = %s", [entry.pk])
        cursor.execute("DELETE FROM hospitals_accesslog WHERE id = %s", [entry.pk])
    assert not AccessLog.objects.filter(pk=entry.pk).exists()
