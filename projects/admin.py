from django.contrib import admin

from projects.models import (
    Attachment,
    Bid,
    Contract,
    Delivery,
    Message,
    Milestone,
    MilestoneEvent,
    Project,
    Review,
    ReviewReply,
)


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["title", "company", "status", "kind", "budget_cents", "currency", "created_at"]
    list_filter = ["status", "kind", "category", "currency", "visibility"]
    search_fields = ["title", "description", "company__name"]
    raw_id_fields = ["company", "created_by"]
    filter_horizontal = ["skills", "allowed_schools"]


@admin.register(Bid)
class BidAdmin(admin.ModelAdmin):
    list_display = ["project", "student", "amount_cents", "currency", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["project__title", "student__email"]
    raw_id_fields = ["project", "student"]


class MilestoneInline(admin.TabularInline):
    model = Milestone
    extra = 0
    fields = ["position", "title", "amount_cents", "currency", "due_date", "work_status", "escrow"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "company", "student", "amount_cents", "currency", "status"]
    list_filter = ["status", "currency"]
    search_fields = ["project__title", "company__name", "student__email"]
    readonly_fields = [
        "project",
        "bid",
        "company",
        "student",
        "amount_cents",
        "currency",
        "status",
        "created_at",
        "completed_at",
    ]
    inlines = [MilestoneInline]


class MilestoneEventInline(admin.TabularInline):
    model = MilestoneEvent
    extra = 0
    can_delete = False
    readonly_fields = ["actor", "from_status", "to_status", "note", "created_at"]


@admin.register(Milestone)
class MilestoneAdmin(admin.ModelAdmin):
    list_display = ["title", "contract", "amount_cents", "currency", "work_status", "due_date"]
    list_filter = ["work_status"]
    readonly_fields = [
        "contract",
        "position",
        "amount_cents",
        "currency",
        "work_status",
        "escrow",
        "submitted_at",
        "approved_at",
    ]
    inlines = [MilestoneEventInline]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["milestone", "url", "created_at"]
    raw_id_fields = ["milestone"]


class ReviewReplyInline(admin.StackedInline):
    model = ReviewReply
    extra = 0
    can_delete = False
    readonly_fields = ["author", "body", "created_at"]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    """Staff read every review, private feedback included; nobody edits one."""

    list_display = ["id", "contract", "role", "author", "rating", "created_at"]
    list_filter = ["role", "rating"]
    search_fields = ["comment", "private_feedback", "author__email", "contract__project__title"]
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

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


class AttachmentInline(admin.TabularInline):
    model = Attachment
    fk_name = "message"
    extra = 0
    can_delete = False
    fields = ["uuid", "name", "content_type", "size", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "thread", "author", "created_at"]
    search_fields = ["body", "author__email"]
    readonly_fields = ["thread", "author", "body", "created_at"]
    inlines = [AttachmentInline]


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    """Metadata only: files are downloaded through the API route, which checks access."""

    list_display = ["name", "content_type", "size", "uploaded_by", "delivery", "message"]
    list_filter = ["content_type"]
    search_fields = ["name", "sha256", "uuid"]
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
