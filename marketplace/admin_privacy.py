"""The User admin's personal-data actions: export one account's data, erase accounts.

Both call `marketplace.privacy`; an export by staff is written to the audit
trail (someone read a person's whole file), an erasure is audited by
`account_erase` itself.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from marketplace.audit import audit_record
from marketplace.errors import DomainError
from marketplace.models import User
from marketplace.privacy import account_erase, account_erase_blockers, personal_data_export


class EraseReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=2000,
        widget=forms.Textarea,
        help_text="Kept in the audit trail, e.g. the person's request and its date.",
    )


@admin.action(description="Export personal data (one account)", permissions=["view"])
def export_personal_data(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[User]
) -> HttpResponse | None:
    if queryset.count() != 1:
        modeladmin.message_user(request, "Select exactly one account to export.", messages.WARNING)
        return None
    user = queryset.get()
    archive = personal_data_export(user=user)
    audit_record(actor=request.user, action="user.export", subject=user)
    response = HttpResponse(archive, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="personal-data-{user.pk}.zip"'
    response["Cache-Control"] = "no-store"
    return response


@admin.action(description="Erase the selected accounts…", permissions=["delete"])
def erase_accounts(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[User]
) -> TemplateResponse | None:
    """A confirmation page asking for the reason, then `account_erase` for each account.

    Accounts already erased are skipped; blocked or refused ones are listed
    and the others go on.
    """
    form = EraseReasonForm(request.POST if "confirm" in request.POST else None)
    users = list(queryset.order_by("email"))
    if not form.is_bound or not form.is_valid():
        return TemplateResponse(
            request,
            "admin/marketplace/user/erase_confirm.html",
            {
                **modeladmin.admin_site.each_context(request),
                "title": "Erase accounts",
                "opts": modeladmin.model._meta,
                "users": users,
                "rows": [(u, account_erase_blockers(user=u)) for u in users],
                "form": form,
                "action": "erase_accounts",
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            },
        )
    done, refused = 0, []
    for user in users:
        if user.erased_at is not None:
            continue
        try:
            account_erase(user_id=user.pk, by=request.user, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            refused.append(f"{user.email}: {exc.message}")
        else:
            done += 1
    modeladmin.message_user(request, f"{done} account(s) erased.")
    if refused:
        modeladmin.message_user(request, "Not erased: " + "; ".join(refused), messages.WARNING)
    return None
