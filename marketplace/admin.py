"""Admin of the participants, and the helpers every app's admin shares.

`money_column` shows integer minor units with their currency, `minor_units_parse`
reads an amount typed by staff, `ReadOnlyAdmin` shows rows only services write.
Staff switching an account on or off, or changing its rights, go through the
services that write the audit trail (`AuditEntryAdmin` shows it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserChangeForm as BaseUserChangeForm
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from marketplace.admin_privacy import erase_accounts, export_personal_data
from marketplace.admin_two_factor import reset_two_factor
from marketplace.errors import DomainError
from marketplace.models import (
    AuditEntry,
    Company,
    CompanyMembership,
    FailedTask,
    Notification,
    OutboundEmail,
    Skill,
    StudentProfile,
    User,
)
from marketplace.money import Money, minor_unit_exponent
from marketplace.notifications import outbound_email_retry
from marketplace.services import (
    failed_task_retry,
    user_access_change_refusal,
    user_deactivate,
    user_reactivate,
    user_rights_change_record,
    user_rights_snapshot,
)


def money_format(amount: int | None, currency: str) -> str:
    """`amount` minor units of `currency` as staff read it (`1,050.00 EUR`), `—` when unknown.

    An amount whose currency is not an ISO code (say a gateway object without
    one) is shown as the bare integer.
    """
    if amount is None:
        return "—"
    try:
        return Money(amount, currency.upper()).format()
    except ValueError:
        return str(amount)


def money_column(
    amount_field: str,
    *,
    currency_field: str = "currency",
    description: str,
    sortable: bool = True,
) -> Callable[[admin.ModelAdmin, Any], str]:
    """A ModelAdmin column (list_display or readonly field) for an amount in minor units.

    `amount_field` and `currency_field` may follow relations with `__`
    (`milestone__escrow__amount_cents`) or name a property (then pass
    `sortable=False`); a sortable column sorts by the amount.
    """

    def read(obj: Any, path: str) -> Any:
        for name in path.split("__"):
            obj = getattr(obj, name) if obj is not None else None
        return obj

    @admin.display(description=description, ordering=amount_field if sortable else None)
    def column(_admin: admin.ModelAdmin, obj: Any) -> str:
        return money_format(read(obj, amount_field), read(obj, currency_field) or "")

    return column


def minor_units_parse(text: str, currency: str) -> int:
    """An amount typed in major units (`1050.5`, `1,050.50`) as integer minor units of `currency`.

    Exact decimal arithmetic, never floats. Raises forms.ValidationError for
    text that is not a number, a negative amount, or more decimals than the
    currency has (none for JPY).
    """
    exponent = minor_unit_exponent(currency)
    try:
        value = Decimal(text.replace(",", "").replace(" ", "").strip())
    except InvalidOperation as exc:
        raise forms.ValidationError("Enter an amount such as 1050.00.") from exc
    if not value.is_finite() or value < 0:
        raise forms.ValidationError("Enter an amount of zero or more.")
    minor = value.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise forms.ValidationError(f"{currency} amounts have at most {exponent} decimals.")
    return int(minor)


# A link typed without a scheme is https:// (Django 6.0's default, chosen now).
HTTPS_URLS = {models.URLField: {"assume_scheme": "https"}}


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by services only (money, ledger, audit trails): staff read, never edit."""

    formfield_overrides = HTTPS_URLS

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class StatusEventInline(admin.TabularInline):
    """The moves of a lifecycle (`marketplace.states`) under the row that moved: read only."""

    extra = 0
    can_delete = False
    fields = ["created_at", "from_status", "to_status", "actor", "note"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("actor")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class StatusEventAdmin(ReadOnlyAdmin):
    """The changelist of a lifecycle's event rows (`marketplace.models.StatusEvent`).

    A subclass names the foreign key to the row that moved (`subject`) and what
    to search; the columns, filters and joins follow from it.
    """

    subject = ""
    list_filter = ["to_status"]
    date_hierarchy = "created_at"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.list_display = ["created_at", cls.subject, "from_status", "to_status", "actor", "note"]
        cls.list_select_related = [cls.subject, "actor"]


class UserChangeForm(BaseUserChangeForm):
    """The User admin's change form, with the reason written to the audit trail."""

    access_reason = forms.CharField(
        label="Reason for a change of access",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Kept in the audit trail with any change to active, staff status, "
        "superuser status, groups or permissions. Required to deactivate an account.",
    )
    # Set per request by `UserAdmin.get_form`: who is making the change.
    acting_user: User | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if "is_active" in self.changed_data and self.acting_user is not None:
            refusal = user_access_change_refusal(user=self.instance, by=self.acting_user)
            if refusal is not None:
                self.add_error("is_active", refusal)
            elif not data.get("is_active") and not data.get("access_reason", "").strip():
                self.add_error("access_reason", "Say why the account is deactivated.")
        return data


class AccessReasonForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=2000, widget=forms.Textarea)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Accounts. Switching one on or off goes through `user_deactivate`/`user_reactivate`
    (tokens revoked, audited); a change of staff status, superuser status, groups or
    permissions is audited (`user.rights_change`, before and after)."""

    form = UserChangeForm
    ordering = ["email"]
    list_display = [
        "email",
        "first_name",
        "last_name",
        "role",
        "is_staff",
        "is_active",
        "date_joined",
        "erased_at",
    ]
    list_filter = [
        "role",
        "is_staff",
        "is_active",
        "language",
        ("erased_at", admin.EmptyFieldListFilter),
    ]
    search_fields = ["email", "first_name", "last_name"]
    date_hierarchy = "date_joined"
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Person", {"fields": ["first_name", "last_name", "role", "language"]}),
        (
            "Access",
            {
                "fields": [
                    "is_active",
                    "is_staff",
                    "is_superuser",
                    "groups",
                    "user_permissions",
                    "access_reason",
                ]
            },
        ),
        ("Dates", {"fields": ["last_login", "date_joined", "erased_at"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "role", "password1", "password2"]})
    ]
    actions = [
        "deactivate_users",
        "reactivate_users",
        export_personal_data,
        erase_accounts,
        reset_two_factor,
    ]
    readonly_fields = ["erased_at"]

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, **kwargs)
        form.acting_user = request.user
        return form

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        form.rights_before = user_rights_snapshot(user_id=obj.pk)
        reason = form.cleaned_data.get("access_reason", "")
        switched = "is_active" in form.changed_data
        if switched:
            # The rest is saved as typed; the switch itself is the service's (tokens, audit).
            obj.is_active = not obj.is_active
        super().save_model(request, obj, form, change)
        if switched:
            service = user_reactivate if form.cleaned_data["is_active"] else user_deactivate
            obj.is_active = service(user_id=obj.pk, by=request.user, reason=reason).is_active

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if change:
            user_rights_change_record(
                user_id=form.instance.pk,
                by=request.user,
                before=form.rights_before,
                reason=form.cleaned_data.get("access_reason", ""),
            )

    def _access_action(
        self, request: HttpRequest, queryset: QuerySet[User], *, deactivate: bool
    ) -> TemplateResponse | None:
        """Ask for the reason on a page of its own, then switch each account through its service.

        Accounts already in the wanted state are skipped; refusals (oneself, a
        superuser) are listed and the others go on.
        """
        action = "deactivate_users" if deactivate else "reactivate_users"
        form = AccessReasonForm(request.POST if "confirm" in request.POST else None)
        if not deactivate:
            form.fields["reason"].required = False
        if not form.is_bound or not form.is_valid():
            return TemplateResponse(
                request,
                "admin/marketplace/user/access_change.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Deactivate accounts" if deactivate else "Reactivate accounts",
                    "opts": self.model._meta,
                    "users": queryset.order_by("email"),
                    "form": form,
                    "action": action,
                    "action_checkbox_name": ACTION_CHECKBOX_NAME,
                },
            )
        service = user_deactivate if deactivate else user_reactivate
        done, refused = 0, []
        for user in queryset.filter(is_active=deactivate).order_by("pk"):
            try:
                service(user_id=user.pk, by=request.user, reason=form.cleaned_data["reason"])
            except DomainError as exc:
                refused.append(f"{user.email}: {exc.message}")
            else:
                done += 1
        verb = "deactivated" if deactivate else "reactivated"
        self.message_user(request, f"{done} account(s) {verb}.")
        if refused:
            self.message_user(request, "Refused: " + "; ".join(refused), messages.WARNING)
        return None

    @admin.action(description="Deactivate the selected accounts…", permissions=["change"])
    def deactivate_users(
        self, request: HttpRequest, queryset: QuerySet[User]
    ) -> TemplateResponse | None:
        return self._access_action(request, queryset, deactivate=True)

    @admin.action(description="Reactivate the selected accounts…", permissions=["change"])
    def reactivate_users(
        self, request: HttpRequest, queryset: QuerySet[User]
    ) -> TemplateResponse | None:
        return self._access_action(request, queryset, deactivate=False)


class MembershipInline(admin.TabularInline):
    model = CompanyMembership
    autocomplete_fields = ["user"]
    extra = 0


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    formfield_overrides = HTTPS_URLS
    list_display = ["name", "website", "created_at"]
    search_fields = ["name", "website"]
    date_hierarchy = "created_at"
    inlines = [MembershipInline]


@admin.register(CompanyMembership)
class CompanyMembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "company", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "company__name"]
    list_select_related = ["user", "company"]
    autocomplete_fields = ["user", "company"]


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "category"]
    search_fields = ["name", "slug"]
    list_filter = ["category"]


@admin.register(StudentProfile)
class StudentProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "headline", "availability", "day_rate", "updated_at"]
    list_filter = ["availability", "currency"]
    search_fields = ["user__email", "user__first_name", "user__last_name", "headline"]
    list_select_related = ["user"]
    # Tens of thousands of skills: a search box, not a select listing them all.
    autocomplete_fields = ["user", "skills"]
    day_rate = money_column("day_rate_cents", description="day rate")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "title", "created_at", "read_at"]
    list_filter = ["kind", ("read_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__email", "title", "key"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    readonly_fields = ["user", "key", "kind", "title", "url", "created_at", "read_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.action(description="Send again")
def retry_emails(modeladmin, request, queryset):  # type: ignore[no-untyped-def]
    for email in queryset.exclude(status=OutboundEmail.Status.SENT):
        outbound_email_retry(email_id=email.pk)
    modeladmin.message_user(request, "The selected unsent e-mails are queued again.")


@admin.register(OutboundEmail)
class OutboundEmailAdmin(admin.ModelAdmin):
    """E-mails as rendered; failed ones show their error and can be sent again."""

    list_display = ["template", "to", "status", "attempts", "created_at", "sent_at"]
    list_filter = ["status", "template", "language"]
    search_fields = ["to", "key", "subject"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in OutboundEmail._meta.fields]
    actions = [retry_emails]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.action(description="Run again")
def retry_failed_tasks(modeladmin, request, queryset):  # type: ignore[no-untyped-def]
    for failed in queryset:
        failed_task_retry(failed_task_id=failed.pk, by=request.user)
    modeladmin.message_user(request, "The selected tasks are queued again.")


@admin.register(FailedTask)
class FailedTaskAdmin(admin.ModelAdmin):
    """Background work that failed after its retries, with the error; staff can run it again."""

    list_display = ["task_name", "error", "created_at", "retried_at"]
    list_filter = ["task_name", ("retried_at", admin.EmptyFieldListFilter)]
    search_fields = ["task_name", "error"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in FailedTask._meta.fields]
    actions = [retry_failed_tasks]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """The audit trail: staff actions that moved money or changed someone's rights.

    Read only, no actions; shown to staff holding `marketplace.view_auditentry`
    (superusers). The subject links to its admin page when its model has one.
    """

    list_display = ["created_at", "actor_email", "action", "subject", "reason"]
    list_filter = ["action", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["actor_email", "=subject_id", "reason"]
    date_hierarchy = "created_at"
    actions = None
    fields = ["created_at", "actor_email", "actor_id", "action", "subject", "detail_json", "reason"]
    readonly_fields = fields

    @admin.display(description="subject")
    def subject(self, obj: AuditEntry) -> str:
        if not obj.subject_type:
            return "—"
        label = f"{obj.subject_type} {obj.subject_id}"
        app_label, _, model = obj.subject_type.partition(".")
        try:
            url = reverse(
                f"admin:{app_label}_{model}_change",
                args=[obj.subject_id],
                current_app=self.admin_site.name,
            )
        except NoReverseMatch:
            return label
        return format_html('<a href="{}">{}</a>', url, label)

    @admin.display(description="detail")
    def detail_json(self, obj: AuditEntry) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.detail, indent=2, sort_keys=True))
