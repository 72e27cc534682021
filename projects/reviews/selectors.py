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
import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from marketplace.errors import NotFound
from marketplace.models import Company, User
from marketplace.selectors import user_company_id
from projects.contracts.models import Contract
from projects.contracts.permissions import is_contract_company, is_contract_student
from projects.contracts.selectors import student_track_records
from projects.reviews.models import Review
from schools.models import EnrolmentVerification
from schools.selectors import coordinator_school_id, verified_student_ids

R = Review.Role


C = Contract.Status


ENDED = (C.COMPLETED, C.CANCELLED)


SUB_RATINGS = ("quality", "communication", "deadlines")


TWO_PLACES = Decimal("0.01")


def _window() -> dt.timedelta:
    return dt.timedelta(days=settings.REVIEW_WINDOW_DAYS)


def contract_ended_at(contract: Contract) -> dt.datetime | None:
    """When the contract ended, which opens its review window; None while it runs.

    A completed contract ended at `completed_at`. A cancelled one at its
    cancellation time: `cancelled_at` where the cancellation flow records one,
    else `completed_at`.
    """
    if contract.status == C.COMPLETED:
        return contract.completed_at
    if contract.status == C.CANCELLED:
        # getattr: the cancellation flow owns that field; this reads it if it exists.
        return getattr(contract, "cancelled_at", None) or contract.completed_at
    return None


def _ended_before(when: dt.datetime) -> Q:
    """Reviews whose contract ended before `when`, in SQL, as `contract_ended_at` reads it."""
    ended = Q(contract__status__in=ENDED, contract__completed_at__lte=when)
    if any(f.name == "cancelled_at" for f in Contract._meta.get_fields()):
        ended |= Q(contract__status=C.CANCELLED, contract__cancelled_at__lte=when)
    return ended


@dataclass(frozen=True)
class ReviewWindow:
    """The review window of one contract: `opens_at` ≤ now < `closes_at` means open."""

    opens_at: dt.datetime | None
    closes_at: dt.datetime | None

    def is_open(self, now: dt.datetime) -> bool:
        return self.opens_at is not None and self.opens_at <= now < self.closes_at  # type: ignore[operator]

    def is_closed(self, now: dt.datetime) -> bool:
        return self.closes_at is not None and now >= self.closes_at


def review_window(*, contract: Contract) -> ReviewWindow:
    ended = contract_ended_at(contract)
    return ReviewWindow(ended, ended + _window() if ended else None)


def review_role_of(*, user: User, contract: Contract) -> str | None:
    """The side the user writes on for this contract, or None when they are not a party."""
    if is_contract_company(user, contract):
        return R.COMPANY_TO_STUDENT
    if is_contract_student(user, contract):
        return R.STUDENT_TO_COMPANY
    return None


def review_is_visible(
    *, review: Review, user: User, sides_written: set[str], now: dt.datetime | None = None
) -> bool:
    """Whether `user` may read `review`, given the sides written on its contract.

    Its author's side and staff always; the other side once both sides wrote
    or the window closed; nobody else.
    """
    now = now or timezone.now()
    if user.is_staff:
        return True
    role = review_role_of(user=user, contract=review.contract)
    if role is None:
        return False
    if role == review.role:
        return True
    both = {R.COMPANY_TO_STUDENT, R.STUDENT_TO_COMPANY} <= sides_written
    return both or review_window(contract=review.contract).is_closed(now)


def _other_side_written() -> Exists:
    return Exists(
        Review.objects.filter(contract_id=OuterRef("contract_id")).exclude(role=OuterRef("role"))
    )


def _public_reviews() -> QuerySet[Review]:
    """Reviews anyone may read on a public page: of completed contracts, past the blind."""
    closed_before = timezone.now() - _window()
    return Review.objects.filter(contract__status=C.COMPLETED).filter(
        Q(contract__completed_at__lte=closed_before) | _other_side_written()
    )


def review_list_for_contract(*, contract: Contract, user: User) -> list[Review]:
    """The reviews of a contract the user may read (see `review_is_visible`), in one query."""
    reviews = list(
        Review.objects.filter(contract=contract)
        .select_related("contract", "author", "reply__author")
        .order_by("created_at", "id")
    )
    sides = {r.role for r in reviews}
    now = timezone.now()
    return [
        r for r in reviews if review_is_visible(review=r, user=user, sides_written=sides, now=now)
    ]


def review_get_visible(*, review_id: int, user: User) -> Review:
    """One review the user may read; NotFound otherwise (hidden means absent for them)."""
    review = (
        Review.objects.select_related("contract", "author", "reply__author")
        .filter(pk=review_id)
        .first()
    )
    if review is None:
        raise NotFound("No such review.")
    sides = set(
        Review.objects.filter(contract_id=review.contract_id).values_list("role", flat=True)
    )
    if not review_is_visible(review=review, user=user, sides_written=sides):
        raise NotFound("No such review.")
    return review


class ReviewRefusal(enum.Enum):
    """Why a user may not review a contract now (`ContractReviewState.refusal`)."""

    NOT_A_PARTY = "not_a_party"
    NOT_ENDED = "not_ended"
    WRITTEN = "written"
    CLOSED = "closed"


@dataclass(frozen=True)
class ContractReviewState:
    """What a party needs to know about the reviews of one contract."""

    window: ReviewWindow
    my_role: str | None
    written: bool
    other_side_written: bool

    def refusal(self, now: dt.datetime | None = None) -> ReviewRefusal | None:
        """Why the user may not review now, or None when they may: a party, once per side,
        within the window. The one rule: the contract policy's `review` action words it."""
        if self.my_role is None:
            return ReviewRefusal.NOT_A_PARTY
        if self.window.opens_at is None:
            return ReviewRefusal.NOT_ENDED
        if self.written:
            return ReviewRefusal.WRITTEN
        if not self.window.is_open(now or timezone.now()):
            return ReviewRefusal.CLOSED
        return None

    @property
    def can_review(self) -> bool:
        return self.refusal() is None


def contract_review_state_from(
    *, contract: Contract, user: User, sides: Iterable[str]
) -> ContractReviewState:
    """The state given the sides already written (e.g. read from prefetched reviews)."""
    sides = set(sides)
    role = review_role_of(user=user, contract=contract)
    other = R.STUDENT_TO_COMPANY if role == R.COMPANY_TO_STUDENT else R.COMPANY_TO_STUDENT
    return ContractReviewState(
        window=review_window(contract=contract),
        my_role=role,
        written=role in sides,
        other_side_written=role is not None and other in sides,
    )


def contract_review_state(*, contract: Contract, user: User) -> ContractReviewState:
    sides = Review.objects.filter(contract=contract).values_list("role", flat=True)
    return contract_review_state_from(contract=contract, user=user, sides=sides)


def review_list_public_for_student(*, student_id: int) -> QuerySet[Review]:
    """Public reviews of a student by companies, newest first (completed contracts only)."""
    return (
        _public_reviews()
        .filter(role=R.COMPANY_TO_STUDENT, subject_user_id=student_id)
        .select_related("contract__project", "contract__company", "reply__author")
        .order_by("-created_at", "-id")
    )


def review_list_public_for_company(*, company_id: int) -> QuerySet[Review]:
    """Public reviews of a company by students, newest first (completed contracts only)."""
    return (
        _public_reviews()
        .filter(role=R.STUDENT_TO_COMPANY, subject_company_id=company_id)
        .select_related("contract__project", "author", "reply__author")
        .order_by("-created_at", "-id")
    )


def review_list_for_staff() -> QuerySet[Review]:
    """Every review, newest first, private feedback included (staff only)."""
    return Review.objects.select_related(
        "contract__project", "author", "subject_user", "subject_company", "reply__author"
    ).order_by("-created_at", "-id")


def _average(total: int | None, count: int) -> Decimal | None:
    if not count:
        return None
    return (Decimal(total or 0) / Decimal(count)).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


@dataclass
class Reputation:
    """Scores of a student or a company; averages are Decimal with two places, None if no data.

    `on_time_rate` (students): of their milestones whose work was approved,
    with a due date, on contracts not cancelled, the share whose accepted
    delivery (`submitted_at`, the last hand-in before approval) fell on or
    before the due date, in the site's time zone.
    """

    review_count: int = 0
    rating_total: int = 0
    average_rating: Decimal | None = None
    averages: dict[str, Decimal | None] = field(default_factory=dict)
    completed_contracts: int = 0
    timed_milestones: int = 0
    on_time_milestones: int = 0

    @property
    def on_time_rate(self) -> Decimal | None:
        if not self.timed_milestones:
            return None
        ratio = Decimal(self.on_time_milestones) / Decimal(self.timed_milestones)
        return ratio.quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


def _rating_sums() -> dict[str, Sum | Count]:
    return {
        "n": Count("pk"),
        "rating_total": Sum("rating"),
        **{f"{name}_total": Sum(name) for name in SUB_RATINGS},
    }


def _fill_ratings(rep: Reputation, row: dict) -> None:
    rep.review_count = row["n"]
    rep.rating_total = row["rating_total"] or 0
    rep.average_rating = _average(row["rating_total"], row["n"])
    rep.averages = {name: _average(row[f"{name}_total"], row["n"]) for name in SUB_RATINGS}


def student_reputations(*, student_ids: Iterable[int]) -> dict[int, Reputation]:
    """Reputation of each student (see `Reputation`), in three queries whatever their number.

    Ratings come from public reviews; the track record from
    `projects.contracts.selectors.student_track_records`.
    """
    ids = list(student_ids)
    out = {pk: Reputation(averages=dict.fromkeys(SUB_RATINGS)) for pk in ids}
    if not ids:
        return out
    ratings = (
        _public_reviews()
        .filter(role=R.COMPANY_TO_STUDENT, subject_user_id__in=ids)
        .values("subject_user_id")
        .annotate(**_rating_sums())
        .order_by()
    )
    for row in ratings:
        _fill_ratings(out[row["subject_user_id"]], row)
    for pk, record in student_track_records(student_ids=ids).items():
        rep = out[pk]
        rep.completed_contracts = record.completed_contracts
        rep.timed_milestones = record.timed_milestones
        rep.on_time_milestones = record.on_time_milestones
    return out


def company_reputation(*, company_id: int) -> Reputation:
    """Reputation of a company: students' ratings of it and its completed contracts (2 queries)."""
    rep = Reputation(averages=dict.fromkeys(SUB_RATINGS))
    row = (
        _public_reviews()
        .filter(role=R.STUDENT_TO_COMPANY, subject_company_id=company_id)
        .aggregate(**_rating_sums())
    )
    _fill_ratings(rep, row)
    rep.completed_contracts = Contract.objects.filter(
        company_id=company_id, status=C.COMPLETED
    ).count()
    return rep


def student_profile_visible_to(*, user: User, student_id: int) -> bool:
    """Who may open a student's public profile: the student, staff, their school's
    coordinator, and company members when the student is verified today or has
    worked for their company."""
    student = User.objects.filter(pk=student_id, role=User.Role.STUDENT).first()
    if student is None:
        return False
    if user.is_staff or user.pk == student_id:
        return True
    company_id = user_company_id(user=user)
    if company_id is not None:
        return (
            bool(verified_student_ids(student_ids=[student_id]))
            or Contract.objects.filter(company_id=company_id, student_id=student_id).exists()
        )
    school_id = coordinator_school_id(user=user)
    if school_id is not None:
        return (
            EnrolmentVerification.objects.in_force()
            .filter(student_id=student_id, school_id=school_id)
            .exists()
        )
    return False


def company_get(*, company_id: int) -> Company:
    company = Company.objects.filter(pk=company_id).first()
    if company is None:
        raise NotFound("No such company.")
    return company
