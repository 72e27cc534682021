"""The schools' share of a user's personal data: enrolment verifications and coordinator seats.

On erasure a verification keeps its school, status, dates and decisions (the
school's record and its coordinator's audit trail) but loses the school
address (`school_email` and `school_email_canonical`) and the programme,
which say who the student was.
"""

from __future__ import annotations

from django.utils.translation import gettext_noop

from marketplace.models import User
from marketplace.privacy import (
    Exported,
    PersonalDataSection,
    outbound_emails_forget,
    personal_data_section_register,
    personal_text_redact,
)
from schools.models import Coordinator, EnrolmentVerification, VerificationEvent


def _export(user: User) -> Exported:
    verifications = list(
        EnrolmentVerification.objects.filter(student=user)
        .select_related("school")
        .order_by("created_at", "pk")
    )
    events = VerificationEvent.objects.filter(verification__in=verifications).order_by(
        "created_at", "pk"
    )
    by_verification: dict[int, list[dict]] = {}
    for event in events:
        by_verification.setdefault(event.verification_id, []).append(
            {
                "from_status": event.from_status,
                "to_status": event.to_status,
                "reason": event.reason,
                "at": event.created_at,
            }
        )
    coordinator = Coordinator.objects.select_related("school").filter(user=user).first()
    return Exported(
        {
            "enrolment_verifications": [
                {
                    "id": v.pk,
                    "school": v.school.name,
                    "school_email": v.school_email,
                    "program": v.program,
                    "graduation_date": v.graduation_date,
                    "status": v.status,
                    "email_confirmed_at": v.email_confirmed_at,
                    "decided_at": v.decided_at,
                    "reason": v.reason,
                    "created_at": v.created_at,
                    "events": by_verification.get(v.pk, []),
                }
                for v in verifications
            ],
            "coordinator_of": coordinator
            and {
                "school": coordinator.school.name,
                "since": coordinator.created_at,
            },
        }
    )


def _erase(user: User) -> None:
    verifications = list(EnrolmentVerification.objects.filter(student=user))
    addresses = [v.school_email for v in verifications]
    outbound_emails_forget(addresses=addresses)
    personal_text_redact(texts=addresses + [v.program for v in verifications])
    for v in verifications:
        # Unique among live claims: a distinct address per row (RFC 2606 reserves `.invalid`),
        # so the real mailbox is free to be claimed again.
        v.school_email = v.school_email_canonical = f"erased-verification-{v.pk}@invalid"
        v.program = ""
        v.save(update_fields=["school_email", "school_email_canonical", "program"])
    Coordinator.objects.filter(user=user).delete()


def register() -> None:
    """Register the schools' section (called from SchoolsConfig.ready)."""
    personal_data_section_register(
        PersonalDataSection(
            name="schools",
            description=gettext_noop(
                "your enrolment verifications (school, school e-mail address, programme, "
                "graduation date, decisions and their history) and the school you coordinate"
            ),
            exporter=_export,
            eraser=_erase,
            kept={
                "schools.enrolmentverification": (
                    "the school's record of who it vouched for and when (status, school, dates), "
                    "the coordinator's audit trail; the address (as typed and canonical) and "
                    "the programme are erased"
                ),
                "schools.verificationevent": (
                    "the coordinator's decisions on a verification (who, when, why): the "
                    "school's audit trail, legal claims (GDPR art. 17(3)(e))"
                ),
            },
        )
    )
