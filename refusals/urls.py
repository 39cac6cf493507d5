from django.urls import path

from refusals import stats_views, views

app_name = "refusals"

urlpatterns = [
    path("refusals/", views.mine, name="mine"),
    path("refusals/new/", views.register, name="register"),
    path("refusals/<int:refusal_id>/", views.correct, name="correct"),
    path("refusals/<int:refusal_id>/withdraw/", views.withdraw, name="withdraw"),
    path("statistics/", stats_views.statistics_index, name="statistics"),
    path("statistics/<slug:region_code>/", stats_views.statistics_region, name="statistics_region"),
]
