"""Your data: download everything the platform holds about you, or erase your account.

The same services as the API (`marketplace.privacy`); the download shares the
API's per-user budget (PERSONAL_DATA_EXPORT_RATE). The routes are at the end
(`urlpatterns`, included under `/account/`).
"""

from __future__ import annotations

from types import SimpleNamespace

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from frontend.forms import form_add_domain_error
from frontend.forms.privacy import AccountEraseForm
from marketplace.api.privacy import PersonalDataExportThrottle
from marketplace.errors import DomainError
from marketplace.privacy import (
    account_erase,
    account_erase_blockers,
    password_confirm,
    personal_data_export,
    personal_data_sections,
)


@require_GET
@login_required
def data(request: HttpRequest) -> HttpResponse:
    """What we hold, the download button, and the way to erase the account."""
    return render(
        request,
        "frontend/account/data.html",
        {
            "sections": personal_data_sections(),
            "blockers": account_erase_blockers(user=request.user),
        },
    )


@require_POST
@login_required
def data_export(request: HttpRequest) -> HttpResponse:
    """The ZIP of `personal_data_export`, as a download (POST: never fetched ahead)."""
    throttle = PersonalDataExportThrottle()
    if not throttle.allow_request(request, SimpleNamespace(throttle_scope=throttle.scope)):
        messages.error(request, _("You downloaded your data a few times already: try later."))
        return redirect("frontend:account-data")
    response = HttpResponse(personal_data_export(user=request.user), "application/zip")
    name = f"personal-data-{request.user.pk}.zip"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
@login_required
def erase(request: HttpRequest) -> HttpResponse:
    """The confirmation step: blockers if any, else the password and an explicit checkbox.

    Once erased the session ends and the visitor lands on the landing page.
    """
    blockers = account_erase_blockers(user=request.user)
    form = AccountEraseForm(request.POST or None)
    if request.method == "POST" and not blockers and form.is_valid():
        try:
            password_confirm(user=request.user, password=form.cleaned_data["password"])
            account_erase(
                user_id=request.user.pk, by=request.user, reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            blockers = exc.extra.get("blockers", [])
            form_add_domain_error(form, exc)
        else:
            logout(request)
            messages.success(request, _("Your account is erased. Goodbye."))
            return redirect("frontend:landing")
    return render(request, "frontend/account/erase.html", {"form": form, "blockers": blockers})


urlpatterns = [
    path("data/", data, name="account-data"),
    path("data/export/", data_export, name="account-data-export"),
    path("erase/", erase, name="account-erase"),
]
