"""Work the platform does on its own schedule: releasing deliveries nobody reviewed.

Auto-release (DESIGN, "Escrow on Stripe", step 4): a milestone whose delivery
has waited `AUTO_RELEASE_DAYS` days without the company approving it or asking
for changes is approved by the platform (`milestone_approve(by=None)`), which
releases its escrow. A milestone is due when its work is `submitted`, its money
is still `funded` (not frozen by a dispute, not already on its way) and it was
submitted at least `AUTO_RELEASE_DAYS` × 24 h ago (aware UTC datetimes).

The Celery tasks in `projects.contracts.tasks` are thin callers of these functions.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from marketplace.errors import NotFound, StateConflict
from payments.models import Escrow
from projects.contracts.models import Dispute, Milestone
from projects.contracts.services import milestone_approve

logger = logging.getLogger(__name__)


def auto_release_cutoff(*, now: dt.datetime | None = None) -> dt.datetime:
    """The latest `submitted_at` that is due at `now` (default: the current time, UTC)."""
    return (now or timezone.now()) - dt.timedelta(days=settings.AUTO_RELEASE_DAYS)


def milestones_due_for_auto_release(*, now: dt.datetime | None = None) -> QuerySet[Milestone]:
    """Milestones the platform should approve now: submitted, still funded, waiting long enough.

    A milestone with an open dispute is never due, even if its escrow was not frozen.
    Oldest submission first.
    """
    open_dispute = Dispute.objects.filter(milestone=OuterRef("pk"), status=Dispute.Status.OPEN)
    return (
        Milestone.objects.filter(
            work_status=Milestone.WorkStatus.SUBMITTED,
            escrow__status=Escrow.Status.FUNDED,
            submitted_at__isnull=False,
            submitted_at__lte=auto_release_cutoff(now=now),
        )
        .exclude(Exists(open_dispute))
        .order_by("submitted_at", "pk")
    )


def milestone_auto_release(*, milestone_id: int) -> bool:
    """Approve one milestone on the company's behalf if, and only if, it is still due.

    `milestone_approve` checks that it is due with the milestone row locked (its
    `guard`), so a company approving or asking for changes at the same moment
    either wins (then nothing happens here) or waits for this one; the transfer
    is made once the approval committed, outside its transaction. Idempotent: a
    milestone approved already, sent back for changes, disputed or deleted is
    left alone, and a StateConflict from the approval (someone else got there
    first) counts as done. Returns True when this call approved it.
    """

    def still_due(milestone: Milestone) -> None:
        if not milestones_due_for_auto_release().filter(pk=milestone.pk).exists():
            raise StateConflict("This milestone is not due for auto-release.")

    try:
        milestone_approve(milestone_id=milestone_id, by=None, guard=still_due)
    except (StateConflict, NotFound):
        logger.info("milestone.auto_release_skipped", extra={"milestone_id": milestone_id})
        return False
    logger.info("milestone.auto_released", extra={"milestone_id": milestone_id})
    return True
