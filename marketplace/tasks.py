"""Background work of the shared base: sending stored e-mails, password-reset links."""

from __future__ import annotations

from celery import shared_task

from marketplace.credentials import password_reset_email_send
from marketplace.notifications import email_mark_failed, email_send


@shared_task(bind=True, ignore_result=True)
def send_email_task(self, *, email_id: int) -> None:  # type: ignore[no-untyped-def]
    """Send one stored e-mail; a sent one is left alone, so a redelivery sends nothing."""
    try:
        email_send(email_id=email_id)
    except Exception as exc:
        if self.request.retries >= self.max_retries:
            email_mark_failed(email_id=email_id, error=repr(exc))
        raise


@shared_task(ignore_result=True)
def password_reset_email_task(*, email: str) -> None:
    """E-mail a reset link to the active account of `email`, if there is one (idempotent
    within RESET_EMAIL_INTERVAL: the e-mail's key names the account and the interval)."""
    password_reset_email_send(email=email)
