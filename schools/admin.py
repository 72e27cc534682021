from django.contrib import admin

from schools.models import (
    Coordinator,
    EnrolmentVerification,
    School,
    SchoolDomain,
    VerificationEvent,
)


class DomainInline(admin.TabularInline):
    model = SchoolDomain
    extra = 0


@admin.action(description="Mark as partner schools")
def mark_partner(modeladmin, request, queryset):  # type: ignore[no-untyped-def]
    changed = queryset.update(is_partner=True)
    modeladmin.message_user(request, f"{changed} schools are partners now.")


@admin.action(description="Remove from partner schools")
def unmark_partner(modeladmin, request, queryset):  # type: ignore[no-untyped-def]
    changed = queryset.update(is_partner=False)
    modeladmin.message_user(request, f"{changed} schools are no longer partners.")


@admin.register(School)
class SchoolAdmin(admin.ModelAdmin):
    """Schools from the public list; staff choose the partner schools (list filter, actions)."""

    list_display = ["name", "country", "is_partner"]
    list_filter = ["is_partner", "country"]
    search_fields = ["name", "domains__domain"]
    inlines = [DomainInline]
    actions = [mark_partner, unmark_partner]


@admin.register(Coordinator)
class CoordinatorAdmin(admin.ModelAdmin):
    list_display = ["user", "school"]
    raw_id_fields = ["user", "school"]
    search_fields = ["user__email", "school__name"]


class EventInline(admin.TabularInline):
    model = VerificationEvent
    extra = 0
    can_delete = False
    readonly_fields = ["actor", "from_status", "to_status", "reason", "created_at"]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(EnrolmentVerification)
class EnrolmentVerificationAdmin(admin.ModelAdmin):
    """Read-only here: decisions go through the coordinator's routes so they are audited."""

    list_display = ["student", "school", "school_email", "status", "graduation_date", "created_at"]
    list_filter = ["status"]
    search_fields = ["student__email", "school_email", "school__name"]
    readonly_fields = [f.name for f in EnrolmentVerification._meta.fields]
    inlines = [EventInline]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False
