"""What the parties of a brief or contract are told, and when (in-app and by e-mail).

Each function names one event; the services call them inside their
transaction, and the e-mails leave after commit. Keys make every event told
once per recipient, however often a service or task runs.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from marketplace.models import User
from marketplace.money import Money
from marketplace.notifications import notify
from marketplace.selectors import company_members
from projects.models import Bid, Contract, Delivery, Dispute, Milestone, Project


def _money(cents: int, currency: str) -> str:
    return Money(cents, currency).format()


def _contract_url(contract: Contract) -> str:
    return f"/api/v1/contracts/{contract.pk}/"


def bid_submitted(bid: Bid) -> None:
    project = bid.project
    for member in company_members(company_id=project.company_id):
        notify(
            user=member,
            template="bid_submitted",
            key=f"bid-submitted:{bid.pk}:{member.pk}",
            context={
                "project": project,
                "bid": bid,
                "amount": _money(bid.amount_cents, bid.currency),
                "url": f"/api/v1/projects/{project.pk}/bids/",
            },
            url=f"/api/v1/projects/{project.pk}/bids/",
        )


def bid_accepted(bid: Bid, contract: Contract) -> None:
    notify(
        user=bid.student,
        template="bid_accepted",
        key=f"bid-accepted:{bid.pk}",
        context={
            "project": bid.project,
            "contract": contract,
            "amount": _money(contract.amount_cents, contract.currency),
            "url": _contract_url(contract),
        },
        url=_contract_url(contract),
    )


def bids_rejected(project: Project, bid_ids: list[int]) -> None:
    for bid in Bid.objects.select_related("student").filter(pk__in=bid_ids):
        notify(
            user=bid.student,
            template="bid_rejected",
            key=f"bid-rejected:{bid.pk}",
            context={"project": project},
            url=f"/api/v1/projects/{project.pk}/",
        )


def milestone_funded(milestone: Milestone) -> None:
    contract = milestone.contract
    notify(
        user=contract.student,
        template="milestone_funded",
        key=f"milestone-funded:{milestone.pk}",
        context={
            "milestone": milestone,
            "project": contract.project,
            "amount": _money(milestone.escrow.payee_cents, milestone.currency),
            "url": _contract_url(contract),
        },
        url=_contract_url(contract),
    )


def delivery_submitted(milestone: Milestone, delivery: Delivery) -> None:
    contract = milestone.contract
    days = settings.AUTO_RELEASE_DAYS
    due = (delivery.created_at + dt.timedelta(days=days)).date()
    for member in company_members(company_id=contract.company_id):
        notify(
            user=member,
            template="delivery_submitted",
            key=f"delivery-submitted:{delivery.pk}:{member.pk}",
            context={
                "milestone": milestone,
                "project": contract.project,
                "delivery": delivery,
                "auto_release_days": days,
                "auto_release_date": due,
                "url": _contract_url(contract),
            },
            url=_contract_url(contract),
        )


def changes_requested(milestone: Milestone, note: str, event_id: int) -> None:
    contract = milestone.contract
    notify(
        user=contract.student,
        template="changes_requested",
        key=f"changes-requested:{milestone.pk}:{event_id}",
        context={
            "milestone": milestone,
            "project": contract.project,
            "note": note,
            "url": _contract_url(contract),
        },
        url=_contract_url(contract),
    )


def money_released(milestone: Milestone, *, automatic: bool) -> None:
    """Tell the student their money left escrow, or that it waits for their payout account."""
    contract = milestone.contract
    escrow = milestone.escrow
    released = escrow.status == escrow.Status.RELEASED
    waiting = not released and not escrow.last_error
    if not released and not waiting:
        return  # the transfer failed for now: they are told when the retry succeeds
    notify(
        user=contract.student,
        template="money_released",
        key=f"money-{'released' if released else 'waiting'}:{milestone.pk}",
        context={
            "milestone": milestone,
            "project": contract.project,
            "amount": _money(escrow.payee_cents, escrow.currency),
            "automatic": automatic,
            "waiting_for_payouts": waiting,
            "url": _contract_url(contract),
        },
        url=_contract_url(contract),
    )


def _dispute_parties(contract: Contract) -> list[User]:
    return [contract.student, *company_members(company_id=contract.company_id)]


def dispute_opened(dispute: Dispute) -> None:
    milestone = dispute.milestone
    contract = milestone.contract
    for user in _dispute_parties(contract):
        notify(
            user=user,
            template="dispute_opened",
            key=f"dispute-opened:{dispute.pk}:{user.pk}",
            context={
                "milestone": milestone,
                "project": contract.project,
                "opened_by_name": dispute.opened_by.full_name,
                "reason": dispute.reason,
                "url": _contract_url(contract),
            },
            url=_contract_url(contract),
        )


def dispute_resolved(dispute: Dispute) -> None:
    milestone = dispute.milestone
    contract = milestone.contract
    for user in _dispute_parties(contract):
        notify(
            user=user,
            template="dispute_resolved",
            key=f"dispute-resolved:{dispute.pk}:{user.pk}",
            context={
                "milestone": milestone,
                "project": contract.project,
                "released": _money(dispute.release_cents or 0, milestone.currency),
                "refunded": _money(dispute.refund_cents or 0, milestone.currency),
                "note": dispute.resolution_note,
                "url": _contract_url(contract),
            },
            url=_contract_url(contract),
        )


def contract_cancelled(contract: Contract, *, reason: str, refunded_cents: int) -> None:
    """Tell the student the company cancelled the contract, why, and what went back to it."""
    notify(
        user=contract.student,
        template="contract_cancelled",
        key=f"contract-cancelled:{contract.pk}",
        context={
            "contract": contract,
            "project": contract.project,
            "reason": reason,
            "refunded": _money(refunded_cents, contract.currency),
            "url": _contract_url(contract),
        },
        url=_contract_url(contract),
    )
