"""Request middleware of the site: the second factor held at the door of every page and
API call made by cookie (the Content-Security-Policy is `marketplace.csp`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, resolve_url
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django_otp import user_has_device

from marketplace.two_factor import two_factor_required

ViewFunc = Callable[..., HttpResponse]


def two_factor_exempt(view: ViewFunc) -> ViewFunc:
    """Mark a view that a signed-in user who still owes a second factor may open
    (setting it up, giving the code, signing out)."""
    view.two_factor_exempt = True  # type: ignore[attr-defined]
    return view


class TwoFactorRequiredMiddleware:
    """Staff and coordinators signed in by cookie reach nothing but the two-factor pages
    until their session is verified by a second factor (`marketplace.two_factor`).

    Pages redirect to `TWO_FACTOR_VERIFY_URL` (a device exists) or
    `TWO_FACTOR_SETUP_URL` (none yet) with `next`; API calls by session answer
    403 with code `two_factor_required`. Token (JWT) calls are checked by
    `marketplace.api.authentication.JWTAuthentication` instead. Runs after
    django-otp's OTPMiddleware, which sets `user.is_verified()`.
    """

    def __init__(self, get_response: ViewFunc) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: ViewFunc, args: Any, kwargs: Any
    ) -> HttpResponse | None:
        user = request.user
        if getattr(view_func, "two_factor_exempt", False) or not two_factor_required(user):
            return None
        if user.is_verified():
            return None
        if getattr(view_func, "cls", None) is not None and request.path.startswith("/api/"):
            return JsonResponse(
                {
                    "detail": _("Sign in with your second factor first."),
                    "code": "two_factor_required",
                },
                status=403,
            )
        has_device = user_has_device(user, confirmed=True)
        target = settings.TWO_FACTOR_VERIFY_URL if has_device else settings.TWO_FACTOR_SETUP_URL
        return redirect(f"{resolve_url(target)}?{urlencode({'next': request.get_full_path()})}")
