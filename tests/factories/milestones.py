"""A milestone at the point auto-release cares about: funded, delivered, waiting for review."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from payments.models import PayoutAccount
from payments.services.funding import escrow_fund
from projects.briefs.services import bid_submit
from projects.contracts.models import Milestone
from projects.contracts.services import bid_accept, milestone_submit
from tests.factories import ProjectFactory, VerifiedStudentFactory


def submitted_milestone(
    *, submitted_ago: dt.timedelta | None = None, payouts_enabled: bool = True
) -> Milestone:
    """Bid, accept, fund with `pm_card_visa` and deliver one 10,000-cent EUR milestone.

    `submitted_ago` moves `submitted_at` that far into the past (default: now).
    """
    student = VerifiedStudentFactory()
    PayoutAccount.objects.create(
        user=student,
        gateway="dummy",
        account_id=f"acct_student_{student.pk}",
        payouts_enabled=payouts_enabled,
    )
    project = ProjectFactory(budget_cents=20_000)
    owner = project.created_by
    bid = bid_submit(
        project_id=project.pk, by=student, amount_cents=10_000, estimated_days=3, cover_letter="hi"
    )
    milestone = bid_accept(bid_id=bid.pk, by=owner).milestones.get()
    escrow_fund(escrow_id=milestone.escrow_id, actor=owner, payment_method="pm_card_visa")
    milestone_submit(milestone_id=milestone.pk, by=student, note="done")
    if submitted_ago is not None:
        Milestone.objects.filter(pk=milestone.pk).update(
            submitted_at=timezone.now() - submitted_ago
        )
    return Milestone.objects.select_related("escrow", "contract").get(pk=milestone.pk)
