"""Contracts at the points reviews, messages and files care about, built through the services."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from marketplace.models import User
from payments.services.payouts import payout_account_onboard
from projects.briefs.models import Project
from projects.briefs.services import bid_submit
from projects.contracts.models import Contract
from projects.contracts.services import (
    MilestoneSpec,
    bid_accept,
    milestone_approve,
    milestone_fund,
    milestone_submit,
)
from tests.factories import CompanyMemberFactory, ProjectFactory, VerifiedStudentFactory


def active_contract(
    *,
    owner: User | None = None,
    student: User | None = None,
    amounts: tuple[int, ...] = (10_000,),
    funded: bool = True,
) -> Contract:
    """A contract in progress: one milestone per amount (EUR cents), due in 10 days, funded."""
    owner = owner or CompanyMemberFactory()
    student = student or VerifiedStudentFactory()
    project = ProjectFactory(
        company=owner.company_membership.company, created_by=owner, budget_cents=sum(amounts)
    )
    bid = bid_submit(
        project_id=project.pk,
        by=student,
        amount_cents=sum(amounts),
        estimated_days=5,
        cover_letter="Hi",
    )
    due = timezone.localdate() + dt.timedelta(days=10)
    contract = bid_accept(
        bid_id=bid.pk,
        by=owner,
        milestones=[
            MilestoneSpec(title=f"Step {i}", amount_cents=a, due_date=due)
            for i, a in enumerate(amounts, start=1)
        ],
    )
    if funded:
        for milestone in contract.milestones.order_by("position"):
            milestone_fund(milestone_id=milestone.pk, by=owner, payment_method="pm_card_visa")
    return contract


def completed_contract(
    *,
    owner: User | None = None,
    student: User | None = None,
    amounts: tuple[int, ...] = (10_000,),
) -> Contract:
    """A contract whose every milestone was delivered, approved and paid: `completed` now."""
    contract = active_contract(owner=owner, student=student, amounts=amounts)
    owner = contract.project.created_by
    payout_account_onboard(user=contract.student)
    for milestone in contract.milestones.order_by("position"):
        milestone_submit(milestone_id=milestone.pk, by=contract.student, note="done")
        milestone_approve(milestone_id=milestone.pk, by=owner)
    contract.refresh_from_db()
    assert contract.status == Contract.Status.COMPLETED
    return contract


def open_brief(*, owner: User | None = None) -> Project:
    owner = owner or CompanyMemberFactory()
    return ProjectFactory(company=owner.company_membership.company, created_by=owner)
