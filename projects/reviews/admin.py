from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from projects.reviews.models import Review, ReviewReply


class ReviewReplyInline(admin.StackedInline):
    model = ReviewReply
    extra = 0
    can_delete = False
    readonly_fields = ["author", "body", "created_at"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    """Staff read every review, private feedback included; nobody edits one."""

    list_display = ["id", "contract", "role", "author", "rating", "created_at"]
    list_filter = ["role", "rating"]
    search_fields = ["comment", "private_feedback", "author__email", "contract__project__title"]
    list_select_related = ["contract", "author"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "contract",
        "role",
        "author",
        "subject_user",
        "subject_company",
        "rating",
        "quality",
        "communication",
        "deadlines",
        "comment",
        "private_feedback",
        "created_at",
        "subject_told_at",
    ]
    inlines = [ReviewReplyInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ReviewReply)
class ReviewReplyAdmin(admin.ModelAdmin):
    list_display = ["review", "author", "created_at"]
    search_fields = ["body", "author__email"]
    list_select_related = ["review", "author"]
    readonly_fields = ["review", "author", "body", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
