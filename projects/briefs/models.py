"""Briefs (what a company wants done) and the students' bids on them."""

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
        db_table = "projects_project"
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
        db_table = "projects_bid"
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


class ProjectEvent(models.Model):
    """One row per status change of a brief (who, from, to, when, note)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="events")
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


class BidEvent(models.Model):
    """One row per status change of a bid (who, from, to, when, note)."""

    bid = models.ForeignKey(Bid, on_delete=models.CASCADE, related_name="events")
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
