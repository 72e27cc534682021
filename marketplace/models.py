"""The participants: users, companies and their members, student profiles, skills."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext

from marketplace.money import CURRENCY_CHOICES


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: object) -> User:
        if not email:
            raise ValueError("An e-mail address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, username: str | None) -> User:
        # Addresses are stored lower-case, so sign-in must not depend on how they were typed.
        return self.get(**{self.model.USERNAME_FIELD: (username or "").lower()})

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.update(is_staff=True, is_superuser=True, role=User.Role.ADMIN)
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with an e-mail address. `role` says which side they are on."""

    class Role(models.TextChoices):
        COMPANY = "company", "Company member"
        STUDENT = "student", "Student"
        COORDINATOR = "coordinator", "School coordinator"
        ADMIN = "admin", "Administrator"

    email = models.EmailField(unique=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices)
    language = models.CharField(max_length=8, default="en")
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    # Set by `marketplace.privacy.account_erase`: the account's personal data is gone.
    erased_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=["company", "student", "coordinator", "admin"]),
                name="user_role_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def full_name(self) -> str:
        if self.erased_at is not None:
            return gettext("Erased user")
        return f"{self.first_name} {self.last_name}".strip() or self.email

    @property
    def display_name(self) -> str:
        """The name others see: first and last name, "Erased user" once erased; never the e-mail."""
        if self.erased_at is not None:
            return gettext("Erased user")
        return f"{self.first_name} {self.last_name}".strip()


class Company(models.Model):
    """A client organisation. Its members post briefs and pay for milestones."""

    name = models.CharField(max_length=200)
    website = models.URLField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "companies"

    def __str__(self) -> str:
        return self.name


class CompanyMembership(models.Model):
    """A user's seat in one company. A user belongs to at most one company."""

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        MEMBER = "member", "Member"

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="memberships")
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="company_membership")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.user} @ {self.company}"


class Skill(models.Model):
    """A skill students offer and briefs require, e.g. `python` / "Python"."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220, unique=True)
    category = models.CharField(max_length=200, blank=True)
    # Student profiles listing this skill, kept by `skill_student_counts_refresh`: how rare
    # a skill is weighs it in matching (projects.briefs.matching).
    student_count = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class StudentProfile(models.Model):
    """What a student shows companies: headline, skills, day rate, availability, portfolio."""

    class Availability(models.TextChoices):
        AVAILABLE = "available", "Available"
        BUSY = "busy", "Busy"
        UNAVAILABLE = "unavailable", "Unavailable"

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="student_profile")
    headline = models.CharField(max_length=200, blank=True)
    bio = models.TextField(blank=True)
    skills = models.ManyToManyField(Skill, blank=True, related_name="students")
    day_rate_cents = models.PositiveIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, default="EUR")
    availability = models.CharField(
        max_length=16, choices=Availability.choices, default=Availability.AVAILABLE
    )
    # Up to 5 http(s) links to past work, checked by `marketplace.services.student_profile_update`.
    portfolio_links = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The student's track record, copied from reviews, contracts and milestones by
    # `projects.reviews.services.student_stats_refresh` whenever one of them changes, so search and
    # matching rank 100,000 students by plain columns. Public reviews only (double-blind).
    review_count = models.PositiveIntegerField(default=0, editable=False)
    rating_total = models.PositiveIntegerField(default=0, editable=False)
    completed_contracts = models.PositiveIntegerField(default=0, editable=False)
    timed_milestones = models.PositiveIntegerField(default=0, editable=False)
    on_time_milestones = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(availability__in=["available", "busy", "unavailable"]),
                name="studentprofile_availability_valid",
            ),
            models.CheckConstraint(
                condition=Q(on_time_milestones__lte=F("timed_milestones")),
                name="studentprofile_on_time_within_timed",
            ),
        ]

    def __str__(self) -> str:
        return f"Profile of {self.user}"


class Notification(models.Model):
    """An in-app message for one user: what happened and where to look.

    `key` names the event (e.g. `bid-submitted:12:user:5`), so an event told
    twice is stored once.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=64)
    title = models.CharField(max_length=300)
    url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "read_at"], name="notification_user_unread_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.title}"


class OutboundEmail(models.Model):
    """An e-mail rendered when its event happened and sent by a task after commit.

    `key` is unique: the same event never queues two e-mails, and the task
    re-reads `status` so a redelivered task does not send twice. The
    Message-ID is derived from the key, so a copy sent twice in the one window
    where that can happen (a crash between the SMTP answer and the commit)
    carries the same Message-ID and mail clients show it once.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    key = models.CharField(max_length=200, unique=True)
    template = models.CharField(max_length=64)
    language = models.CharField(max_length=8)
    to = models.EmailField()
    subject = models.CharField(max_length=300)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "sent", "failed"]),
                name="outboundemail_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="outboundemail_status_idx")]

    def __str__(self) -> str:
        return f"{self.template} to {self.to}: {self.status}"


class FailedTask(models.Model):
    """A background task that failed for good (retries exhausted), kept for staff to retry.

    `kwargs` are the task's keyword arguments (ids only), so a retry re-reads
    the current state like the first run did.
    """

    task_name = models.CharField(max_length=200)
    task_id = models.CharField(max_length=255, blank=True)
    kwargs = models.JSONField(default=dict)
    error = models.TextField()
    traceback = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    retried_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.task_name} ({self.created_at:%Y-%m-%d %H:%M})"


class StatusEvent(models.Model):
    """One row per move of a lifecycle (`marketplace.states`): who, from, to, when, a note.

    Concrete event models add the foreign key to the row that moved.
    """

    actor = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    from_status = models.CharField(max_length=20)
    to_status = models.CharField(max_length=20)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"


class AppendOnlyError(ValueError):
    """An attempt to change or delete a row of an append-only table."""


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    """Reads and inserts only: bulk `update`, `bulk_update` and `delete` would bypass
    `AuditEntry.save`, so they raise."""

    def update(self, **kwargs: object) -> int:
        raise AppendOnlyError("Audit entries are append-only: they cannot be changed.")

    def bulk_update(self, objs: object, fields: object, batch_size: int | None = None) -> int:
        raise AppendOnlyError("Audit entries are append-only: they cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("Audit entries are append-only: they cannot be deleted.")


class AuditEntry(models.Model):
    """One staff action that moved money or changed someone's rights; append-only.

    Written by `marketplace.audit.audit_record` only; never updated or deleted:
    `save` refuses an update, `delete` and the QuerySet's `update`/`delete`
    raise AppendOnlyError, and the database refuses too (migration 0006: on
    PostgreSQL a trigger refuses UPDATE and DELETE; on SQLite, used for
    development and tests, a trigger refuses UPDATE, DELETE being left to the
    test runner's flush). `actor` is not a constraint (`db_constraint=False`,
    `DO_NOTHING`): deleting a user must not rewrite the trail (SET_NULL would
    be an UPDATE) nor be blocked by it; `actor_email` keeps who acted whatever
    becomes of the account. `subject_type`/`subject_id` name the row acted on
    (`payments.escrow`, 42) without a foreign key, so the trail outlives the row.
    """

    actor = models.ForeignKey(
        User,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_email = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    subject_type = models.CharField(max_length=100, blank=True)
    subject_id = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["subject_type", "subject_id"], name="audit_subject_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_email or 'system'}: {self.action}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise AppendOnlyError("Audit entries are append-only: they cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("Audit entries are append-only: they cannot be deleted.")
