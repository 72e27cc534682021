"""Reads of the participants."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from marketplace.models import Company, Notification, Skill, StudentProfile, User


def user_company(*, user: User) -> Company | None:
    """The company the user is a member of, or None."""
    membership = getattr(user, "company_membership", None)
    return membership.company if membership is not None else None


def user_company_id(*, user: User) -> int | None:
    membership = getattr(user, "company_membership", None)
    return membership.company_id if membership is not None else None


def student_profile_get(*, user: User) -> StudentProfile:
    """The student's profile with its skills, or a blank unsaved one while they have none.

    A read writes nothing: the first `student_profile_update` creates the row.
    An unsaved profile has no skills (`student_profile_skills`).
    """
    profile = StudentProfile.objects.prefetch_related("skills").filter(user=user).first()
    return profile if profile is not None else StudentProfile(user=user)


def student_profile_skills(profile: StudentProfile) -> list[Skill]:
    """The profile's skills; none for an unsaved profile (which cannot hold any yet)."""
    return list(profile.skills.all()) if profile.pk is not None else []


def skill_list(*, search: str | None = None) -> QuerySet[Skill]:
    qs = Skill.objects.order_by("name", "id")
    if search:
        qs = qs.filter(name__icontains=search)
    return qs


def notification_list(*, user: User, unread: bool | None = None) -> QuerySet[Notification]:
    """The user's own notifications, newest first; `unread` True/False filters on read state."""
    qs = Notification.objects.filter(user=user).order_by("-created_at", "-id")
    if unread is not None:
        qs = qs.filter(read_at__isnull=unread)
    return qs


def notification_unread_count(*, user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def notification_keys_existing(*, keys: Iterable[str]) -> set[str]:
    """Which of these event keys were told already (a notification with that key exists)."""
    return set(Notification.objects.filter(key__in=list(keys)).values_list("key", flat=True))


def company_members(*, company_id: int) -> list[User]:
    """The active members of a company (who are told about its briefs and contracts)."""
    return list(
        User.objects.filter(company_membership__company_id=company_id, is_active=True).order_by(
            "pk"
        )
    )


def staff_users() -> QuerySet[User]:
    """Active staff, who are told about failures and differences."""
    return User.objects.filter(is_staff=True, is_active=True).order_by("pk")
