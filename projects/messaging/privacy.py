"""The messaging's share of a user's personal data: messages they wrote and files they uploaded.

On erasure a message they wrote stays in its thread (the other party's
conversation) with its text replaced by an erased marker; its attachments and
the files they delivered are deleted, rows and stored bytes.
"""

from __future__ import annotations

from django.utils.translation import gettext_noop

from marketplace.models import User
from marketplace.privacy import (
    ERASED_TEXT,
    Exported,
    PersonalDataSection,
    personal_data_section_register,
    personal_text_redact,
    storage_delete_on_commit,
)
from projects.messaging.models import Attachment, Message, Thread, ThreadRead


def _export(user: User) -> Exported:
    messages = (
        Message.objects.filter(author=user)
        .select_related("thread__project")
        .prefetch_related("attachments")
        .order_by("created_at", "pk")
    )
    files = Attachment.objects.filter(uploaded_by=user).order_by("created_at", "pk")
    return Exported(
        {
            "threads_as_student": list(
                Thread.objects.filter(student=user).values("id", "project_id", "created_at")
            ),
            "messages_written": [
                {
                    "id": m.pk,
                    "thread_id": m.thread_id,
                    "brief_title": m.thread.project.title,
                    "body": m.body,
                    "created_at": m.created_at,
                    "attachments": [str(a.uuid) for a in m.attachments.all()],
                }
                for m in messages
            ],
            "files_uploaded": [
                {
                    "uuid": str(a.uuid),
                    "name": a.name,
                    "content_type": a.content_type,
                    "size": a.size,
                    "sha256": a.sha256,
                    "delivery_id": a.delivery_id,
                    "message_id": a.message_id,
                    "created_at": a.created_at,
                    "in_archive_as": f"{a.uuid}-{a.name}",
                }
                for a in files
            ],
        },
        files=[(f"{a.uuid}-{a.name}", a.storage_name) for a in files],
    )


def _erase(user: User) -> None:
    messages = Message.objects.filter(author=user)
    personal_text_redact(texts=list(messages.values_list("body", flat=True)))
    messages.update(body=ERASED_TEXT)
    files = Attachment.objects.filter(uploaded_by=user)
    personal_text_redact(texts=list(files.values_list("name", flat=True)))
    storage_delete_on_commit(list(files.values_list("storage_name", flat=True)))
    files.delete()
    ThreadRead.objects.filter(user=user).delete()


def register() -> None:
    """Register the messaging's section (called from MessagingConfig.ready)."""
    personal_data_section_register(
        PersonalDataSection(
            name="messages",
            description=gettext_noop(
                "the conversations you are the student of, the messages you wrote and every "
                "file you uploaded (message attachments and delivered files, in files/messages/)"
            ),
            exporter=_export,
            eraser=_erase,
            kept={
                "messaging.thread": (
                    "the conversation stays for the other party; the erased person's messages "
                    "in it read as erased"
                ),
            },
        )
    )
