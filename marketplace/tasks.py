"""Background work of the shared base: sending stored e-mails."""

from __future__ import annotations

from celery import shared_task

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
