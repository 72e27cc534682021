"""Reads of schools and verifications, scoped to who is asking."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Q, QuerySet
from django.utils import timezone

from marketplace.models import User
from schools.models import EnrolmentVerification, School

V = EnrolmentVerification.Status


def school_list(*, country: str | None = None, search: str | None = None) -> QuerySet[School]:
    """Schools with their domains prefetched, filtered by ISO country code and name/domain text."""
    qs = School.objects.prefetch_related("domains").order_by("name", "id")
    if country:
        qs = qs.filter(country=country.upper())
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(domains__domain__icontains=search)).distinct()
    return qs


def verification_active_for(*, user: User) -> EnrolmentVerification | None:
    """The student's verification in force today: verified and not past graduation."""
    return (
        EnrolmentVerification.objects.select_related("school")
        .filter(student=user, status=V.VERIFIED, graduation_date__gte=timezone.localdate())
        .order_by("-decided_at")
        .first()
    )


def verified_school_ids_of(*, user: User) -> list[int]:
    """Ids of the schools where the student is verified today (empty for everyone else)."""
    return list(
        EnrolmentVerification.objects.filter(
            student=user, status=V.VERIFIED, graduation_date__gte=timezone.localdate()
        ).values_list("school_id", flat=True)
    )


def verified_student_ids(*, student_ids: Iterable[int], today: dt.date | None = None) -> set[int]:
    """Those of `student_ids` who hold a verification in force on `today` (default: today)."""
    day = today or timezone.localdate()
    return set(
        EnrolmentVerification.objects.filter(
            student_id__in=list(student_ids), status=V.VERIFIED, graduation_date__gte=day
        ).values_list("student_id", flat=True)
    )


def coordinator_school_id(*, user: User) -> int | None:
    coordinator = getattr(user, "coordinator", None)
    return coordinator.school_id if coordinator is not None else None


def verification_list_for(*, user: User) -> QuerySet[EnrolmentVerification]:
    """What the user may see: staff all, a coordinator their school's, a student their own."""
    qs = EnrolmentVerification.objects.select_related("student", "school").order_by(
        "-created_at", "-id"
    )
    if user.is_staff:
        return qs
    school_id = coordinator_school_id(user=user)
    if school_id is not None:
        return qs.filter(school_id=school_id)
    if user.role == User.Role.STUDENT:
        return qs.filter(student=user)
    return qs.none()
