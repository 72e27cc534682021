"""The work: briefs, bids, contracts, milestones and deliveries."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from marketplace.money import CURRENCY_CHOICES


class Project(models.Model):
    """A brief: what a company wants done, for what budget, by when.

    States: draft → open → in_progress → completed, or cancelled from draft/open.
    `visibility=schools` limits it to verified students of `allowed_schools`.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    class Kind(models.TextChoices):
        PROJECT = "project", "Project"
        MENTORING = "mentoring", "Reverse-mentoring programme"

    class Visibility(models.TextChoices):
        ALL = "all", "All verified students"
        SCHOOLS = "schools", "Chosen schools only"

    class Category(models.TextChoices):
        WEB = "web", "Website & web app"
        MOBILE = "mobile", "Mobile app"
        DATA = "data", "Data & AI"
        DESIGN = "design", "Design"
        MARKETING = "marketing", "Marketing & social media"
        BUSINESS = "business", "Business plan & strategy"
        MENTORING = "mentoring", "Digital mentoring"
        OTHER = "other", "Other"

    company = models.ForeignKey(
        "marketplace.Company", on_delete=models.PROTECT, related_name="projects"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="projects_created"
    )
    title = models.CharField(max_length=200)
    description = models.TextField()
    category = models.CharField(max_length=16, choices=Category.choices, default=Category.OTHER)
    skills = models.ManyToManyField("marketplace.Skill", blank=True, related_name="projects")
    budget_cents = models.BigIntegerField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, default="EUR")
    deadline = models.DateField(null=True, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PROJECT)
    visibility = models.CharField(max_length=16, choices=Visibility.choices, default=Visibility.ALL)
    allowed_schools = models.ManyToManyField("schools.School", blank=True, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)
    # PostgreSQL only (NULL elsewhere): title (A), skills (B) and description (C) in English
    # and French, kept by database triggers (migration 0004; see projects.search).
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["draft", "open", "in_progress", "completed", "cancelled"]),
                name="project_status_valid",
            ),
            models.CheckConstraint(condition=Q(budget_cents__gt=0), name="project_budget_positive"),
        ]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="project_status_created_idx"),
            # Created on PostgreSQL only by migration 0004 (SQLite has no GIN).
            GinIndex(fields=["search_vector"], name="project_search_vector_gin"),
        ]

    def __str__(self) -> str:
        return self.title


class Bid(models.Model):
    """A student's offer on a brief: one per student and brief.

    States: submitted → shortlisted → accepted | rejected; submitted/shortlisted → withdrawn.
    """

    class Status(models.TextChoices):
        SUBMITTED = "submitted", "Submitted"
        SHORTLISTED = "shortlisted", "Shortlisted"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        WITHDRAWN = "withdrawn", "Withdrawn"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="bids")
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bids"
    )
    amount_cents = models.BigIntegerField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    estimated_days = models.PositiveIntegerField()
    cover_letter = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SUBMITTED)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "student"], name="bid_one_per_student"),
            models.CheckConstraint(
                condition=Q(
                    status__in=["submitted", "shortlisted", "accepted", "rejected", "withdrawn"]
                ),
                name="bid_status_valid",
            ),
            models.CheckConstraint(condition=Q(amount_cents__gt=0), name="bid_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"Bid {self.pk} on {self.project_id}"


class Contract(models.Model):
    """The agreement made by accepting a bid: who does what for how much, in milestones.

    States: active → completed (every milestone released or refunded),
    active → cancelled, active ↔ disputed.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        DISPUTED = "disputed", "Disputed"

    project = models.OneToOneField(Project, on_delete=models.PROTECT, related_name="contract")
    bid = models.OneToOneField(Bid, on_delete=models.PROTECT, related_name="contract")
    company = models.ForeignKey(
        "marketplace.Company", on_delete=models.PROTECT, related_name="contracts"
    )
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="contracts"
    )
    amount_cents = models.BigIntegerField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["active", "completed", "cancelled", "disputed"]),
                name="contract_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Contract {self.pk}"


class Milestone(models.Model):
    """One paid step of a contract. Its money lives in `escrow` (payments app).

    `work_status` is the work's lifecycle (pending → submitted → approved, with
    changes_requested in between); the money's is `escrow.status`. The API's
    single `status` is derived from both (see `projects.selectors.milestone_status`).
    """

    class WorkStatus(models.TextChoices):
        PENDING = "pending", "Not delivered yet"
        SUBMITTED = "submitted", "Delivered, waiting for review"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"
        APPROVED = "approved", "Approved"

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="milestones")
    position = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    amount_cents = models.BigIntegerField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    due_date = models.DateField(null=True, blank=True)
    work_status = models.CharField(
        max_length=20, choices=WorkStatus.choices, default=WorkStatus.PENDING
    )
    escrow = models.OneToOneField(
        "payments.Escrow", on_delete=models.PROTECT, related_name="milestone"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["contract_id", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "position"], name="milestone_position_unique"
            ),
            models.CheckConstraint(
                condition=Q(amount_cents__gt=0), name="milestone_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(
                    work_status__in=["pending", "submitted", "changes_requested", "approved"]
                ),
                name="milestone_work_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.contract_id}/{self.position})"


class Delivery(models.Model):
    """What the student handed in for a milestone: a note and an optional link."""

    milestone = models.ForeignKey(Milestone, on_delete=models.CASCADE, related_name="deliveries")
    note = models.TextField(blank=True)
    url = models.URLField(blank=True, max_length=500)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"Delivery {self.pk} of milestone {self.milestone_id}"


class MilestoneEvent(models.Model):
    """One row per work-status change of a milestone (who, from, to, when, note)."""

    milestone = models.ForeignKey(Milestone, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    from_status = models.CharField(max_length=20)
    to_status = models.CharField(max_length=20)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"


class Dispute(models.Model):
    """A disagreement over one milestone: its money is frozen until staff settle it.

    Staff split what is held: `release_cents` towards the student and
    `refund_cents` back to the company, with a written `resolution_note` both
    parties read.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    milestone = models.ForeignKey(Milestone, on_delete=models.PROTECT, related_name="disputes")
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="disputes_opened"
    )
    reason = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="disputes_resolved",
    )
    release_cents = models.BigIntegerField(null=True, blank=True)
    refund_cents = models.BigIntegerField(null=True, blank=True)
    resolution_note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["milestone"],
                condition=Q(status="open"),
                name="dispute_one_open_per_milestone",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "resolved"]), name="dispute_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Dispute {self.pk} on milestone {self.milestone_id}: {self.status}"


class Review(models.Model):
    """What one party of an ended contract says about the other: one per side and contract.

    `role` says who reviews whom: the company reviews the student
    (`subject_user`) or the student reviews the company (`subject_company`).
    Ratings are whole stars, 1 to 5. `comment` is public once the double-blind
    rule allows it (see `projects.reviews`); `private_feedback` is read by
    staff only. A review is final once written: nothing edits it.
    """

    class Role(models.TextChoices):
        COMPANY_TO_STUDENT = "company_to_student", "The company reviews the student"
        STUDENT_TO_COMPANY = "student_to_company", "The student reviews the company"

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="reviews")
    role = models.CharField(max_length=24, choices=Role.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews_written"
    )
    subject_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reviews_received",
    )
    subject_company = models.ForeignKey(
        "marketplace.Company",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reviews_received",
    )
    rating = models.PositiveSmallIntegerField(help_text="overall, 1–5")
    quality = models.PositiveSmallIntegerField(help_text="1–5")
    communication = models.PositiveSmallIntegerField(help_text="1–5")
    deadlines = models.PositiveSmallIntegerField(help_text="1–5")
    comment = models.TextField(blank=True)
    private_feedback = models.TextField(blank=True, help_text="read by staff only")
    created_at = models.DateTimeField(default=timezone.now)
    subject_told_at = models.DateTimeField(
        null=True, blank=True, help_text="when the reviewed party was told they can read it"
    )

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "role"], name="review_one_per_side"),
            models.CheckConstraint(
                condition=Q(role__in=["company_to_student", "student_to_company"]),
                name="review_role_valid",
            ),
            models.CheckConstraint(
                condition=(
                    Q(
                        role="company_to_student",
                        subject_user__isnull=False,
                        subject_company__isnull=True,
                    )
                    | Q(
                        role="student_to_company",
                        subject_user__isnull=True,
                        subject_company__isnull=False,
                    )
                ),
                name="review_subject_matches_role",
            ),
            *(
                models.CheckConstraint(
                    condition=Q(**{f"{name}__gte": 1, f"{name}__lte": 5}),
                    name=f"review_{name}_1_to_5",
                )
                for name in ("rating", "quality", "communication", "deadlines")
            ),
        ]
        indexes = [
            models.Index(fields=["subject_user", "-created_at"], name="review_subject_user_idx"),
            models.Index(
                fields=["subject_company", "-created_at"], name="review_subject_company_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"Review {self.pk} ({self.role}) on contract {self.contract_id}"


class ReviewReply(models.Model):
    """The reviewed party's one public answer to a review."""

    review = models.OneToOneField(Review, on_delete=models.CASCADE, related_name="reply")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="review_replies"
    )
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "review replies"

    def __str__(self) -> str:
        return f"Reply to review {self.review_id}"


class Thread(models.Model):
    """The conversation between a brief's company and one student, in writing.

    It starts as questions on the brief; if that student's bid is accepted the
    same thread becomes the contract's, so what was agreed before stays in it.
    Participants: the student and the members of the brief's company.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="threads")
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="threads"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "student"], name="thread_one_per_student"),
        ]

    def __str__(self) -> str:
        return f"Thread {self.pk} on {self.project_id} with {self.student_id}"


class Message(models.Model):
    """One message of a thread, stored exactly as its author typed it."""

    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="messages_written"
    )
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["thread", "created_at"], name="message_thread_created_idx")]

    def __str__(self) -> str:
        return f"Message {self.pk} in thread {self.thread_id}"


class ThreadRead(models.Model):
    """Up to when a participant has read a thread; later messages by others are unread."""

    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="reads")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    last_read_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["thread", "user"], name="threadread_one_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.thread_id} up to {self.last_read_at}"


class Attachment(models.Model):
    """A file delivered with a milestone or attached to a message, in private storage.

    `storage_name` is a random path in the default storage, never a public URL;
    the file is served by `GET /api/v1/files/<uuid>/` to those who may see its
    delivery or message. `content_type` is what the content was detected as,
    not what the client claimed. Exactly one of `delivery` and `message` is set.
    """

    uuid = models.UUIDField(unique=True, editable=False)
    delivery = models.ForeignKey(
        Delivery, on_delete=models.CASCADE, null=True, blank=True, related_name="files"
    )
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, null=True, blank=True, related_name="attachments"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    name = models.CharField(max_length=255, help_text="the file name to download it as")
    content_type = models.CharField(max_length=120)
    size = models.PositiveBigIntegerField(help_text="bytes")
    sha256 = models.CharField(max_length=64)
    storage_name = models.CharField(max_length=255, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(delivery__isnull=False, message__isnull=True)
                | Q(delivery__isnull=True, message__isnull=False),
                name="attachment_one_owner",
            ),
            models.CheckConstraint(condition=Q(size__gt=0), name="attachment_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name
