from django.urls import path

from refusals import benchmark_views, kraamzorg_views, stats_views, views

app_name = "refusals"

urlpatterns = [
    path("refusals/", views.mine, name="mine"),
    path("refusals/new/", views.register, name="register"),
    path("refusals/<int:refusal_id>/", views.correct, name="correct"),
    path("refusals/<int:refusal_id>/withdraw/", views.withdraw, name="withdraw"),
    path("statistics/", stats_views.statistics_index, name="statistics"),
    # Before the region pattern: no region is called "benchmark".
    path("statistics/benchmark/", benchmark_views.benchmark_view, name="benchmark"),
    path("statistics/<slug:region_code>/", stats_views.statistics_region, name="statistics_region"),
    path("statistics/<slug:region_code>/outcomes/", stats_views.outcomes_region, name="outcomes"),
    path("statistics/<slug:region_code>/report/", stats_views.quarterly_report_view, name="quarterly_report"),
    path("statistics/<slug:region_code>/kraamzorg/", kraamzorg_views.region_kraamzorg, name="kraamzorg"),
    path("alerts/<int:alert_id>/acknowledge/", stats_views.alert_acknowledge_view, name="alert_acknowledge"),
]
