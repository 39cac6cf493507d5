from django.urls import path

from hospitals import access_log_views, alert_email_views, mfa_views, phone_views, views, vsv_views

app_name = "hospitals"

urlpatterns = [
    path("accounts/access-log/", access_log_views.access_log, name="access_log"),
    path("accounts/members/", views.members, name="members"),
    path("accounts/members/<int:user_id>/active/", views.member_toggle, name="member_toggle"),
    path("accounts/members/<int:user_id>/unlock/", views.member_unlock_view, name="member_unlock"),
    path("accounts/locked/", views.locked_accounts, name="locked_accounts"),
    path("accounts/members/<int:user_id>/second-factor/reset/", mfa_views.member_reset, name="member_mfa_reset"),
    path("accounts/vsv/", vsv_views.practice_vsv, name="practice_vsv"),
    path("accounts/alert-emails/", alert_email_views.alert_emails, name="alert_emails"),
    path("accounts/second-factor/", mfa_views.account, name="mfa_account"),
    path("accounts/second-factor/set-up/", mfa_views.setup, name="mfa_setup"),
    path("accounts/second-factor/verify/", mfa_views.verify, name="mfa_verify"),
    path("accounts/second-factor/recovery-codes/", mfa_views.recovery_codes, name="mfa_recovery_codes"),
    path("accounts/second-factor/recovery-codes/new/", mfa_views.new_recovery_codes, name="mfa_new_recovery_codes"),
    path("accounts/phones/", phone_views.phones, name="phones"),
    path("accounts/phones/<int:location_id>/", phone_views.phone_edit, name="phone_edit"),
]
