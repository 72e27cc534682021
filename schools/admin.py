from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from marketplace.admin import ReadOnlyAdmin
from marketplace.errors import ValidationFailed
from schools.addresses import school_email_canonical
from schools.models import (
    Coordinator,
    EnrolmentVerification,
    School,
    SchoolDomain,
    VerificationEvent,
)
from schools.services import coordinator_assign, coordinator_remove


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

    list_display = ["name", "country", "state_province", "is_partner", "created_at"]
    list_filter = ["is_partner", "country"]
    search_fields = ["name", "domains__domain"]
    inlines = [DomainInline]
    actions = [mark_partner, unmark_partner]


@admin.register(SchoolDomain)
class SchoolDomainAdmin(admin.ModelAdmin):
    list_display = ["domain", "school"]
    search_fields = ["domain", "school__name"]
    list_select_related = ["school"]
    autocomplete_fields = ["school"]


@admin.register(Coordinator)
class CoordinatorAdmin(admin.ModelAdmin):
    """Who coordinates which school. Assigning, moving and removing one is audited."""

    list_display = ["user", "school", "created_at"]
    search_fields = ["user__email", "user__last_name", "school__name"]
    list_select_related = ["user", "school"]
    autocomplete_fields = ["user", "school"]
    date_hierarchy = "created_at"
    fields = ["user", "school"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["user"] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Coordinator, form: Any, change: bool) -> None:
        saved = coordinator_assign(user=obj.user, school=obj.school, by=request.user)
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: Coordinator) -> None:
        coordinator_remove(coordinator_id=obj.pk, by=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Coordinator]) -> None:
        for pk in queryset.values_list("pk", flat=True):
            coordinator_remove(coordinator_id=pk, by=request.user)


class EventInline(admin.TabularInline):
    model = VerificationEvent
    extra = 0
    can_delete = False
    readonly_fields = ["actor", "from_status", "to_status", "reason", "created_at"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(EnrolmentVerification)
class EnrolmentVerificationAdmin(admin.ModelAdmin):
    """Read-only here: decisions go through the coordinator's routes so they are audited."""

    list_display = ["student", "school", "school_email", "status", "graduation_date", "created_at"]
    list_filter = ["status", "school__is_partner", "school__country"]
    # The canonical address finds every spelling of one mailbox (`schools.addresses`).
    search_fields = ["student__email", "school_email", "school_email_canonical", "school__name"]
    list_select_related = ["student", "school"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in EnrolmentVerification._meta.fields]
    inlines = [EventInline]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[EnrolmentVerification], search_term: str
    ) -> tuple[QuerySet[EnrolmentVerification], bool]:
        """Also find the other spellings of a searched address (`A+x@School.EDU` finds `a@…`)."""
        found, duplicates = super().get_search_results(request, queryset, search_term)
        try:
            canonical = school_email_canonical(search_term)
        except ValidationFailed:
            return found, duplicates
        return found | queryset.filter(school_email_canonical=canonical), duplicates

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    # Deleting one would take its audit trail with it.
    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(VerificationEvent)
class VerificationEventAdmin(ReadOnlyAdmin):
    """The verification audit trail: who moved which request from what to what, and why."""

    list_display = ["created_at", "verification", "from_status", "to_status", "actor", "reason"]
    list_filter = ["to_status"]
    search_fields = [
        "verification__student__email",
        "verification__school_email",
        "verification__school_email_canonical",
        "verification__school__name",
        "actor__email",
    ]
    list_select_related = ["verification__student", "verification__school", "actor"]
    date_hierarchy = "created_at"
