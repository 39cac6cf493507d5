from django.urls import path

from search import kraamzorg_views, views

app_name = "search"

urlpatterns = [
    path("search/", views.search, name="search"),
    path("search/results/", views.search_results, name="search_results"),
    path("search/results.json", views.search_json, name="search_json"),
    path("search/places/", views.place_options, name="search_places"),
    path("search/rules/", views.care_rules, name="care_rules"),
    path("search/kraamzorg/", kraamzorg_views.kraamzorg, name="kraamzorg"),
    path("search/kraamzorg/results/", kraamzorg_views.kraamzorg_results, name="kraamzorg_results"),
]
