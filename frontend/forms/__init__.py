"""Forms of the web pages. They only validate; the views hand the cleaned data to services."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from frontend.money import to_minor
from marketplace.errors import DomainError
from marketplace.models import User


def form_add_domain_error(form: forms.Form, exc: DomainError) -> None:
    """Show a service's error beside the field it names, or above the form.

    A form whose fields are named differently from the service's arguments maps
    them in `service_fields` (e.g. `{"budget_cents": "budget"}`).
    """
    name = getattr(form, "service_fields", {}).get(exc.field, exc.field)
    form.add_error(name if name in form.fields else None, exc.message)


def cents_from(form: forms.Form, amount_field: str, currency: str) -> int | None:
    """The Decimal of `amount_field` as integer minor units of `currency`, or a field error."""
    amount: Decimal | None = form.cleaned_data.get(amount_field)
    if amount is None:
        return None
    try:
        return to_minor(amount, currency)
    except ValueError:
        form.add_error(amount_field, _("Too many decimals for this currency."))
        return None


class NoColonMixin:
    """Labels without Django's trailing colon, which French would space differently."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class Form(NoColonMixin, forms.Form):
    """The pages' base form."""


class SignUpForm(Form):
    """A new company member (with their company) or a new student."""

    role = forms.ChoiceField(
        label=_("I am"),
        choices=[
            (User.Role.COMPANY, _("A company looking for students")),
            (User.Role.STUDENT, _("A student")),
        ],
        widget=forms.RadioSelect,
    )
    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150)
    company_name = forms.CharField(
        label=_("Company name"),
        max_length=200,
        required=False,
        help_text=_("Companies only: the name students will see."),
    )
    email = forms.EmailField(label=_("E-mail"), max_length=254)
    password = forms.CharField(
        label=_("Password"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 8 characters, not only digits, not a common password."),
    )

    def clean(self) -> dict:
        data = super().clean()
        if data.get("role") == User.Role.COMPANY and not data.get("company_name", "").strip():
            self.add_error("company_name", _("A company needs a name."))
        return data


class SignInForm(NoColonMixin, AuthenticationForm):
    """Django's sign-in form, asking for the e-mail (matched whatever its case)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("This e-mail and password do not match an account."),
    }
    username = forms.EmailField(
        label=_("E-mail"),
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )
