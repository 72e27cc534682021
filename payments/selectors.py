"""Reads of money: balances, entries, payout readiness."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet, Sum

from marketplace.money import Money
from payments.models import Escrow, LedgerEntry, PayoutAccount


def ledger_balance(*, account: str, currency: str) -> Money:
    """The SUM of an account's entries in one currency (positive = debit balance)."""
    total = LedgerEntry.objects.filter(account=account, currency=currency).aggregate(
        total=Sum("amount_cents")
    )["total"]
    return Money(total or 0, currency)


def ledger_entries_for_escrows(*, escrow_ids: Iterable[int]) -> QuerySet[LedgerEntry]:
    """Every ledger entry of the transactions attached to these escrows, oldest first."""
    return LedgerEntry.objects.filter(transaction__escrow_id__in=list(escrow_ids)).order_by(
        "created_at", "id"
    )


def ledger_unbalanced_transactions() -> list[int]:
    """Ids of ledger transactions whose entries do not sum to zero (should be none)."""
    return list(
        LedgerEntry.objects.values("transaction_id")
        .annotate(total=Sum("amount_cents"))
        .exclude(total=0)
        .values_list("transaction_id", flat=True)
    )


def ledger_totals_by_account_prefix(*, currency: str) -> dict[str, int]:
    """Balances summed per account kind (`company`, `escrow`, `student`, `platform:revenue`)."""
    totals: dict[str, int] = {}
    rows = (
        LedgerEntry.objects.filter(currency=currency)
        .values("account")
        .annotate(total=Sum("amount_cents"))
    )
    for row in rows:
        account = row["account"]
        key = account if account.startswith("platform:") else account.split(":", 1)[0]
        totals[key] = totals.get(key, 0) + row["total"]
    return totals


def payout_account_get(*, user_id: int) -> PayoutAccount | None:
    return PayoutAccount.objects.filter(user_id=user_id).first()


def escrow_get(*, pk: int) -> Escrow | None:
    return Escrow.objects.filter(pk=pk).first()
