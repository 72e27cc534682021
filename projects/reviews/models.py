"""Reviews both sides write after a contract ends, and the one public reply to each."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Review(models.Model):
    """What one party of an ended contract says about the other: one per side and contract.

    `role` says who reviews whom: the company reviews the student
    (`subject_user`) or the student reviews the company (`subject_company`).
    Ratings are whole stars, 1 to 5. `comment` is public once the double-blind
    rule allows it (see `projects.reviews.selectors`); `private_feedback` is read by
    staff only. A review is final once written: nothing edits it.
    """

    class Role(models.TextChoices):
        COMPANY_TO_STUDENT = "company_to_student", "The company reviews the student"
        STUDENT_TO_COMPANY = "student_to_company", "The student reviews the company"

    contract = models.ForeignKey(
        "contracts.Contract", on_delete=models.PROTECT, related_name="reviews"
    )
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
        db_table = "projects_review"
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
        db_table = "projects_reviewreply"
        verbose_name_plural = "review replies"

    def __str__(self) -> str:
        return f"Reply to review {self.review_id}"
