"""Forms of the password pages: ask for a reset link, set a new password, change it."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from frontend.forms import Form


def _password(label: str, autocomplete: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": autocomplete}),
    )


class PasswordResetRequestForm(Form):
    """The e-mail of the account whose password is forgotten."""

    email = forms.EmailField(
        label=_("E-mail"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )


class NewPasswordForm(Form):
    """A new password, typed twice (the service checks its strength). Django's field names,
    which password managers know."""

    service_fields = {"new_password": "new_password1"}
    new_password1 = _password(_("New password"), "new-password")
    new_password2 = _password(_("New password, again"), "new-password")

    def clean(self) -> dict:
        data = super().clean()
        first, again = data.get("new_password1"), data.get("new_password2")
        if first and again and first != again:
            self.add_error("new_password2", _("The two passwords differ."))
        return data


class PasswordChangeForm(NewPasswordForm):
    """The current password, then the new one twice."""

    old_password = _password(_("Current password"), "current-password")
    field_order = ["old_password", "new_password1", "new_password2"]
