"""What the parties are told about reviews and messages (in-app and by e-mail).

Like every app's `notifications`: one function per event, called inside the service's
transaction; keys make each event told once per recipient.

- `review-waiting:<review>:<user>`: the other side reviewed you; nothing of
  its content is told (double-blind), only that writing yours reveals both.
- `review-received:<review>:<user>`: a review of you became readable (both
  sides wrote, or the window closed).
- `review-reply:<reply>:<user>`: the reviewed party answered your review.
- `message:<message>:<user>`: a message for you. In-app for every message; an
  e-mail only for the first one unread since you last read the thread, so a
  lively conversation sends one e-mail, not one per line."""

from __future__ import annotations

from marketplace.models import User
from marketplace.notifications import notify
from marketplace.selectors import company_members
from projects.briefs.models import Project
from projects.contracts.models import Contract
from projects.messaging.models import Message, ThreadRead


def _recipients(message: Message, project: Project) -> list[User]:
    thread = message.thread
    if message.author_id == thread.student_id:
        return company_members(company_id=project.company_id)
    return [thread.student] if thread.student.is_active else []


def _had_unread(message: Message, user: User) -> bool:
    """Whether the user already had an unread message by others in this thread."""
    last = ThreadRead.objects.filter(thread_id=message.thread_id, user=user).first()
    earlier = (
        Message.objects.filter(thread_id=message.thread_id)
        .exclude(pk=message.pk)
        .exclude(author=user)
    )
    if last is not None:
        earlier = earlier.filter(created_at__gt=last.last_read_at)
    return earlier.exists()


def message_posted(message: Message, *, project: Project, contract: Contract | None) -> None:
    if contract is not None:
        template, url = "message_received", f"/api/v1/contracts/{contract.pk}/messages/"
    elif message.author_id == message.thread.student_id:
        template, url = "question_received", f"/api/v1/projects/{project.pk}/questions/"
    else:
        template, url = "question_answered", f"/api/v1/projects/{project.pk}/questions/"
    for user in _recipients(message, project):
        notify(
            user=user,
            template=template,
            key=f"message:{message.pk}:{user.pk}",
            context={
                "project": project,
                "message": message,
                "author_name": message.author.full_name,
                "attachments": len(message.attachments.all()),
                "url": url,
            },
            url=url,
            email=not _had_unread(message, user),
        )
