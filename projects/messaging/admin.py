from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from marketplace.admin import ReadOnlyAdmin
from projects.messaging.models import Attachment, Message, Thread, ThreadRead


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    can_delete = False
    fields = ["author", "body", "created_at"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        return super().get_queryset(request).select_related("author")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Thread)
class ThreadAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "student", "created_at"]
    search_fields = ["project__title", "student__email"]
    list_select_related = ["project", "student"]
    date_hierarchy = "created_at"
    readonly_fields = ["project", "student", "created_at"]
    inlines = [MessageInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ThreadRead)
class ThreadReadAdmin(ReadOnlyAdmin):
    list_display = ["thread", "user", "last_read_at"]
    search_fields = ["user__email"]
    list_select_related = ["thread", "user"]


class AttachmentInline(admin.TabularInline):
    model = Attachment
    fk_name = "message"
    extra = 0
    can_delete = False
    fields = ["uuid", "name", "content_type", "size", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "thread", "author", "created_at"]
    search_fields = ["body", "author__email"]
    list_select_related = ["thread", "author"]
    date_hierarchy = "created_at"
    readonly_fields = ["thread", "author", "body", "created_at"]
    inlines = [AttachmentInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    """Metadata only: files are downloaded through the API route, which checks access."""

    list_display = ["name", "content_type", "size", "uploaded_by", "delivery", "message"]
    list_filter = ["content_type"]
    search_fields = ["name", "sha256", "uuid"]
    list_select_related = ["uploaded_by", "delivery", "message"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "uuid",
        "delivery",
        "message",
        "uploaded_by",
        "name",
        "content_type",
        "size",
        "sha256",
        "storage_name",
        "created_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
