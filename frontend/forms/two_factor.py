"""Forms of two-factor sign-in: the code, and the password that guards turning it off."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from frontend.forms import Form


class CodeForm(Form):
    """A code from the authenticator app (6 digits) or a recovery code."""

    code = forms.CharField(
        label=_("Code"),
        max_length=64,
        help_text=_("The 6 digits your authenticator app shows, or one of your recovery codes."),
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}
        ),
    )


class PasswordConfirmForm(Form):
    """The account's password, asked again before a change to two-factor sign-in."""

    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class SetupCodeForm(CodeForm):
    """The first code of a new authenticator: recovery codes do not exist yet."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].help_text = _("The 6 digits your authenticator app shows now.")
