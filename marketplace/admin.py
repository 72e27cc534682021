from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from marketplace.models import (
    Company,
    CompanyMembership,
    FailedTask,
    Notification,
    OutboundEmail,
    Skill,
    StudentProfile,
    User,
)
from marketplace.notifications import outbound_email_retry
from marketplace.services import failed_task_retry


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "role", "is_staff", "is_active"]
    list_filter = ["role", "is_staff", "is_active"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Person", {"fields": ["first_name", "last_name", "role", "language"]}),
        (
            "Access",
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "role", "password1", "password2"]})
    ]


class MembershipInline(admin.TabularInline):
    model = CompanyMembership
    raw_id_fields = ["user"]
    extra = 0


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "category"]
    search_fields = ["name", "slug"]
    list_filter = ["category"]


@admin.register(StudentProfile)
class StudentProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "headline", "availability", "day_rate_cents", "currency"]
    list_filter = ["availability"]
    search_fields = ["user__email", "headline"]
    raw_id_fields = ["user"]
    filter_horizontal = ["skills"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "title", "created_at", "read_at"]
    list_filter = ["kind"]
    search_fields = ["user__email", "title", "key"]
    raw_id_fields = ["user"]


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
    readonly_fields = [f.name for f in OutboundEmail._meta.fields]
    actions = [retry_emails]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.action(description="Run again")
def retry_failed_tasks(modeladmin, request, queryset):  # type: ignore[no-untyped-def]
    for failed in queryset:
        failed_task_retry(failed_task_id=failed.pk)
    modeladmin.message_user(request, "The selected tasks are queued again.")


@admin.register(FailedTask)
class FailedTaskAdmin(admin.ModelAdmin):
    """Background work that failed after its retries, with the error; staff can run it again."""

    list_display = ["task_name", "error", "created_at", "retried_at"]
    list_filter = ["task_name"]
    search_fields = ["task_name", "error"]
    readonly_fields = [f.name for f in FailedTask._meta.fields]
    actions = [retry_failed_tasks]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False
