"""What the parties of a brief or contract are told, and when (in-app and by e-mail).

Each function names one event; the services call them inside their
transaction, and the e-mails leave after commit. Keys make every event told
once per recipient, however often a service or task runs."""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from marketplace.models import User
from marketplace.money import Money
from marketplace.notifications import notify
from marketplace.selectors import company_members
from projects.briefs.models import Bid
from projects.contracts.models import Contract, Delivery, Dispute, Milestone


def _contract_url(contract: Contract) -> str:
    return f"/api/v1/contracts/{contract.pk}/"


def bid_accepted(bid: Bid, contract: Contract) -> None:
    notify(
        user=bid.student,
        template="bid_accepted",
        key=f"bid-accepted:{bid.pk}",
        context={
            "project": bid.project,
            "contract": contract,
            "amount": Money(contract.amount_cents, contract.currency).format(),
            "url": _contract_url(contract),
        },
        url=_contract_url(contract),
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
            "amount": Money(milestone.escrow.payee_cents, milestone.currency).format(),
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
            "amount": Money(escrow.payee_cents, escrow.currency).format(),
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
                "released": Money(dispute.release_cents or 0, milestone.currency).format(),
                "refunded": Money(dispute.refund_cents or 0, milestone.currency).format(),
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
            "refunded": Money(refunded_cents, contract.currency).format(),
            "url": _contract_url(contract),
        },
        url=_contract_url(contract),
    )


def payment_failed(milestone: Milestone, *, decline_code: str, event_id: str) -> None:
    """The company's payment for a milestone was declined: its members may try another card."""
    contract = milestone.contract
    url = f"/api/v1/contracts/{contract.pk}/"
    for member in company_members(company_id=contract.company_id):
        notify(
            user=member,
            template="payment_failed",
            key=f"payment-failed:{event_id}:{member.pk}",
            context={
                "milestone": milestone,
                "project": contract.project,
                "amount": Money(milestone.escrow.charge_cents, milestone.escrow.currency).format(),
                "decline_code": decline_code,
                "url": url,
            },
            url=url,
        )
