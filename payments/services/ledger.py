"""The double-entry ledger: every money movement is one balanced transaction.

Entries are signed minor units (positive debit, negative credit) and must sum to
zero per transaction; entries are never updated or deleted, only reversed.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from marketplace.errors import ValidationFailed
from payments.models import Escrow, LedgerEntry, LedgerTransaction

ESCROW_ACCOUNT = "escrow"
PLATFORM_REVENUE_ACCOUNT = "platform:revenue"


def company_account(company_id: int) -> str:
    return f"company:{company_id}"


def student_account(user_id: int) -> str:
    return f"student:{user_id}"


@transaction.atomic
def ledger_post(
    *,
    kind: str,
    currency: str,
    entries: Sequence[tuple[str, int]],
    escrow: Escrow | None = None,
    memo: str = "",
) -> LedgerTransaction:
    """Write one balanced transaction of `(account, signed amount in minor units)` pairs.

    Zero amounts are dropped. Raises ValidationFailed if fewer than two entries
    remain or they do not sum to zero.
    """
    lines = [(account, amount) for account, amount in entries if amount != 0]
    if len(lines) < 2:
        raise ValidationFailed("A ledger transaction needs at least two non-zero entries.")
    if sum(amount for _, amount in lines) != 0:
        raise ValidationFailed("Ledger entries must sum to zero.")
    txn = LedgerTransaction.objects.create(kind=kind, currency=currency, escrow=escrow, memo=memo)
    LedgerEntry.objects.bulk_create(
        LedgerEntry(
            transaction=txn,
            account=account,
            amount_cents=amount,
            currency=currency,
            memo=memo,
            created_at=txn.created_at,
        )
        for account, amount in lines
    )
    return txn
