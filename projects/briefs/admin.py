from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from marketplace.admin import ReadOnlyAdmin, StatusEventAdmin, StatusEventInline, money_column
from projects.briefs.models import Bid, BidEvent, Project, ProjectEvent


class ProjectEventInline(StatusEventInline):
    model = ProjectEvent


class BidEventInline(StatusEventInline):
    model = BidEvent


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    """Briefs. Staff may correct the wording; status and money move through the services only."""

    list_display = ["title", "company", "status", "kind", "budget", "deadline", "created_at"]
    list_filter = ["status", "kind", "category", "currency", "visibility"]
    search_fields = ["title", "description", "company__name"]
    list_select_related = ["company"]
    date_hierarchy = "created_at"
    # Thousands of schools and skills: search boxes, not selects listing them all.
    autocomplete_fields = ["skills", "allowed_schools"]
    readonly_fields = [
        "company",
        "created_by",
        "status",
        "kind",
        "budget",
        "created_at",
        "published_at",
    ]
    fields = [
        "title",
        "description",
        "category",
        "skills",
        "deadline",
        "visibility",
        "allowed_schools",
        *readonly_fields,
    ]
    inlines = [ProjectEventInline]
    budget = money_column("budget_cents", description="budget")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Bid)
class BidAdmin(ReadOnlyAdmin):
    list_display = ["id", "project", "student", "amount", "estimated_days", "status", "created_at"]
    list_filter = ["status", "currency"]
    search_fields = ["project__title", "student__email"]
    list_select_related = ["project", "student"]
    date_hierarchy = "created_at"
    fields = [
        "project",
        "student",
        "amount",
        "estimated_days",
        "cover_letter",
        "status",
        "created_at",
        "decided_at",
    ]
    readonly_fields = fields
    inlines = [BidEventInline]
    amount = money_column("amount_cents", description="amount")


@admin.register(ProjectEvent)
class ProjectEventAdmin(StatusEventAdmin):
    subject = "project"
    search_fields = ["project__title", "actor__email", "note"]


@admin.register(BidEvent)
class BidEventAdmin(StatusEventAdmin):
    subject = "bid"
    search_fields = ["bid__project__title", "bid__student__email", "actor__email", "note"]
