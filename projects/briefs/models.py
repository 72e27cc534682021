"""Briefs (what a company wants done) and the students' bids on them."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from marketplace.models import StatusEvent, User
from marketplace.money import CURRENCY_CHOICES
from marketplace.selectors import user_company_id
from schools.selectors import coordinator_school_id, verified_school_ids_of


def _for_schools(school_ids: Iterable[int]) -> Q:
    # Subqueries rather than joins: no duplicate rows to remove, and the planner keeps
    # using the status index on a large table.
    restricted = Project.allowed_schools.through.objects.filter(school_id__in=list(school_ids))
    return Q(visibility=Project.Visibility.ALL) | Q(pk__in=restricted.values("project_id"))


class ProjectQuerySet(models.QuerySet["Project"]):
    """The words briefs are filtered with: `Project.objects.visible_to(user)`."""

    def for_schools(self, school_ids: Iterable[int]) -> ProjectQuerySet:
        """Briefs meant for students of `school_ids`: open to all, or restricted to one of them."""
        return self.filter(_for_schools(school_ids))

    def visible_to(self, user: User) -> ProjectQuerySet:
        """The briefs `user` may see, without duplicates: the one rule, read by every list,
        detail, search and write that looks a brief up for someone.

        Staff see every brief; a company member their company's briefs and the open
        ones meant for all; a student the open ones meant for all or for a school where
        they are verified today, and those they bid on; a coordinator the open ones meant
        for all or for their school; anyone else the open ones meant for all.
        """
        open_ = Q(status=Project.Status.OPEN)
        if user.is_staff:
            return self.all()
        company_id = user_company_id(user=user)
        if company_id is not None:
            return self.filter(
                Q(company_id=company_id)
                | Q(status=Project.Status.OPEN, visibility=Project.Visibility.ALL)
            )
        if user.role == User.Role.STUDENT:
            bid_on = Bid.objects.filter(student=user).values("project_id")
            school_ids = verified_school_ids_of(user=user)
            return self.filter(open_ & _for_schools(school_ids) | Q(pk__in=bid_on))
        school_id = coordinator_school_id(user=user)
        if school_id is not None:
            return self.filter(open_ & _for_schools([school_id]))
        return self.filter(open_, visibility=Project.Visibility.ALL)


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
    # and French, kept by database triggers (projects migration 0004; see projects.briefs.search).
    search_vector = SearchVectorField(null=True, editable=False)

    objects = ProjectQuerySet.as_manager()

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


class ProjectEvent(StatusEvent):
    """One row per status change of a brief (who, from, to, when, note)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="events")


class BidEvent(StatusEvent):
    """One row per status change of a bid (who, from, to, when, note)."""

    bid = models.ForeignKey(Bid, on_delete=models.CASCADE, related_name="events")
