"""Contracts, their milestones, deliveries, milestone events and disputes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from marketplace.models import StatusEvent
from marketplace.money import CURRENCY_CHOICES


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

    project = models.OneToOneField(
        "briefs.Project", on_delete=models.PROTECT, related_name="contract"
    )
    bid = models.OneToOneField("briefs.Bid", on_delete=models.PROTECT, related_name="contract")
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
        db_table = "projects_contract"
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
    single `status` is derived from both (see `projects.contracts.selectors.milestone_status`).
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
        db_table = "projects_milestone"
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
        db_table = "projects_delivery"
        ordering = ["created_at", "id"]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"Delivery {self.pk} of milestone {self.milestone_id}"


class MilestoneEvent(StatusEvent):
    """One row per work-status change of a milestone (who, from, to, when, note)."""

    milestone = models.ForeignKey(Milestone, on_delete=models.CASCADE, related_name="events")

    class Meta(StatusEvent.Meta):
        db_table = "projects_milestoneevent"


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
        db_table = "projects_dispute"
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


class ContractEvent(StatusEvent):
    """One row per status change of a contract (who, from, to, when, note)."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="events")


class DisputeEvent(StatusEvent):
    """One row per status change of a dispute (who, from, to, when, note)."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="events")
