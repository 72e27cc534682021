"""Two-factor sign-in on the web: the code after the password, and the account's security page.

The rules live in `marketplace.two_factor`; these views only carry the sign-in
between its two steps (in the session, for `TWO_FACTOR_PENDING_SECONDS`) and
show the set-up (QR code, the key to type, the recovery codes once).
"""

from __future__ import annotations

import base64
import time

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp import user_has_device
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from frontend.forms import form_add_domain_error
from frontend.forms.two_factor import CodeForm, PasswordConfirmForm, SetupCodeForm
from marketplace.errors import DomainError
from marketplace.middleware import two_factor_exempt
from marketplace.models import User
from marketplace.two_factor import (
    recovery_codes_left,
    recovery_codes_regenerate,
    totp_device_confirm,
    totp_device_start,
    two_factor_check,
    two_factor_disable,
    two_factor_enabled,
    two_factor_required,
    two_factor_wait,
)

PENDING_KEY = "two_factor_pending"
SETUP_KEY = "two_factor_setup_device"
BACKEND = "django.contrib.auth.backends.ModelBackend"


def _safe_next(request: HttpRequest, url: str | None) -> str:
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return str(settings.LOGIN_REDIRECT_URL)


def signin_pending_start(request: HttpRequest, user: User, next_url: str) -> HttpResponse:
    """After a right password for an account with a second factor: remember who, ask the code.

    Nobody is signed in yet; the record holds the user's session hash, so a
    password changed meanwhile voids it.
    """
    request.session[PENDING_KEY] = {
        "user": user.pk,
        "at": int(time.time()),
        "next": _safe_next(request, next_url),
        "hash": user.get_session_auth_hash(),
    }
    return redirect("frontend:signin-code")


def _pending_user(request: HttpRequest) -> tuple[User, str] | None:
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None
    if time.time() - pending.get("at", 0) > settings.TWO_FACTOR_PENDING_SECONDS:
        request.session.pop(PENDING_KEY, None)
        return None
    user = User.objects.filter(pk=pending.get("user"), is_active=True).first()
    if user is None or not constant_time_compare(user.get_session_auth_hash(), pending["hash"]):
        request.session.pop(PENDING_KEY, None)
        return None
    return user, pending["next"]


def _code_answered(request: HttpRequest, user: User, form: CodeForm) -> bool:
    """Check the posted code; on success the session is verified (and signed in if needed)."""
    # A wait already running when the code came: the code was not even checked.
    wait = two_factor_wait(user=user, code=form.cleaned_data["code"])
    device = two_factor_check(user=user, code=form.cleaned_data["code"])
    if device is None:
        form.add_error(
            "code",
            _("Too many wrong codes: wait %(seconds)s seconds, then type the current one.")
            % {"seconds": wait}
            if wait
            else _("This code is not right. After several wrong codes, wait before retrying."),
        )
        return False
    if not request.user.is_authenticated:
        request.session.pop(PENDING_KEY, None)
        login(request, user, backend=BACKEND)
    otp_login(request, device)
    if isinstance(device, StaticDevice):
        messages.warning(
            request,
            _("You used a recovery code: %(left)s left. Make new ones on your security page.")
            % {"left": recovery_codes_left(user)},
        )
    return True


@two_factor_exempt
@require_http_methods(["GET", "POST"])
def signin_code(request: HttpRequest) -> HttpResponse:
    """Sign-in, step two: the code of the account whose password was just given."""
    pending = _pending_user(request)
    if pending is None:
        messages.error(request, _("Your sign-in expired. Please start again."))
        return redirect("frontend:signin")
    user, next_url = pending
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and _code_answered(request, user, form):
        messages.success(request, _("You are signed in."))
        return redirect(next_url)
    return render(request, "frontend/accounts/signin_code.html", {"form": form})


@two_factor_exempt
@login_required
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """A signed-in session that owes its second factor gives it here."""
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if request.user.is_verified() or not user_has_device(request.user, confirmed=True):
        return redirect(next_url if request.user.is_verified() else "frontend:security")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and _code_answered(request, request.user, form):
        return redirect(next_url)
    return render(request, "frontend/accounts/signin_code.html", {"form": form, "next": next_url})


def _qr_data_uri(uri: str) -> str:
    """The `otpauth://` URI as a QR code, an SVG `data:` URI for an <img> (no markup inlined)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, dark="#111", light="#fff")


@two_factor_exempt
@login_required
@require_http_methods(["GET"])
def security(request: HttpRequest) -> HttpResponse:
    """Two-factor sign-in: its state, its set-up, the recovery codes."""
    user = request.user
    context: dict[str, object] = {
        "enabled": two_factor_enabled(user),
        "required": two_factor_required(user),
        "codes_left": recovery_codes_left(user),
        "next": _safe_next(request, request.GET.get("next")) if request.GET.get("next") else "",
        "password_form": PasswordConfirmForm(),
    }
    device = TOTPDevice.objects.filter(
        pk=request.session.get(SETUP_KEY), user=user, confirmed=False
    ).first()
    if device is not None and not context["enabled"]:
        context.update(
            setup=device,
            qr=_qr_data_uri(device.config_url),
            secret=base64.b32encode(device.bin_key).decode("ascii"),
            code_form=SetupCodeForm(),
        )
    return render(request, "frontend/account/security.html", context)


@two_factor_exempt
@login_required
@require_POST
def security_start(request: HttpRequest) -> HttpResponse:
    """Begin the set-up: a new key, shown as a QR code on the security page."""
    try:
        device = totp_device_start(user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        request.session[SETUP_KEY] = device.pk
    return redirect(_with_next(request, "frontend:security"))


def _with_next(request: HttpRequest, name: str) -> str:
    next_url = request.POST.get("next")
    return reverse(name) + (f"?{urlencode({'next': next_url})}" if next_url else "")


def _codes_page(request: HttpRequest, codes: list[str]) -> HttpResponse:
    next_url = request.POST.get("next")
    return render(
        request,
        "frontend/account/recovery_codes.html",
        {"codes": codes, "next": _safe_next(request, next_url) if next_url else ""},
    )


@two_factor_exempt
@login_required
@require_POST
def security_confirm(request: HttpRequest) -> HttpResponse:
    """Finish the set-up with the app's first code; shows the recovery codes once."""
    form = SetupCodeForm(request.POST)
    if form.is_valid():
        try:
            codes = totp_device_confirm(
                user=request.user,
                device_id=request.session.get(SETUP_KEY) or 0,
                code=form.cleaned_data["code"],
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            request.session.pop(SETUP_KEY, None)
            otp_login(request, TOTPDevice.objects.get(user=request.user, confirmed=True))
            messages.success(request, _("Two-factor sign-in is on."))
            return _codes_page(request, codes)
    else:
        messages.error(request, _("Type the 6 digits your app shows."))
    return redirect(_with_next(request, "frontend:security"))


@login_required
@require_POST
def security_codes(request: HttpRequest) -> HttpResponse:
    """New recovery codes, after the password; the old ones stop working."""
    form = PasswordConfirmForm(request.POST)
    if form.is_valid():
        try:
            codes = recovery_codes_regenerate(
                user=request.user, password=form.cleaned_data["password"]
            )
        except DomainError as exc:
            form_add_domain_error(form, exc)
            messages.error(request, exc.message)
        else:
            return _codes_page(request, codes)
    return redirect("frontend:security")


@login_required
@require_POST
def security_disable(request: HttpRequest) -> HttpResponse:
    """Turn two-factor sign-in off, after the password (not for staff and coordinators)."""
    form = PasswordConfirmForm(request.POST)
    if form.is_valid():
        try:
            two_factor_disable(user=request.user, password=form.cleaned_data["password"])
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Two-factor sign-in is off."))
    return redirect("frontend:security")


urlpatterns = [
    path("security/", security, name="security"),
    path("security/start/", security_start, name="security-start"),
    path("security/confirm/", security_confirm, name="security-confirm"),
    path("security/codes/", security_codes, name="security-codes"),
    path("security/disable/", security_disable, name="security-disable"),
    path("security/verify/", verify, name="two-factor-verify"),
]
