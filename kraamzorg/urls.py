from django.urls import path

from kraamzorg import views

app_name = "kraamzorg"

urlpatterns = [
    path("kraamzorg/plan/", views.plan, name="plan"),
    path("kraamzorg/plan/confirm-all/", views.confirm_all, name="confirm_all"),
    path("kraamzorg/plan/<str:week>/", views.week_update, name="week_update"),
]
