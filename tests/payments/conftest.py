from __future__ import annotations

import pytest
from django.db.models import Sum

from payments.models import Escrow, LedgerEntry, LedgerTransaction
from payments.selectors import ledger_unbalanced_transactions
from payments.services.ledger import ESCROW_ACCOUNT, PLATFORM_REVENUE_ACCOUNT

K = LedgerTransaction.Kind


def _sum(escrow: Escrow, kind: str, account_prefix: str) -> int:
    return (
        LedgerEntry.objects.filter(
            transaction__escrow=escrow,
            transaction__kind=kind,
            account__startswith=account_prefix,
        ).aggregate(total=Sum("amount_cents"))["total"]
        or 0
    )


def escrow_books(escrow: Escrow) -> dict[str, int]:
    return {
        "charged": _sum(escrow, K.FUNDING, ESCROW_ACCOUNT),
        "transferred": _sum(escrow, K.RELEASE, "student:"),
        "revenue": _sum(escrow, K.RELEASE, PLATFORM_REVENUE_ACCOUNT),
        "refunded": _sum(escrow, K.REFUND, "company:"),
        "held": (
            LedgerEntry.objects.filter(
                transaction__escrow=escrow, account=ESCROW_ACCOUNT
            ).aggregate(total=Sum("amount_cents"))["total"]
            or 0
        ),
    }


@pytest.fixture
def assert_books():
    def check(escrow: Escrow) -> dict[str, int]:
        escrow.refresh_from_db()
        books = escrow_books(escrow)
        assert ledger_unbalanced_transactions() == []
        assert books["charged"] == (
            books["transferred"] + books["revenue"] + books["refunded"] + books["held"]
        )
        if escrow.status == Escrow.Status.AWAITING_FUNDING:
            assert books == dict.fromkeys(books, 0)
        else:
            assert books["charged"] == escrow.charge_cents
        if escrow.status in (Escrow.Status.RELEASED, Escrow.Status.REFUNDED):
            assert books["held"] == 0
            assert books["charged"] == (books["transferred"] + books["revenue"] + books["refunded"])
        return books

    return check
