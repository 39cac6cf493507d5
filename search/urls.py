from django.urls import path

from search import views

app_name = "search"

urlpatterns = [
    path("search/", views.search, name="search"),
    path("search/results/", views.search_results, name="search_results"),
    path("search/results.json", views.search_json, name="search_json"),
    path("search/places/", views.place_options, name="search_places"),
    path("search/rules/", views.care_rules, name="care_rules"),
]
