"""Sign up, sign in and sign out in the browser (cookie sign-in, not the API's tokens)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView, LogoutView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django_otp import user_has_device

from frontend.forms import SignInForm, SignUpForm, form_add_domain_error
from frontend.views.two_factor import signin_pending_start
from marketplace.errors import DomainError
from marketplace.middleware import two_factor_exempt
from marketplace.services import user_register
from marketplace.two_factor import two_factor_enabled, two_factor_role


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Create the account (and the company for a company member), then sign in."""
    if request.user.is_authenticated:
        return redirect("frontend:home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = user_register(**form.cleaned_data)
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, _("Welcome! Your account is ready."))
            return redirect("frontend:home")
    return render(request, "frontend/accounts/signup.html", {"form": form})


class SignInView(LoginView):
    """Django's sign-in view with the e-mail form and a message."""

    template_name = "frontend/accounts/signin.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True

    def form_valid(self, form: SignInForm) -> HttpResponse:
        user = form.get_user()
        if user_has_device(user, confirmed=True):
            return signin_pending_start(self.request, user, self.get_success_url())
        response = super().form_valid(form)
        messages.success(self.request, _("You are signed in."))
        return response


@method_decorator(two_factor_exempt, name="dispatch")
class SignOutView(LogoutView):
    """Sign out (POST only, as Django requires) and say so."""

    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        messages.info(request, _("You are signed out."))
        return response


@login_required
@require_http_methods(["GET"])
def account(request: HttpRequest) -> HttpResponse:
    """The account's own pages: security, password, personal data."""
    return render(
        request,
        "frontend/account/index.html",
        {
            "two_factor_on": two_factor_enabled(request.user),
            "two_factor_required": two_factor_role(request.user),
        },
    )
