from __future__ import annotations

import smtplib

import pytest
from celery.exceptions import Retry
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend

from marketplace.models import FailedTask, OutboundEmail
from marketplace.notifications import email_queue
from marketplace.services import failed_task_retry
from marketplace.tasks import send_email_task
from schools.models import School
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


class DownBackend(BaseEmailBackend):
    def send_messages(self, email_messages):  # type: ignore[no-untyped-def]
        raise smtplib.SMTPServerDisconnected("the relay hung up")


def _queue(django_capture_on_commit_callbacks, key: str = "invite:1") -> OutboundEmail:  # type: ignore[no-untyped-def]
    context = {
        "user": UserFactory(first_name="Chloé"),
        "school": School(name="HEC Paris", country="FR"),
        "link": "https://x.test/l",
        "days": 3,
    }
    with django_capture_on_commit_callbacks(execute=True):
        return email_queue(
            key=key,
            to="c@school.test",
            template="coordinator_invitation",
            language="fr",
            context=context,
        )


def test_an_email_is_sent_once_however_often_its_task_runs(django_capture_on_commit_callbacks):
    email = _queue(django_capture_on_commit_callbacks)
    send_email_task.delay(email_id=email.pk)
    send_email_task.delay(email_id=email.pk)
    _queue(django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1
    email.refresh_from_db()
    assert (email.status, email.attempts) == ("sent", 1)
    message = mail.outbox[0]
    assert message.extra_headers["Message-ID"].endswith("@127.0.0.1>")
    assert message.alternatives[0][1] == "text/html"


def test_a_relay_that_stays_down_ends_failed_and_kept_for_staff(
    settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = f"{__name__}.DownBackend"
    with pytest.raises(Retry):
        _queue(django_capture_on_commit_callbacks)
    email = OutboundEmail.objects.get()
    assert (email.status, email.attempts) == ("pending", 1)
    assert "the relay hung up" in email.last_error
    assert not FailedTask.objects.exists()

    last = send_email_task.apply(
        kwargs={"email_id": email.pk}, retries=send_email_task.max_retries, throw=False
    )
    assert isinstance(last.result, smtplib.SMTPServerDisconnected)
    email.refresh_from_db()
    assert (email.status, email.attempts) == ("failed", 2)
    failed = FailedTask.objects.get()
    assert failed.task_name == "marketplace.tasks.send_email_task"
    assert failed.kwargs == {"email_id": email.pk}
    assert "SMTPServerDisconnected" in failed.error

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        failed_task_retry(failed_task_id=failed.pk)
    email.refresh_from_db()
    assert email.status == "sent"
    assert len(mail.outbox) == 1
    failed.refresh_from_db()
    assert failed.retried_at is not None
