"""Forgotten and changed passwords on the web (cookie sign-in).

The rules live in `marketplace.credentials`: the reset link is single-use and
expires; setting or changing a password ends every token and every other
session of the account.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from frontend.forms import form_add_domain_error
from frontend.forms.passwords import NewPasswordForm, PasswordChangeForm, PasswordResetRequestForm
from marketplace.credentials import (
    password_change,
    password_reset_confirm,
    password_reset_request,
    password_reset_user,
)
from marketplace.errors import DomainError

# The token leaves the address for the session before the form shows, as Django's own
# reset view does: it never reaches the history, a Referer header or an analytics log.
RESET_TOKEN_SESSION_KEY = "_password_reset_token"
RESET_TOKEN_PLACEHOLDER = "set-password"


@require_http_methods(["GET", "POST"])
def reset_request(request: HttpRequest) -> HttpResponse:
    """Ask for a reset link; the next page is the same whether the account exists or not."""
    form = PasswordResetRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        password_reset_request(email=form.cleaned_data["email"])
        return redirect("frontend:password-reset-sent")
    return render(request, "frontend/accounts/password_reset.html", {"form": form})


@require_GET
def reset_sent(request: HttpRequest) -> HttpResponse:
    """The "check your inbox" page, shown whether the account exists or not."""
    return render(request, "frontend/accounts/password_reset_sent.html")


def _invalid_link(request: HttpRequest) -> HttpResponse:
    return render(request, "frontend/accounts/password_reset_invalid.html", {"validlink": False})


@never_cache
@sensitive_post_parameters("new_password1", "new_password2")
@require_http_methods(["GET", "POST"])
def reset_confirm(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """Set a new password from the e-mailed link, then sign in with it."""
    if token != RESET_TOKEN_PLACEHOLDER:
        if password_reset_user(uid=uidb64, token=token) is None:
            return _invalid_link(request)
        request.session[RESET_TOKEN_SESSION_KEY] = token
        return redirect(
            "frontend:password-reset-confirm", uidb64=uidb64, token=RESET_TOKEN_PLACEHOLDER
        )
    token = request.session.get(RESET_TOKEN_SESSION_KEY, "")
    if password_reset_user(uid=uidb64, token=token) is None:
        return _invalid_link(request)
    form = NewPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            password_reset_confirm(
                uid=uidb64, token=token, new_password=form.cleaned_data["new_password1"]
            )
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            request.session.pop(RESET_TOKEN_SESSION_KEY, None)
            messages.success(request, _("Your password is changed. Sign in with it."))
            return redirect("frontend:signin")
    return render(
        request, "frontend/accounts/password_reset_confirm.html", {"form": form, "validlink": True}
    )


@login_required
@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@require_http_methods(["GET", "POST"])
def change(request: HttpRequest) -> HttpResponse:
    """Change the password: this session stays signed in, every other one ends."""
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = password_change(
                user=request.user,
                old_password=form.cleaned_data["old_password"],
                new_password=form.cleaned_data["new_password1"],
            )
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            update_session_auth_hash(request, user)
            messages.success(
                request, _("Your password is changed. Your other devices are signed out.")
            )
            return redirect("frontend:home")
    return render(request, "frontend/accounts/password_change.html", {"form": form})
