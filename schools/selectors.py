"""Reads of schools and verifications, scoped to who is asking."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.conf import settings
from django.core import signing
from django.db.models import Q, QuerySet

from marketplace.errors import ValidationFailed
from marketplace.models import User
from schools.domains import email_domain
from schools.models import EnrolmentVerification, School, SchoolDomain, VerificationEvent


def school_list(
    *,
    country: str | None = None,
    search: str | None = None,
    email: str | None = None,
    partner: bool | None = None,
) -> QuerySet[School]:
    """Schools with their domains prefetched, filtered by ISO country code, name/domain text,
    partner flag, and `email`: the schools whose domains accept that address (its domain or a
    parent of it, after IDNA normalisation; a domain shared by several schools lists them all,
    so the student can say which). Raises ValidationFailed (field `email`) for a malformed one.
    """
    qs = School.objects.prefetch_related("domains").order_by("name", "id")
    if country:
        qs = qs.filter(country=country.upper())
    if partner is not None:
        qs = qs.filter(is_partner=partner)
    if search:
        ids = School.objects.filter(
            Q(name__icontains=search) | Q(domains__domain__icontains=search)
        ).values("pk")
        qs = qs.filter(pk__in=ids)
    if email:
        try:
            domain = email_domain(email)
        except ValidationFailed as exc:
            raise ValidationFailed(exc.message, field="email") from exc
        labels = domain.split(".")
        candidates = [".".join(labels[i:]) for i in range(len(labels) - 1)]
        qs = qs.filter(pk__in=SchoolDomain.objects.filter(domain__in=candidates).values("school"))
    return qs


TOKEN_SALT = "schools.enrolment-verification"


def verification_token_read(*, token: str) -> tuple[int, str]:
    """The verification id and school address an e-mailed token names (`verification_token_make`).

    Raises ValidationFailed (field `token`) for a forged, altered or expired
    token (VERIFICATION_LINK_MAX_AGE seconds).
    """
    try:
        data = signing.loads(token, salt=TOKEN_SALT, max_age=settings.VERIFICATION_LINK_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise ValidationFailed("This link has expired; ask for a new one.", field="token") from exc
    except signing.BadSignature as exc:
        raise ValidationFailed("This link is not valid.", field="token") from exc
    return data.get("v"), data.get("e")


def verification_for_token(*, token: str) -> EnrolmentVerification:
    """The request an e-mailed token names, read only: the link's page shows it before the
    student confirms (`verification_confirm_email` writes). Raises ValidationFailed (field
    `token`) as `verification_token_read` does, or when the token names no request.
    """
    verification_id, school_email = verification_token_read(token=token)
    verification = (
        EnrolmentVerification.objects.select_related("school", "student")
        .filter(pk=verification_id, school_email=school_email)
        .first()
    )
    if verification is None:
        raise ValidationFailed("This link is not valid.", field="token")
    return verification


def verification_active_for(*, user: User) -> EnrolmentVerification | None:
    """The student's verification in force today: verified and not past graduation."""
    return (
        EnrolmentVerification.objects.in_force()
        .filter(student=user)
        .select_related("school")
        .order_by("-decided_at")
        .first()
    )


def verified_school_ids_of(*, user: User) -> list[int]:
    """Ids of the schools where the student is verified today (empty for everyone else)."""
    return list(
        EnrolmentVerification.objects.in_force()
        .filter(student=user)
        .values_list("school_id", flat=True)
    )


def verified_student_ids(*, student_ids: Iterable[int], today: dt.date | None = None) -> set[int]:
    """Those of `student_ids` who hold a verification in force on `today` (default: today)."""
    return set(
        EnrolmentVerification.objects.in_force(on=today)
        .filter(student_id__in=list(student_ids))
        .values_list("student_id", flat=True)
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


def verification_events_for_school(*, school_id: int) -> QuerySet[VerificationEvent]:
    """The school's audit trail: every decision on its verifications, newest first."""
    return (
        VerificationEvent.objects.filter(verification__school_id=school_id)
        .select_related("actor", "verification__student")
        .order_by("-created_at", "-id")
    )


def verifications_in_force_for_school(*, school_id: int) -> QuerySet[EnrolmentVerification]:
    """The school's students verified today, by name."""
    return (
        EnrolmentVerification.objects.in_force()
        .filter(school_id=school_id)
        .select_related("student")
        .order_by("student__last_name", "student__first_name", "id")
    )
