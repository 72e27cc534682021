"""Two-factor sign-in in the admin: staff reset a lost phone, and never see a secret key.

django-otp's own device admins show each authenticator's secret key and QR
code and let staff add or delete devices with no trail; they are removed, and
the one thing staff need (a reset, with its reason, audited) is a User action.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from marketplace.models import User
from marketplace.two_factor import two_factor_reset

for _model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


class ResetReasonForm(forms.Form):
    reason = forms.CharField(
        label="How the person proved who they are",
        max_length=2000,
        widget=forms.Textarea,
    )


@admin.action(description="Reset two-factor sign-in (lost phone)…", permissions=["change"])
def reset_two_factor(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[User]
) -> TemplateResponse | None:
    """Ask for the reason on a page of its own, then remove each account's authenticator and
    recovery codes (`two_factor_reset`, audited as `user.two_factor_reset`)."""
    form = ResetReasonForm(request.POST if "confirm" in request.POST else None)
    if not form.is_bound or not form.is_valid():
        return TemplateResponse(
            request,
            "admin/marketplace/user/two_factor_reset.html",
            {
                **modeladmin.admin_site.each_context(request),
                "title": "Reset two-factor sign-in",
                "opts": modeladmin.model._meta,
                "users": queryset.order_by("email"),
                "form": form,
                "action": "reset_two_factor",
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            },
        )
    for user in queryset.order_by("pk"):
        two_factor_reset(user_id=user.pk, by=request.user, reason=form.cleaned_data["reason"])
    modeladmin.message_user(
        request,
        f"Two-factor sign-in reset for {queryset.count()} account(s). Staff and coordinators "
        "set it up again at their next sign-in; others sign in with their password alone.",
        messages.SUCCESS,
    )
    return None
