"""Reads of money: balances, entries, payout readiness."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum

from marketplace.money import Money
from payments.models import Escrow, LedgerEntry, LedgerTransaction, PayoutAccount


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


def ledger_transaction_totals(*, transaction_ids: Iterable[int]) -> dict[int, int]:
    """The sum of each transaction's entries, in minor units (zero for a balanced one)."""
    rows = (
        LedgerEntry.objects.filter(transaction_id__in=list(transaction_ids))
        .values("transaction_id")
        .annotate(total=Sum("amount_cents"))
    )
    return {row["transaction_id"]: row["total"] for row in rows}


def ledger_account_balances() -> list[dict[str, object]]:
    """Every account's balance per currency: `{account, currency, balance_cents, entries}` dicts.

    `balance_cents` is the signed SUM of the entries (positive = debit balance),
    in minor units; sorted by account, then currency.
    """
    return list(
        LedgerEntry.objects.values("account", "currency")
        .annotate(balance_cents=Sum("amount_cents"), entries=Count("id"))
        .order_by("account", "currency")
    )


def ledger_transactions_without_escrow(
    *, day: dt.date | None = None
) -> QuerySet[LedgerTransaction]:
    """Ledger transactions attached to no escrow (every money movement should have one).

    With `day`, only those written on that local date.
    """
    qs = LedgerTransaction.objects.filter(escrow__isnull=True).order_by("pk")
    if day is not None:
        qs = qs.filter(created_at__date=day)
    return qs


def escrow_ids_with_money_activity(*, gateway: str, day: dt.date | None = None) -> list[int]:
    """Ids of the escrows of `gateway` worth comparing with it, in id order.

    Without `day`: every escrow that is past awaiting_funding, has a payment
    intent or has ledger transactions. With `day`: those funded or settled on
    that local date or with ledger transactions written on it, plus every escrow
    still awaiting funding with a payment intent (a payment that succeeded
    without reaching us shows there).
    """
    has_txn = LedgerTransaction.objects.filter(escrow=OuterRef("pk"))
    waiting_intent = Q(status=Escrow.Status.AWAITING_FUNDING) & ~Q(payment_intent_id="")
    if day is None:
        activity = ~Q(status=Escrow.Status.AWAITING_FUNDING) | waiting_intent | Q(Exists(has_txn))
    else:
        activity = (
            Q(funded_at__date=day)
            | Q(settled_at__date=day)
            | Q(Exists(has_txn.filter(created_at__date=day)))
            | waiting_intent
        )
    return list(
        Escrow.objects.filter(activity, gateway=gateway).order_by("pk").values_list("pk", flat=True)
    )


@dataclass(frozen=True)
class EscrowLedgerLegs:
    """An escrow's money as the ledger has it, in minor units of its currency.

    `charged`: the escrow account's debits in funding transactions;
    `transferred`: the net of the payee's (`student:`) entries;
    `refunded`: the net of the company's entries outside funding transactions.
    Lost chargebacks and transfer reversals are left out: the bank and Stripe
    moved that money, so the gateway has no refund or transfer of ours to
    compare it with (Stripe keeps a reversal on the transfer, `amount` unchanged).
    """

    charged: int = 0
    transferred: int = 0
    refunded: int = 0


NOT_GATEWAY_OBJECTS = (LedgerTransaction.Kind.CHARGEBACK, LedgerTransaction.Kind.REVERSAL)


def ledger_legs_by_escrow(*, escrow_ids: Iterable[int]) -> dict[int, EscrowLedgerLegs]:
    """`EscrowLedgerLegs` per escrow id (escrows without entries are absent), in one query."""
    rows = (
        LedgerEntry.objects.filter(transaction__escrow_id__in=list(escrow_ids))
        .values("transaction__escrow_id", "transaction__kind", "account")
        .annotate(total=Sum("amount_cents"))
    )
    legs: dict[int, dict[str, int]] = {}
    for row in rows:
        leg = legs.setdefault(
            row["transaction__escrow_id"], {"charged": 0, "transferred": 0, "refunded": 0}
        )
        account, kind, total = row["account"], row["transaction__kind"], row["total"]
        if kind in NOT_GATEWAY_OBJECTS:
            continue
        if kind == LedgerTransaction.Kind.FUNDING and account == "escrow":
            leg["charged"] += total
        elif account.startswith("student:"):
            leg["transferred"] += total
        elif account.startswith("company:") and kind != LedgerTransaction.Kind.FUNDING:
            leg["refunded"] += total
    return {escrow_id: EscrowLedgerLegs(**leg) for escrow_id, leg in legs.items()}


def escrow_list_by_ids(*, ids: Iterable[int]) -> list[Escrow]:
    return list(Escrow.objects.filter(pk__in=list(ids)).order_by("pk"))


def escrow_for_stripe_object(
    *,
    payment_intent_id: str = "",
    charge_id: str = "",
    transfer_id: str = "",
    escrow_id: str = "",
) -> Escrow | None:
    """The escrow a Stripe object is about, or None when it is not ours.

    Looked up by the ids recorded on the escrow (payment intent, charge,
    transfer), then by `escrow_id` from the object's metadata (set when the
    PaymentIntent is created): a payment can succeed before our own request
    recorded its id. The caller checks that such an escrow really is this
    payment's.
    """
    for field, value in (
        ("payment_intent_id", payment_intent_id),
        ("charge_id", charge_id),
        ("transfer_id", transfer_id),
    ):
        if value:
            escrow = Escrow.objects.filter(**{field: value}).order_by("pk").first()
            if escrow is not None:
                return escrow
    if escrow_id.isdigit():
        return Escrow.objects.filter(pk=int(escrow_id)).first()
    return None


def payout_account_by_account_id(*, account_id: str) -> PayoutAccount | None:
    """The payout account of a gateway account id (`acct_…`), with its user."""
    if not account_id:
        return None
    return PayoutAccount.objects.select_related("user").filter(account_id=account_id).first()


def ledger_escrow_account_total(*, escrow_id: int, account: str) -> int:
    """The SUM of one account's entries in an escrow's transactions (minor units, signed)."""
    return (
        LedgerEntry.objects.filter(transaction__escrow_id=escrow_id, account=account).aggregate(
            total=Sum("amount_cents")
        )["total"]
        or 0
    )


def ledger_escrow_refunds_total(*, escrow_id: int) -> int:
    """What refunds gave back to an escrow's company, as the ledger has it (minor units).

    The company's entries in refund and dispute-settlement transactions: the
    refunds we asked the gateway for and those recorded from it. A lost
    chargeback is not a refund and is not counted.
    """
    return (
        LedgerEntry.objects.filter(
            transaction__escrow_id=escrow_id,
            transaction__kind__in=[
                LedgerTransaction.Kind.REFUND,
                LedgerTransaction.Kind.SETTLEMENT,
            ],
            account__startswith="company:",
        ).aggregate(total=Sum("amount_cents"))["total"]
        or 0
    )
