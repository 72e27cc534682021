"""Claims on school addresses, as the canonical-address tests make and count them."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from schools.models import EnrolmentVerification
from schools.services import verification_request

V = EnrolmentVerification.Status


def claim(student, school, email):  # type: ignore[no-untyped-def]
    """`student` asks to be verified at `school` with `email` (graduating in a year)."""
    return verification_request(
        student=student,
        school=school,
        school_email=email,
        program="MSc",
        graduation_date=timezone.localdate() + dt.timedelta(days=365),
    )


def live_claims(canonical: str) -> int:
    """Claims on `canonical` waiting for the coordinator or verified."""
    return EnrolmentVerification.objects.filter(
        school_email_canonical=canonical, status__in=[V.PENDING_REVIEW, V.VERIFIED]
    ).count()
