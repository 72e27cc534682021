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

import datetime as dt

from marketplace.models import User
from marketplace.notifications import notify
from marketplace.selectors import company_members
from projects.contracts.models import Contract
from projects.reviews.models import Review, ReviewReply


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
