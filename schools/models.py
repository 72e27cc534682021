"""Schools, their e-mail domains, coordinators and enrolment verifications."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class School(models.Model):
    """A school as in the public university-domains-list (name, country, web pages)."""

    name = models.CharField(max_length=300)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2 code, e.g. FR")
    country_name = models.CharField(max_length=100, blank=True)
    state_province = models.CharField(max_length=200, blank=True)
    web_pages = models.JSONField(default=list, blank=True)
    is_partner = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name", "country"], name="school_unique_name_country"),
        ]
        indexes = [models.Index(fields=["country", "name"], name="school_country_name_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.country})"


class SchoolDomain(models.Model):
    """An e-mail domain of a school, stored lower-case in its IDNA (ASCII) form.

    A domain may belong to several schools (the public list has a few such).
    """

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="domains")
    domain = models.CharField(max_length=253, db_index=True)

    class Meta:
        ordering = ["domain"]
        constraints = [
            models.UniqueConstraint(fields=["school", "domain"], name="schooldomain_unique"),
        ]

    def __str__(self) -> str:
        return self.domain


class Coordinator(models.Model):
    """A school's coordinator: reviews that school's enrolment requests, and only those."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="coordinator"
    )
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="coordinators")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.user} for {self.school}"


def verification_in_force_q(*, on: dt.date | None = None) -> Q:
    """The rule "in force on `on`" (default: the local date), for filters and conditional counts.

    Verified, and `on` is no later than the graduation date: the graduation day
    itself is the last day in force. Pending, rejected, expired and revoked
    verifications never are. `EnrolmentVerification.is_in_force` reads one row
    by the same rule.
    """
    return Q(
        status=EnrolmentVerification.Status.VERIFIED,
        graduation_date__gte=on or timezone.localdate(),
    )


def verification_expiring_q(*, within: int | None = None, on: dt.date | None = None) -> Q:
    """In force on `on` and ending within `within` days: graduation date in [on, on + within].

    `within` defaults to the `VERIFICATION_EXPIRING_DAYS` setting, `on` to the local date.
    """
    day = on or timezone.localdate()
    days = settings.VERIFICATION_EXPIRING_DAYS if within is None else within
    return verification_in_force_q(on=day) & Q(graduation_date__lte=day + dt.timedelta(days=days))


class VerificationQuerySet(models.QuerySet["EnrolmentVerification"]):
    """The verification rules as filter words: `EnrolmentVerification.objects.in_force()`."""

    def in_force(self, *, on: dt.date | None = None) -> VerificationQuerySet:
        """Verifications in force on `on` (default: today); see `verification_in_force_q`."""
        return self.filter(verification_in_force_q(on=on))

    def expiring(
        self, *, within: int | None = None, on: dt.date | None = None
    ) -> VerificationQuerySet:
        """In force on `on` and ending within `within` days (default VERIFICATION_EXPIRING_DAYS)."""
        return self.filter(verification_expiring_q(within=within, on=on))

    def due_to_expire(self, *, on: dt.date | None = None) -> VerificationQuerySet:
        """Still verified but no longer in force on `on`: the graduation date has passed."""
        return self.filter(status=EnrolmentVerification.Status.VERIFIED).exclude(
            verification_in_force_q(on=on)
        )


class EnrolmentVerification(models.Model):
    """A student's claim to be enrolled at a school, checked twice.

    First the student proves the school e-mail address by a signed link, then the
    school's coordinator approves or rejects. `school_email` is the address as
    typed (its domain normalised), the one mailed; `school_email_canonical` is
    the key of the mailbox, unique among live claims. States:
    pending_email → pending_review → verified | rejected; verified → expired | revoked.
    """

    class Status(models.TextChoices):
        PENDING_EMAIL = "pending_email", "Waiting for e-mail confirmation"
        PENDING_REVIEW = "pending_review", "Waiting for the coordinator"
        VERIFIED = "verified", "Verified"
        REJECTED = "rejected", "Rejected"
        EXPIRED = "expired", "Expired"
        REVOKED = "revoked", "Revoked"

    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrolment_verifications"
    )
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="verifications")
    school_email = models.EmailField()
    # Empty only on rows from before it existed that lost a collision (see migration 0002).
    school_email_canonical = models.CharField(
        max_length=254,
        null=True,
        blank=True,
        editable=False,
        db_index=True,
        help_text="The address as `schools.addresses.school_email_canonical` spells it.",
    )
    program = models.CharField(max_length=200)
    graduation_date = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING_EMAIL)
    email_confirmed_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = VerificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "pending_email",
                        "pending_review",
                        "verified",
                        "rejected",
                        "expired",
                        "revoked",
                    ]
                ),
                name="verification_status_valid",
            ),
            # One live claim on a school mailbox at a time, however it is spelled.
            models.UniqueConstraint(
                fields=["school_email_canonical"],
                condition=Q(status__in=["pending_review", "verified"]),
                name="verification_one_live_per_email",
            ),
        ]
        indexes = [
            models.Index(fields=["school", "status"], name="verif_school_status_idx"),
            models.Index(fields=["student", "status"], name="verif_student_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.student} at {self.school}: {self.status}"

    def is_in_force(self, *, on: dt.date | None = None) -> bool:
        """Whether this row is in force on `on` (default: today), as `verification_in_force_q`."""
        return self.status == self.Status.VERIFIED and self.graduation_date >= (
            on or timezone.localdate()
        )


class VerificationEvent(models.Model):
    """Audit trail: one row per state change of a verification (who, when, from, to, why)."""

    verification = models.ForeignKey(
        EnrolmentVerification, on_delete=models.CASCADE, related_name="events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or 'new'} → {self.to_status}"
