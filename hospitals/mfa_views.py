"""The second-factor pages: set up an authenticator app, enter a code at login, recovery codes,
one's own status, and an administrator's reset of a member's second factor (docs/security.md)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from core.http import local_path
from hospitals import mfa
from hospitals.http import AuthenticatedRequest
from hospitals.mfa_forms import EnrolForm, VerifyForm
from hospitals.models import User
from hospitals.services import member_reset_second_factor

RECOVERY_SESSION_KEY = "mfa_recovery_codes"


def _next(request: AuthenticatedRequest) -> str:
    raw = request.POST.get("next") or request.GET.get("next") or ""
    return local_path(request, raw) or ""


def _is_verified(request: AuthenticatedRequest) -> bool:
    return getattr(request.user, "otp_device", None) is not None


def _wrong(form: EnrolForm | VerifyForm, check: mfa.CodeCheck) -> None:
    if check.wait_seconds:
        message = ngettext(
            "Too many wrong codes. Wait %(seconds)s second and try again.",
            "Too many wrong codes. Wait %(seconds)s seconds and try again.",
            check.wait_seconds,
        ) % {"seconds": check.wait_seconds}
    else:
        message = _("That code is not right. Check the time on your phone and enter the code shown now.")
    form.add_errors_from(ValidationError({"code": [message]}))


@never_cache
@require_http_methods(["GET", "POST"])
def setup(request: AuthenticatedRequest) -> HttpResponse:
    user = request.user
    following = _next(request)
    if mfa.app_device(user) is not None:
        return redirect(following or "hospitals:mfa_account")
    device = mfa.enrolment_device(user)
    form = EnrolForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            check, codes = mfa.enrol_confirm(
                request=request, user=user, device_id=device.pk, code=form.cleaned_data["code"]
            )
            if check.device is not None:
                otp_login(request, check.device)
                request.session.cycle_key()
                request.session[RECOVERY_SESSION_KEY] = codes
                url = reverse("hospitals:mfa_recovery_codes")
                return redirect(f"{url}?next={following}" if following else url)
            _wrong(form, check)
    context = {
        "form": form,
        "next": following,
        "qr": mfa.qr_svg(device, _("QR code to scan with your authenticator app")),
        "secret": mfa.secret_text(device),
        "required": mfa.is_required(user),
    }
    return render(request, "hospitals/mfa_setup.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def recovery_codes(request: AuthenticatedRequest) -> HttpResponse:
    """Shown once, right after they were made; "I have stored them" forgets them."""
    following = _next(request)
    codes = request.session.get(RECOVERY_SESSION_KEY)
    if request.method == "POST" or not codes:
        request.session.pop(RECOVERY_SESSION_KEY, None)
        return redirect(following or "home")
    return render(request, "hospitals/mfa_recovery_codes.html", {"codes": codes, "next": following})


@never_cache
@require_http_methods(["GET", "POST"])
def verify(request: AuthenticatedRequest) -> HttpResponse:
    user = request.user
    following = _next(request)
    device = mfa.app_device(user)
    if device is None:
        url = reverse("hospitals:mfa_setup")
        return redirect(f"{url}?next={following}" if following else url)
    if _is_verified(request):
        return redirect(following or "home")
    form = VerifyForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            check = mfa.check_code(request=request, user=user, code=form.cleaned_data["code"])
            if check.device is not None:
                otp_login(request, check.device)
                request.session.cycle_key()
                if check.device.persistent_id != device.persistent_id:
                    left = mfa.recovery_codes_left(user)
                    messages.warning(
                        request,
                        ngettext(
                            "You used a recovery code. %(count)s recovery code is left.",
                            "You used a recovery code. %(count)s recovery codes are left.",
                            left,
                        )
                        % {"count": left},
                    )
                response = redirect(following or "home")
                if form.cleaned_data["remember"]:
                    mfa.remember(response, user, device)
                return response
            _wrong(form, check)
    context = {"form": form, "next": following, "remember_hours": settings.MFA_REMEMBER_HOURS}
    return render(request, "hospitals/mfa_verify.html", context, status=status)


@never_cache
@require_http_methods(["GET"])
def account(request: AuthenticatedRequest) -> HttpResponse:
    """One's own second factor: whether it is required, set up, and how many recovery codes are left."""
    user = request.user
    context = {
        "enforced": settings.MFA_ENFORCED,
        "required": mfa.is_required(user),
        "device": mfa.app_device(user),
        "codes_left": mfa.recovery_codes_left(user),
    }
    return render(request, "hospitals/mfa_account.html", context)


@require_POST
def new_recovery_codes(request: AuthenticatedRequest) -> HttpResponse:
    if mfa.app_device(request.user) is None:
        return redirect("hospitals:mfa_account")
    request.session[RECOVERY_SESSION_KEY] = mfa.recovery_codes_renew(request.user)
    url = reverse("hospitals:mfa_recovery_codes")
    return redirect(f"{url}?next={reverse('hospitals:mfa_account')}")


@require_POST
def member_reset(request: AuthenticatedRequest, user_id: int) -> HttpResponse:
    """An administrator resets a member's second factor (lost phone): they set up a new one at next login."""
    member = get_object_or_404(User, pk=user_id)
    if not mfa.can_reset(request.user, member):
        raise PermissionDenied
    member_reset_second_factor(by=request.user, member_id=member.pk, request=request)
    messages.success(
        request, _("Second factor of %(name)s reset. They set up a new one at their next login.") % {"name": member}
    )
    return redirect(_next(request) or "hospitals:members")
