"""Telling people what happened: in-app notifications and e-mails, in their language.

A message is a folder of templates, `emails/<template>/<language>/subject.txt`
and `body.txt`, found in any app's `templates/` (English is the fallback),
rendered without HTML escaping (the `text` template engine). The HTML part is
the same text, escaped and with its links made clickable, in `emails/base.html`.
Messages are rendered when the event happens and stored; e-mails are sent by
`send_email_task` after commit.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import linebreaks, urlize
from django.utils.safestring import mark_safe

from marketplace.errors import NotFound, StateConflict
from marketplace.models import Notification, OutboundEmail, User
from marketplace.selectors import staff_users

logger = logging.getLogger(__name__)

FALLBACK_LANGUAGE = "en"


def _language(language: str | None) -> str:
    known = {code for code, _ in settings.LANGUAGES}
    return language if language in known else FALLBACK_LANGUAGE


def message_render(
    *, template: str, language: str, context: Mapping[str, Any]
) -> tuple[str, str, str]:
    """`(subject, text, html)` of a message in `language`, else in English.

    Raises TemplateDoesNotExist when the message has no English version either.
    """
    ctx = {"site_url": settings.SITE_URL, **context}
    for lang in dict.fromkeys([_language(language), FALLBACK_LANGUAGE]):
        try:
            subject = render_to_string(f"emails/{template}/{lang}/subject.txt", ctx, using="text")
            text = render_to_string(f"emails/{template}/{lang}/body.txt", ctx, using="text")
        except TemplateDoesNotExist:
            continue
        # One line; French non-breaking spaces (before ":" and the like) are kept.
        subject = re.sub(r"[^\S\u00a0\u202f]+", " ", subject).strip()
        html = email_html(subject=subject, text=text, language=lang)
        return subject, text.strip() + "\n", html
    raise TemplateDoesNotExist(f"emails/{template}/{FALLBACK_LANGUAGE}/subject.txt")


def email_html(*, subject: str, text: str, language: str) -> str:
    """The HTML part of an e-mail: its plain `text`, escaped, links made clickable."""
    return render_to_string(
        "emails/base.html",
        {
            "subject": subject,
            # urlize(autoescape=True) escaped the text; safe, else base.html escapes it twice.
            "body": mark_safe(linebreaks(urlize(text.strip(), autoescape=True))),  # noqa: S308
            "language": language,
        },
    )


def email_queue(
    *, key: str, to: str, template: str, language: str, context: Mapping[str, Any]
) -> OutboundEmail:
    """Render and store an e-mail once per `key`; it is sent after the transaction commits.

    Calling it again with the same key returns the stored e-mail and sends nothing more.
    """
    from marketplace.tasks import send_email_task

    existing = OutboundEmail.objects.filter(key=key).first()
    if existing is not None:
        return existing
    lang = _language(language)
    subject, text, html = message_render(template=template, language=lang, context=context)
    with transaction.atomic():
        email, created = OutboundEmail.objects.get_or_create(
            key=key,
            defaults={
                "template": template,
                "language": lang,
                "to": to,
                "subject": subject[:300],
                "body_text": text,
                "body_html": html,
            },
        )
        if created:
            transaction.on_commit(lambda: send_email_task.delay(email_id=email.pk))
    return email


def notify(
    *,
    user: User,
    template: str,
    key: str,
    context: Mapping[str, Any],
    url: str = "",
    email: bool = True,
    email_to: str | None = None,
) -> Notification:
    """Tell `user` about an event: an in-app notification and, unless `email=False`, an e-mail.

    `key` names the event for this user (e.g. `bid-accepted:12`), so telling it
    twice stores and sends it once. The message is in the user's language.
    `email_to` sends the e-mail elsewhere (a school address, say).
    """
    lang = _language(user.language)
    ctx = {"user": user, **context}
    subject, _, _ = message_render(template=template, language=lang, context=ctx)
    notification, _ = Notification.objects.get_or_create(
        key=key,
        defaults={"user": user, "kind": template, "title": subject[:300], "url": url[:500]},
    )
    if email:
        email_queue(
            key=key, to=email_to or user.email, template=template, language=lang, context=ctx
        )
    return notification


def notify_staff(*, template: str, key: str, context: Mapping[str, Any], url: str = "") -> None:
    """`notify` every staff member of an event for them to act on; `key` names the event,
    and each member's own key is `<key>:<user id>`, so the event is told once per member."""
    for admin in staff_users():
        notify(user=admin, template=template, key=f"{key}:{admin.pk}", context=context, url=url)


def notification_mark_read(*, user: User, notification_id: int) -> Notification:
    """Mark one of the user's notifications read (idempotent). Raises NotFound for others'."""
    notification = Notification.objects.filter(pk=notification_id, user=user).first()
    if notification is None:
        raise NotFound("No such notification.")
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


def notification_mark_all_read(*, user: User) -> int:
    """Mark every unread notification of the user read; returns how many changed."""
    return Notification.objects.filter(user=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )


def email_send(*, email_id: int) -> OutboundEmail | None:
    """Send a stored e-mail unless it was sent already; the row is locked while sending.

    SMTP errors propagate (the task retries them) after the attempt and the
    error are recorded for staff.
    """
    error: Exception | None = None
    with transaction.atomic():
        email = OutboundEmail.objects.select_for_update().filter(pk=email_id).first()
        if email is None or email.status == OutboundEmail.Status.SENT:
            return email
        message = EmailMultiAlternatives(
            subject=email.subject,
            body=email.body_text,
            to=[email.to],
            headers={"Message-ID": _message_id(email.key)},
        )
        if email.body_html:
            message.attach_alternative(email.body_html, "text/html")
        try:
            message.send()
        except Exception as exc:  # any backend error: recorded below, then retried
            error = exc
        else:
            email.status = OutboundEmail.Status.SENT
            email.sent_at = timezone.now()
            email.attempts += 1
            email.last_error = ""
            email.save(update_fields=["status", "sent_at", "attempts", "last_error"])
    if error is not None:
        OutboundEmail.objects.filter(pk=email_id).update(
            attempts=F("attempts") + 1, last_error=repr(error)
        )
        raise error
    logger.info("email.sent", extra={"email_id": email.pk, "template": email.template})
    return email


def email_mark_failed(*, email_id: int, error: str) -> None:
    """Record that an e-mail gave up after its retries (staff can retry it from the admin)."""
    OutboundEmail.objects.filter(pk=email_id).exclude(status=OutboundEmail.Status.SENT).update(
        status=OutboundEmail.Status.FAILED, last_error=error
    )


def _message_id(key: str) -> str:
    domain = urlsplit(settings.SITE_URL).hostname or "localhost"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


@transaction.atomic
def outbound_email_retry(*, email_id: int) -> OutboundEmail:
    """Queue an unsent e-mail again (after commit). Raises NotFound, or StateConflict if sent."""
    email = OutboundEmail.objects.select_for_update().filter(pk=email_id).first()
    if email is None:
        raise NotFound("No such e-mail.")
    if email.status == OutboundEmail.Status.SENT:
        raise StateConflict("This e-mail was sent already.")
    email.status = OutboundEmail.Status.PENDING
    email.save(update_fields=["status"])
    from marketplace.tasks import send_email_task

    transaction.on_commit(lambda: send_email_task.delay(email_id=email.pk))
    return email
