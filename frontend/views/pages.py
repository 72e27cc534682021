"""The server-rendered pages. Thin: they call the apps' services and selectors."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from marketplace.errors import DomainError, TransientError
from marketplace.models import User
from payments.selectors import payout_account_get
from projects.contracts.selectors import marketplace_stats
from projects.contracts.services import student_payouts_refresh
from schools.selectors import verification_for_token
from schools.services import verification_confirm_email


@require_GET
def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "frontend/landing.html", {"stats": marketplace_stats()})


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """`{"status": "ok", "database": "ok"}`, or 503 when the database does not answer."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        return JsonResponse({"status": "error", "database": "unavailable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


@require_http_methods(["GET", "POST"])
def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    """The e-mailed link: the student confirms the school address, then the coordinator reviews.

    GET only reads (mail scanners open links): the page says what confirming
    does, or that the link is invalid, expired or already used, and its form
    POSTs the confirmation (`verification_confirm_email`), which shows the outcome.
    """
    try:
        if request.method == "POST":
            verification = verification_confirm_email(token=token)
        else:
            verification = verification_for_token(token=token)
    except DomainError as exc:
        return render(request, "frontend/verify_email.html", {"error": exc.message}, status=400)
    return render(request, "frontend/verify_email.html", {"verification": verification})


@never_cache
@require_http_methods(["GET", "POST"])
def payouts_return(request: HttpRequest) -> HttpResponse:
    """Where the payout onboarding sends the student back (and its refresh URL).

    Coming back proves nothing, and a GET writes nothing: it shows the state
    last recorded, and its form POSTs the check (htmx sends it as the page
    loads), which reads the account again from the gateway
    (`student_payouts_refresh`, which pays what waited for it) and shows its
    real state: ready, still being checked, or not connected. When the gateway
    cannot answer now, the state last recorded is shown with a note. htmx gets
    the state alone, to swap into the page.
    """
    user = request.user
    context: dict[str, object] = {"signed_in": user.is_authenticated}
    if user.is_authenticated and user.role == User.Role.STUDENT:
        context["student"] = True
        if request.method == "POST":
            context["checked"] = True
            try:
                context["account"] = student_payouts_refresh(user=user)
            except TransientError:
                context["account"] = payout_account_get(user_id=user.pk)
                context["stale"] = True
            if request.htmx:
                return render(request, "frontend/partials/payout_state.html", context)
        else:
            context["account"] = payout_account_get(user_id=user.pk)
    return render(request, "frontend/payouts_return.html", context)
