"""What the parties are told about reviews and messages (in-app and by e-mail).

Like `projects.notices`: one function per event, called inside the service's
transaction; keys make each event told once per recipient.

- `review-waiting:<review>:<user>`: the other side reviewed you; nothing of
  its content is told (double-blind), only that writing yours reveals both.
- `review-received:<review>:<user>`: a review of you became readable (both
  sides wrote, or the window closed).
- `review-reply:<reply>:<user>`: the reviewed party answered your review.
- `message:<message>:<user>`: a message for you. In-app for every message; an
  e-mail only for the first one unread since you last read the thread, so a
  lively conversation sends one e-mail, not one per line.
"""

from __future__ import annotations

import datetime as dt

from marketplace.models import User
from marketplace.notifications import notify
from marketplace.selectors import company_members
from projects.models import Contract, Message, Project, Review, ReviewReply, ThreadRead


def _reviews_url(contract: Contract) -> str:
    return f"/api/v1/contracts/{contract.pk}/reviews/"


def _subjects(review: Review) -> list[User]:
    contract = review.contract
    if review.role == Review.Role.COMPANY_TO_STUDENT:
        return [contract.student]
    return company_members(company_id=contract.company_id)


def review_waiting(review: Review, *, closes_at: dt.datetime) -> None:
    contract = review.contract
    for user in _subjects(review):
        notify(
            user=user,
            template="review_waiting",
            key=f"review-waiting:{review.pk}:{user.pk}",
            context={
                "project": contract.project,
                "closes_on": closes_at.date(),
                "reviewer_is_company": review.role == Review.Role.COMPANY_TO_STUDENT,
                "url": _reviews_url(contract),
            },
            url=_reviews_url(contract),
        )


def review_received(review: Review) -> None:
    contract = review.contract
    for user in _subjects(review):
        notify(
            user=user,
            template="review_received",
            key=f"review-received:{review.pk}:{user.pk}",
            context={
                "project": contract.project,
                "review": review,
                "reviewer_is_company": review.role == Review.Role.COMPANY_TO_STUDENT,
                "url": _reviews_url(contract),
            },
            url=_reviews_url(contract),
        )


def review_replied(review: Review, reply: ReviewReply) -> None:
    contract = review.contract
    user = review.author
    if user.is_active:
        notify(
            user=user,
            template="review_reply",
            key=f"review-reply:{reply.pk}:{user.pk}",
            context={"project": contract.project, "reply": reply, "url": _reviews_url(contract)},
            url=_reviews_url(contract),
        )


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
