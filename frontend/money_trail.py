"""A contract's ledger told as plain sentences, for people who are not accountants.

The ledger is double-entry (positive debit, negative credit, each transaction
sums to zero). Here each entry on a party's account becomes one sentence seen
from the reader's side ("You paid €1,890.00 into escrow"), and the totals say
what is held, released and refunded. Entries between the platform and the
payment provider are left out: they do not move the parties' money.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.utils.translation import gettext as _

from frontend.money import format_money
from marketplace.models import User
from marketplace.selectors import user_company_id
from payments.models import LedgerEntry, LedgerTransaction
from payments.services.ledger import (
    ESCROW_ACCOUNT,
    PLATFORM_REVENUE_ACCOUNT,
    company_account,
    student_account,
)
from projects.contracts.models import Contract
from projects.contracts.selectors import contract_ledger_entries


@dataclass(frozen=True)
class TrailLine:
    when: datetime
    milestone: str
    text: str


@dataclass
class MoneyTrail:
    """Sentences, oldest first, and the totals of the contract's money (minor units)."""

    currency: str
    lines: list[TrailLine] = field(default_factory=list)
    paid_in: int = 0
    held: int = 0
    released: int = 0
    refunded: int = 0
    fees: int = 0


def money_trail(*, entries: Sequence[LedgerEntry], contract: Contract, viewer: User) -> MoneyTrail:
    """Turn the contract's entries (with `transaction` fetched) into a MoneyTrail."""
    is_company = user_company_id(user=viewer) == contract.company_id
    company = company_account(contract.company_id)
    student = student_account(contract.student_id)
    titles = {m.escrow_id: m.title for m in contract.milestones.all()}
    trail = MoneyTrail(currency=contract.currency)
    for entry in entries:
        txn: LedgerTransaction = entry.transaction
        amount = format_money(abs(entry.amount_cents), entry.currency)
        text = None
        if entry.account == ESCROW_ACCOUNT:
            trail.held += entry.amount_cents
        elif entry.account == company and entry.amount_cents < 0:
            trail.paid_in -= entry.amount_cents
            text = (
                _("You paid %(amount)s into escrow.")
                if is_company
                else _("%(company)s paid %(amount)s into escrow.")
            )
        elif entry.account == company:
            trail.refunded += entry.amount_cents
            text = (
                _("%(amount)s refunded to you.")
                if is_company
                else _("%(amount)s refunded to %(company)s.")
            )
        elif entry.account == student and entry.amount_cents > 0:
            trail.released += entry.amount_cents
            text = (
                _("%(amount)s released to %(student)s.")
                if is_company
                else _("%(amount)s released to you.")
            )
        elif entry.account == student:
            trail.released += entry.amount_cents
            text = _("%(amount)s taken back from %(student)s's payout.")
        elif entry.account == PLATFORM_REVENUE_ACCOUNT and txn.kind != txn.Kind.GATEWAY_FEE:
            trail.fees += entry.amount_cents
            text = (
                _("Platform fee %(amount)s.")
                if entry.amount_cents > 0
                else _("Platform fee of %(amount)s given back.")
            )
        if text is not None:
            trail.lines.append(
                TrailLine(
                    when=entry.created_at,
                    milestone=titles.get(txn.escrow_id, ""),
                    text=text
                    % {
                        "amount": amount,
                        "company": contract.company.name,
                        "student": contract.student.full_name,
                    },
                )
            )
    return trail


def contract_money_trail(*, contract: Contract, viewer: User) -> MoneyTrail:
    """The MoneyTrail of every ledger entry of `contract`, as `viewer` reads it."""
    entries = contract_ledger_entries(contract=contract).select_related("transaction")
    return money_trail(entries=list(entries), contract=contract, viewer=viewer)
