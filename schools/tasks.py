"""E-mails of the schools app, sent from tasks after the request's transaction commits."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from marketplace.models import User
from schools.models import EnrolmentVerification


@shared_task(ignore_result=True)
def send_verification_email_task(*, verification_id: int) -> None:
    """Send the confirmation link to the school address of a request still waiting for it."""
    from schools.services import verification_link

    verification = (
        EnrolmentVerification.objects.select_related("student", "school")
        .filter(pk=verification_id, status=EnrolmentVerification.Status.PENDING_EMAIL)
        .first()
    )
    if verification is None:
        return
    context = {
        "verification": verification,
        "link": verification_link(verification=verification),
        "hours": settings.VERIFICATION_LINK_MAX_AGE // 3600,
    }
    send_mail(
        subject=f"Confirm your address at {verification.school.name}",
        message=render_to_string("schools/email/verification_link.txt", context),
        from_email=None,
        recipient_list=[verification.school_email],
    )


@shared_task(ignore_result=True)
def send_verification_decision_email_task(*, verification_id: int) -> None:
    """Tell the student what the coordinator decided, with the reason if any."""
    verification = (
        EnrolmentVerification.objects.select_related("student", "school")
        .filter(pk=verification_id)
        .first()
    )
    if verification is None:
        return
    send_mail(
        subject=(
            f"Your verification at {verification.school.name}: {verification.get_status_display()}"
        ),
        message=render_to_string(
            "schools/email/verification_decision.txt", {"verification": verification}
        ),
        from_email=None,
        recipient_list=[verification.student.email],
    )


@shared_task(ignore_result=True)
def send_coordinator_invitation_task(*, user_id: int) -> None:
    """Invite a coordinator who has no password yet to choose one (single-use, expiring link)."""
    user = User.objects.select_related("coordinator__school").filter(pk=user_id).first()
    if user is None or user.has_usable_password():
        return
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    link = f"{settings.SITE_URL}/accounts/reset/{uid}/{token}/"
    send_mail(
        subject="You are invited to coordinate student verification",
        message=render_to_string(
            "schools/email/coordinator_invitation.txt",
            {
                "user": user,
                "school": user.coordinator.school,
                "link": link,
                "days": settings.PASSWORD_RESET_TIMEOUT // 86400,
            },
        ),
        from_email=None,
        recipient_list=[user.email],
    )
