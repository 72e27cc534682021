"""Reviews both ways once a contract ends, and the reputation computed from them.

The rules:

- A contract ends when it is `completed` (every milestone released or
  refunded) or `cancelled`. From then, for `REVIEW_WINDOW_DAYS` (14), the
  company and the student may each write one review of the other: an overall
  rating and three sub-ratings (quality, communication, deadlines), whole
  stars 1–5, a public comment and private feedback for staff only.
- Double-blind: the other side reads a review once both sides wrote theirs, or
  once the window closed. Its author always reads it; staff always do.
- The reviewed party may answer a review it can read, once.
- Reputation counts completed contracts only. A contract cancelled (by mutual
  agreement, the cancellation flow) is left out of every score, and its
  reviews stay between the two parties rather than on public pages: a rating
  shown next to the score but not counted in it would mislead.

Reputation is computed in SQL from integer sums and counts, in a constant
number of queries whatever the number of students, and averaged with Decimal:
`Decimal("4.50")`, never a float (SQLite and PostgreSQL would round floats
differently, and JSON would print 4.499999…)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from marketplace.errors import NotFound, PermissionDenied, StateConflict, ValidationFailed
from marketplace.models import StudentProfile, User
from marketplace.services import skill_student_counts_refresh
from projects.contracts.models import Contract
from projects.reviews import notifications as notices
from projects.reviews.models import Review, ReviewReply
from projects.reviews.selectors import (
    R,
    _ended_before,
    _window,
    review_is_visible,
    review_role_of,
    review_window,
    student_reputations,
)

logger = logging.getLogger(__name__)


@transaction.atomic
def review_submit(
    *,
    contract_id: int,
    by: User,
    rating: int,
    quality: int,
    communication: int,
    deadlines: int,
    comment: str = "",
    private_feedback: str = "",
) -> Review:
    """Write the user's side's review of an ended contract (final once written).

    Ratings are whole stars 1–5. The contract row is locked, so two members of
    one company cannot both write the company's review. The other side is told
    at once that a review waits for theirs; when this review is the second,
    both reviewed parties are told they can read theirs. Raises NotFound,
    PermissionDenied for a non-party, ValidationFailed (field named) for a
    rating out of range, StateConflict before the contract ended, after the
    window closed, or for a side already reviewed.
    """
    contract = (
        Contract.objects.select_for_update(of=("self",))
        .select_related("project", "company", "student")
        .filter(pk=contract_id)
        .first()
    )
    if contract is None:
        raise NotFound("No such contract.")
    role = review_role_of(user=by, contract=contract)
    if role is None:
        raise PermissionDenied("Only the two parties of a contract review each other.")
    stars = {
        "rating": rating,
        "quality": quality,
        "communication": communication,
        "deadlines": deadlines,
    }
    for name, value in stars.items():
        if not 1 <= int(value) <= 5:
            raise ValidationFailed("Give between 1 and 5 stars.", field=name)
    window = review_window(contract=contract)
    now = timezone.now()
    if window.opens_at is None:
        raise StateConflict("Reviews open when the contract is completed or cancelled.")
    if not window.is_open(now):
        raise StateConflict(f"The review window closed on {window.closes_at:%Y-%m-%d}.")
    if Review.objects.filter(contract=contract, role=role).exists():
        raise StateConflict("Your side already reviewed this contract.")
    try:
        with transaction.atomic():
            review = Review.objects.create(
                contract=contract,
                role=role,
                author=by,
                subject_user_id=contract.student_id if role == R.COMPANY_TO_STUDENT else None,
                subject_company_id=contract.company_id if role == R.STUDENT_TO_COMPANY else None,
                **stars,
                comment=comment.strip(),
                private_feedback=private_feedback.strip(),
            )
    except IntegrityError as exc:
        raise StateConflict("Your side already reviewed this contract.") from exc
    other = Review.objects.filter(contract=contract).exclude(pk=review.pk).first()
    if other is None:
        notices.review_waiting(review, closes_at=window.closes_at)  # type: ignore[arg-type]
    else:
        _tell_subjects([other, review])
        student_stats_refresh(student_ids=[contract.student_id])
    logger.info("review.submitted", extra={"review_id": review.pk, "contract_id": contract.pk})
    return review


def _tell_subjects(reviews: Iterable[Review]) -> None:
    told = []
    for review in reviews:
        if review.subject_told_at is None:
            notices.review_received(review)
            told.append(review.pk)
    Review.objects.filter(pk__in=told).update(subject_told_at=timezone.now())


def reviews_reveal_due(*, now: dt.datetime | None = None) -> int:
    """Tell reviewed parties whose review became readable because its window closed.

    For the scheduled task: idempotent (`subject_told_at`, and notification
    keys). Returns how many reviews were told.
    """
    now = now or timezone.now()
    closed_before = now - _window()
    due = Review.objects.filter(subject_told_at__isnull=True).filter(_ended_before(closed_before))
    count = 0
    for review_id in list(due.values_list("pk", flat=True)[:1000]):
        with transaction.atomic():
            review = (
                Review.objects.select_for_update(of=("self",))
                .select_related("contract__project", "contract__student", "subject_company")
                .filter(pk=review_id, subject_told_at__isnull=True)
                .first()
            )
            if review is None or not review_window(contract=review.contract).is_closed(now):
                continue
            _tell_subjects([review])
            student_stats_refresh(student_ids=[review.contract.student_id])
            count += 1
    return count


@transaction.atomic
def review_reply_create(*, review_id: int, by: User, body: str) -> ReviewReply:
    """The reviewed party answers a review it can read, once.

    Raises NotFound when the review is not readable by them, PermissionDenied
    for anyone but the reviewed party, ValidationFailed (field `body`) for an
    empty answer, StateConflict for a second reply.
    """
    review = (
        Review.objects.select_for_update(of=("self",))
        .select_related("contract__project", "author")
        .filter(pk=review_id)
        .first()
    )
    if review is None:
        raise NotFound("No such review.")
    sides = set(
        Review.objects.filter(contract_id=review.contract_id).values_list("role", flat=True)
    )
    if not review_is_visible(review=review, user=by, sides_written=sides):
        raise NotFound("No such review.")
    subject_role = (
        R.STUDENT_TO_COMPANY if review.role == R.COMPANY_TO_STUDENT else R.COMPANY_TO_STUDENT
    )
    if review_role_of(user=by, contract=review.contract) != subject_role:
        raise PermissionDenied("Only the reviewed party answers a review.")
    if not body.strip():
        raise ValidationFailed("Write an answer.", field="body")
    if ReviewReply.objects.filter(review=review).exists():
        raise StateConflict("This review was answered already.")
    reply = ReviewReply.objects.create(review=review, author=by, body=body.strip())
    notices.review_replied(review, reply)
    return reply


STATS_FIELDS = (
    "review_count",
    "rating_total",
    "completed_contracts",
    "timed_milestones",
    "on_time_milestones",
)


def student_stats_refresh(*, student_ids: Iterable[int]) -> int:
    """Copy each student's `Reputation` onto their StudentProfile (the columns of
    `STATS_FIELDS`), where search and matching rank by it. Returns profiles changed.

    Called where an input changes (a milestone approved, a contract completed or
    cancelled, a review becoming readable) and daily for everyone
    (`student_stats_refresh_all`), which also catches a review window closing
    between two runs of its hourly task. Four queries whatever the number of ids.
    """
    ids = list(student_ids)
    reps = student_reputations(student_ids=ids)
    changed = []
    for profile in StudentProfile.objects.filter(user_id__in=ids):
        rep = reps[profile.user_id]
        values = {name: getattr(rep, name) for name in STATS_FIELDS}
        if any(getattr(profile, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(profile, name, value)
            changed.append(profile)
    StudentProfile.objects.bulk_update(changed, STATS_FIELDS, batch_size=500)
    return len(changed)


def student_stats_refresh_all(*, batch: int = 1000) -> int:
    """`student_stats_refresh` for every student profile, `batch` at a time; profiles changed."""
    changed = 0
    last = 0
    while True:
        ids = list(
            StudentProfile.objects.filter(user_id__gt=last)
            .order_by("user_id")
            .values_list("user_id", flat=True)[:batch]
        )
        if not ids:
            return changed
        changed += student_stats_refresh(student_ids=ids)
        last = ids[-1]


@dataclass(frozen=True)
class RankingsRefresh:
    skills: int
    students_changed: int


def rankings_refresh() -> RankingsRefresh:
    """Rebuild every ranking copy; returns the rows touched of each kind."""
    return RankingsRefresh(
        skills=skill_student_counts_refresh(),
        students_changed=student_stats_refresh_all(),
    )
