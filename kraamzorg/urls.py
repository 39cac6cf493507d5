from django.urls import path

from kraamzorg import shortage_views, views

app_name = "kraamzorg"

urlpatterns = [
    path("kraamzorg/plan/", views.plan, name="plan"),
    path("kraamzorg/plan/confirm-all/", views.confirm_all, name="confirm_all"),
    path("kraamzorg/plan/<str:week>/", views.week_update, name="week_update"),
    path("kraamzorg/shortages/", shortage_views.mine, name="shortages"),
    path("kraamzorg/shortages/new/", shortage_views.register, name="shortage_register"),
    path("kraamzorg/shortages/<int:shortage_id>/withdraw/", shortage_views.withdraw, name="shortage_withdraw"),
]
