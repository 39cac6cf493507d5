"""The care-level thresholds: only national administrators change them, every change is recorded, bad values refused."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from hospitals.models import CareLevelRules, CareLevelRulesChange
from hospitals.services import RulesConflict, care_rules_update
from search.selectors import requirement_for
from tests.conftest import World

RULES = reverse("search:care_rules")


def post(c: Client, version: int = 1, nicu: int = 30, high_care: int = 33, term: int = 37):
    return c.post(
        RULES,
        {"version": version, "nicu_below_weeks": nicu, "high_care_below_weeks": high_care, "term_from_weeks": term},
    )


@pytest.mark.parametrize("persona", ["staff", "other_staff", "midwife", "coordinator", "org_admin", "no_role"])
def test_only_national_administrators_see_or_change_the_rules(world: World, client_for, persona: str) -> None:
    c = client_for(world.personas()[persona])
    assert c.get(RULES).status_code == 403
    assert post(c).status_code == 403
    assert not CareLevelRulesChange.objects.exists() and not CareLevelRules.objects.exists()


def test_anonymous_is_sent_to_login(client: Client, world: World) -> None:
    response = client.get(RULES)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_national_administrator_changes_the_rules_and_the_change_is_attributed(world: World, client_for) -> None:
    c = client_for(world.national_admin)
    page = c.get(RULES).content.decode()
    assert "Onder 32 weken" in page  # the rules in words, as midwives read them
    response = post(c)
    assert response.status_code == 302
    rules = CareLevelRules.current()
    assert (rules.nicu_below_weeks, rules.high_care_below_weeks, rules.term_from_weeks) == (30, 33, 37)
    assert (rules.version, rules.updated_by) == (2, world.national_admin)
    change = CareLevelRulesChange.objects.get()
    assert change.by == world.national_admin
    assert change.before == {"nicu_below_weeks": 32, "high_care_below_weeks": 34, "term_from_weeks": 37}
    assert change.after == {"nicu_below_weeks": 30, "high_care_below_weeks": 33, "term_from_weeks": 37}
    # The search follows at once.
    assert requirement_for(care="overdracht", weeks=31).band == "high_care"
    history = c.get(RULES).content.decode()
    assert "national_admin" in history and "Onder 30 weken" in history


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"nicu": 34, "high_care": 33}, "high_care_below_weeks"),
        ({"high_care": 37, "term": 37}, "term_from_weeks"),
        ({"nicu": 10}, "nicu_below_weeks"),
        ({"term": 50}, "term_from_weeks"),
    ],
)
def test_thresholds_that_do_not_ascend_within_bounds_are_refused(
    world: World, client_for, values: dict[str, int], field: str
) -> None:
    response = post(client_for(world.national_admin), **values)
    assert response.status_code == 400
    assert f'id="id_{field}-error"' in response.content.decode()
    assert not CareLevelRulesChange.objects.exists() and not CareLevelRules.objects.exists()


def test_a_change_on_an_old_version_is_refused_with_the_current_values(world: World, client_for) -> None:
    c = client_for(world.national_admin)
    assert post(c, version=1, nicu=30).status_code == 302
    response = post(c, version=1, nicu=28)
    assert response.status_code == 409
    assert 'name="nicu_below_weeks" value="30"' in response.content.decode()
    assert CareLevelRules.current().nicu_below_weeks == 30 and CareLevelRulesChange.objects.count() == 1


def test_service_records_nothing_when_nothing_changes(world: World) -> None:
    rules = care_rules_update(
        by=world.national_admin, nicu_below_weeks=32, high_care_below_weeks=34, term_from_weeks=37, expected_version=1
    )
    assert rules.version == 1 and not CareLevelRulesChange.objects.exists()
    with pytest.raises(ValidationError):
        care_rules_update(
            by=world.national_admin,
            nicu_below_weeks=35,
            high_care_below_weeks=34,
            term_from_weeks=37,
            expected_version=None,
        )
    care_rules_update(
        by=world.national_admin, nicu_below_weeks=31, high_care_below_weeks=34, term_from_weeks=37, expected_version=1
    )
    with pytest.raises(RulesConflict):
        care_rules_update(
            by=world.national_admin,
            nicu_below_weeks=30,
            high_care_below_weeks=34,
            term_from_weeks=37,
            expected_version=1,
        )


def test_the_search_page_links_the_rules_for_national_administrators_only(world: World, client_for) -> None:
    assert f'href="{RULES}"' in client_for(world.national_admin).get(reverse("search:search")).content.decode()
    assert f'href="{RULES}"' not in client_for(world.midwife).get(reverse("search:search")).content.decode()


def test_the_rules_page_says_which_term_line_is_begeleiding_and_which_overdracht(world: World, client_for) -> None:
    html = client_for(world.national_admin).get(reverse("search:care_rules")).content.decode()
    lines = [line for line in html.split("<li>") if "À terme" in line]
    overdracht = next(line for line in lines if "Overdracht à terme:" in line)
    begeleiding = next(line for line in lines if "Begeleiding à terme:" in line)
    assert "geboortecentrum" not in overdracht and "geboortecentrum" in begeleiding
    assert html.count("Begeleiding en overdracht:") == 3  # the three lines below term hold for both
