"""What happens to the work when a student's standing changes elsewhere.

The schools app ends verifications; it cannot reach bids (projects depends on
schools, never the reverse), so the consequences for bids live here and the
scheduled task in `projects.briefs.tasks` runs both steps together."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from marketplace.models import User
from projects.briefs.models import Bid
from projects.briefs.states import BID_STATES
from schools.models import EnrolmentVerification
from schools.selectors import verified_student_ids
from schools.services import verification_revoke, verifications_expire

logger = logging.getLogger(__name__)


# The bids a student may still take back (submitted or shortlisted), read off the table.
OPEN_BID_STATUSES = tuple(sorted(BID_STATES.sources(Bid.Status.WITHDRAWN)))


@dataclass(frozen=True)
class VerificationExpiry:
    """What one expiry run did: the students whose verification ended, the bids withdrawn."""

    student_ids: list[int]
    bids_withdrawn: int


@transaction.atomic
def bids_withdraw_for_students(
    *,
    student_ids: Iterable[int],
    today: dt.date | None = None,
    by: User | None = None,
    note: str = "",
) -> int:
    """Withdraw the open bids (submitted or shortlisted) of students no longer verified.

    A student among `student_ids` who holds another verification in force on
    `today` (default: the local date) keeps their bids. The open bids are
    locked, moved to withdrawn with `decided_at` now and one BidEvent each
    (actor `by`, None for the platform), in a fixed number of queries; decided
    bids are left alone, so running it twice withdraws nothing more. Returns
    how many bids changed.
    """
    ids = set(student_ids)
    if not ids:
        return 0
    ids -= verified_student_ids(student_ids=ids, today=today)
    if not ids:
        return 0
    bids = list(
        Bid.objects.select_for_update()
        .filter(student_id__in=ids, status__in=OPEN_BID_STATUSES)
        .order_by("pk")
    )
    now = timezone.now()
    for bid in bids:
        bid.decided_at = now
    BID_STATES.transition_many(
        bids, Bid.Status.WITHDRAWN, actor=by, note=note, update_fields=["decided_at"]
    )
    logger.info("bids.withdrawn_unverified", extra={"count": len(bids)})
    return len(bids)


@transaction.atomic
def verifications_expire_and_withdraw_bids(*, today: dt.date | None = None) -> VerificationExpiry:
    """Expire the verifications past their graduation date, then withdraw those students' bids.

    Both steps commit together, so a failure leaves nothing half done and the
    next run starts over (see `schools.services.verifications_expire`, and
    `bids_withdraw_for_students` for who keeps their bids). The students'
    e-mails leave after commit.
    """
    student_ids = verifications_expire(today=today)
    withdrawn = bids_withdraw_for_students(
        student_ids=student_ids, today=today, note="Enrolment verification expired."
    )
    return VerificationExpiry(student_ids=student_ids, bids_withdrawn=withdrawn)


@transaction.atomic
def verification_revoke_and_withdraw_bids(
    *, verification_id: int, by: User, reason: str
) -> EnrolmentVerification:
    """Revoke a verification (see `schools.services.verification_revoke`) and withdraw the
    student's open bids, together. Finished work and payouts are untouched; an active
    contract goes on (only new contracts need a verification in force).
    """
    verification = verification_revoke(verification_id=verification_id, by=by, reason=reason)
    bids_withdraw_for_students(
        student_ids=[verification.student_id], by=by, note="Enrolment verification revoked."
    )
    return verification
