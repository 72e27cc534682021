"""Threads (pre-bid questions and contract conversations), messages, read marks and files."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Thread(models.Model):
    """The conversation between a brief's company and one student, in writing.

    It starts as questions on the brief; if that student's bid is accepted the
    same thread becomes the contract's, so what was agreed before stays in it.
    Participants: the student and the members of the brief's company.
    """

    project = models.ForeignKey("briefs.Project", on_delete=models.CASCADE, related_name="threads")
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="threads"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "projects_thread"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "student"], name="thread_one_per_student"),
        ]

    def __str__(self) -> str:
        return f"Thread {self.pk} on {self.project_id} with {self.student_id}"


class Message(models.Model):
    """One message of a thread, stored exactly as its author typed it."""

    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="messages_written"
    )
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "projects_message"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["thread", "created_at"], name="message_thread_created_idx")]

    def __str__(self) -> str:
        return f"Message {self.pk} in thread {self.thread_id}"


class ThreadRead(models.Model):
    """Up to when a participant has read a thread; later messages by others are unread."""

    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="reads")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    last_read_at = models.DateTimeField()

    class Meta:
        db_table = "projects_threadread"
        constraints = [
            models.UniqueConstraint(fields=["thread", "user"], name="threadread_one_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.thread_id} up to {self.last_read_at}"


class Attachment(models.Model):
    """A file delivered with a milestone or attached to a message, in private storage.

    `storage_name` is a random path in the default storage, never a public URL;
    the file is served by `GET /api/v1/files/<uuid>/` to those who may see its
    delivery or message. `content_type` is what the content was detected as,
    not what the client claimed. Exactly one of `delivery` and `message` is set.
    """

    uuid = models.UUIDField(unique=True, editable=False)
    delivery = models.ForeignKey(
        "contracts.Delivery", on_delete=models.CASCADE, null=True, blank=True, related_name="files"
    )
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, null=True, blank=True, related_name="attachments"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    name = models.CharField(max_length=255, help_text="the file name to download it as")
    content_type = models.CharField(max_length=120)
    size = models.PositiveBigIntegerField(help_text="bytes")
    sha256 = models.CharField(max_length=64)
    storage_name = models.CharField(max_length=255, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "projects_attachment"
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(delivery__isnull=False, message__isnull=True)
                | Q(delivery__isnull=True, message__isnull=False),
                name="attachment_one_owner",
            ),
            models.CheckConstraint(condition=Q(size__gt=0), name="attachment_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name
