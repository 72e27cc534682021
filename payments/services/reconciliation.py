"""Reconciliation: does the ledger agree with what the payment gateway did?

For each escrow with money activity, the ledger's three legs
(`payments.selectors.EscrowLedgerLegs`: charged, transferred, refunded) are
compared with the gateway's objects named on the escrow: the PaymentIntent
(amount, currency, status), the Transfer and the Refund. Ledger transactions
that do not sum to zero, or that belong to no escrow, are reported too. Every
run is stored as a `ReconciliationRun`; when it finds differences, every active
staff user is told.

A difference is a dict `{reference, kind, ledger, gateway, detail}`:
`reference` names the escrow (its reference) or the ledger transaction
(`ledger-transaction:<id>`); `ledger` and `gateway` are amounts in minor units
(for `*_amount` and `*_missing_*` kinds), currency codes (`*_currency`) or
statuses (`*_status`), None for a side that has nothing. Kinds:

- `charge_missing_at_gateway`, `transfer_missing_at_gateway`,
  `refund_missing_at_gateway`: the ledger moved money the gateway has no object for;
- `charge_missing_in_ledger`, `transfer_missing_in_ledger`,
  `refund_missing_in_ledger`: the gateway moved money the ledger does not show;
- `charge_amount`, `transfer_amount`, `refund_amount`: both sides, different amounts;
- `charge_currency`, `transfer_currency`, `refund_currency`: both sides, different currencies;
- `charge_status`: the ledger says charged but the PaymentIntent did not succeed, or
  it succeeded while the escrow still awaits funding; `refund_status`: a refund
  the gateway reports failed or cancelled;
- `unbalanced_transaction`: a ledger transaction whose entries do not sum to zero;
- `transaction_without_escrow`: a ledger transaction attached to no escrow.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from marketplace.notifications import notify_staff
from payments.gateways import get_gateway
from payments.gateways.base import PaymentGateway
from payments.models import Escrow, ReconciliationRun
from payments.selectors import (
    EscrowLedgerLegs,
    escrow_ids_with_money_activity,
    escrow_list_by_ids,
    ledger_legs_by_escrow,
    ledger_transaction_totals,
    ledger_transactions_without_escrow,
    ledger_unbalanced_transactions,
)

logger = logging.getLogger(__name__)

BATCH = 500
SUCCEEDED = "succeeded"
REFUND_FAILED_STATUSES = {"failed", "canceled"}


@dataclass(frozen=True)
class Difference:
    reference: str
    kind: str
    ledger: int | str | None
    gateway: int | str | None
    detail: str = ""


def _compare_amounts(
    escrow: Escrow, leg: str, ledger_amount: int, object_id: str, amount: int, currency: str
) -> list[Difference]:
    if currency and currency.upper() != escrow.currency:
        return [
            Difference(
                escrow.reference,
                f"{leg}_currency",
                escrow.currency,
                currency.upper(),
                f"{object_id} is in {currency.upper()}, the escrow in {escrow.currency}",
            )
        ]
    if amount != ledger_amount:
        return [
            Difference(
                escrow.reference,
                f"{leg}_amount",
                ledger_amount,
                amount,
                f"{object_id}: gateway {amount}, ledger {ledger_amount} ({escrow.currency})",
            )
        ]
    return []


def _charge(escrow: Escrow, legs: EscrowLedgerLegs, gateway: PaymentGateway) -> list[Difference]:
    ref = escrow.reference
    intent = (
        gateway.retrieve_payment_intent(payment_intent_id=escrow.payment_intent_id)
        if escrow.payment_intent_id
        else None
    )
    if legs.charged:
        if intent is None:
            name = escrow.payment_intent_id or "recorded on the escrow"
            return [
                Difference(
                    ref,
                    "charge_missing_at_gateway",
                    legs.charged,
                    None,
                    f"no payment intent {name} at the gateway",
                )
            ]
        if intent.status != SUCCEEDED:
            return [
                Difference(
                    ref,
                    "charge_status",
                    escrow.status,
                    intent.status,
                    f"the ledger holds a charge of {legs.charged}; {intent.id} is {intent.status}",
                )
            ]
        return _compare_amounts(
            escrow, "charge", legs.charged, intent.id, intent.amount, intent.currency
        )
    if intent is None or intent.status != SUCCEEDED:
        return []
    if escrow.status == Escrow.Status.AWAITING_FUNDING:
        return [
            Difference(
                ref,
                "charge_status",
                escrow.status,
                intent.status,
                f"{intent.id} succeeded for {intent.amount}; the escrow still awaits funding",
            )
        ]
    return [
        Difference(
            ref,
            "charge_missing_in_ledger",
            None,
            intent.amount,
            f"{intent.id} succeeded; the ledger has no funding for this {escrow.status} escrow",
        )
    ]


def _transfer(escrow: Escrow, legs: EscrowLedgerLegs, gateway: PaymentGateway) -> list[Difference]:
    ref = escrow.reference
    transfer = (
        gateway.retrieve_transfer(transfer_id=escrow.transfer_id) if escrow.transfer_id else None
    )
    if legs.transferred:
        if transfer is None:
            name = escrow.transfer_id or "recorded on the escrow"
            return [
                Difference(
                    ref,
                    "transfer_missing_at_gateway",
                    legs.transferred,
                    None,
                    f"no transfer {name} at the gateway",
                )
            ]
        return _compare_amounts(
            escrow, "transfer", legs.transferred, transfer.id, transfer.amount, transfer.currency
        )
    if transfer is None:
        return []
    return [
        Difference(
            ref,
            "transfer_missing_in_ledger",
            None,
            transfer.amount,
            f"{transfer.id} paid {transfer.amount}; the ledger shows no transfer",
        )
    ]


def _refund(escrow: Escrow, legs: EscrowLedgerLegs, gateway: PaymentGateway) -> list[Difference]:
    ref = escrow.reference
    refund = gateway.retrieve_refund(refund_id=escrow.refund_id) if escrow.refund_id else None
    if legs.refunded:
        if refund is None:
            name = escrow.refund_id or "recorded on the escrow"
            return [
                Difference(
                    ref,
                    "refund_missing_at_gateway",
                    legs.refunded,
                    None,
                    f"no refund {name} at the gateway",
                )
            ]
        if refund.status in REFUND_FAILED_STATUSES:
            return [
                Difference(
                    ref,
                    "refund_status",
                    escrow.status,
                    refund.status,
                    f"the ledger refunded {legs.refunded}; {refund.id} is {refund.status}",
                )
            ]
        return _compare_amounts(
            escrow, "refund", legs.refunded, refund.id, refund.amount, refund.currency
        )
    if refund is None or refund.status in REFUND_FAILED_STATUSES:
        return []
    return [
        Difference(
            ref,
            "refund_missing_in_ledger",
            None,
            refund.amount,
            f"{refund.id} refunded {refund.amount}; the ledger shows no refund",
        )
    ]


def _ledger_only(day: dt.date | None) -> list[Difference]:
    differences = []
    unbalanced = ledger_unbalanced_transactions()
    totals = ledger_transaction_totals(transaction_ids=unbalanced)
    for txn_id in sorted(unbalanced):
        differences.append(
            Difference(
                f"ledger-transaction:{txn_id}",
                "unbalanced_transaction",
                totals.get(txn_id),
                None,
                f"its entries sum to {totals.get(txn_id)} instead of 0",
            )
        )
    for txn in ledger_transactions_without_escrow(day=day):
        differences.append(
            Difference(
                f"ledger-transaction:{txn.pk}",
                "transaction_without_escrow",
                txn.kind,
                None,
                f"a {txn.kind} in {txn.currency} attached to no escrow ({txn.memo or 'no memo'})",
            )
        )
    return differences


def _notify_staff(run: ReconciliationRun) -> None:
    context: dict[str, Any] = {
        "day": run.day or timezone.localdate(run.created_at),
        "differences": run.differences,
        "checked": run.checked,
    }
    url = f"/admin/payments/reconciliationrun/{run.pk}/change/"
    notify_staff(
        template="reconciliation_report", key=f"reconciliation:{run.pk}", context=context, url=url
    )


def ledger_reconcile(*, day: dt.date | None = None) -> ReconciliationRun:
    """Compare the ledger with the configured gateway and store the outcome.

    Without `day` every escrow of this gateway with money activity is checked;
    with `day` (a local date) those touched that day and the ones still awaiting
    funding with a payment intent (see
    `payments.selectors.escrow_ids_with_money_activity`). Unbalanced ledger
    transactions are always reported; transactions without an escrow, those of
    `day` (or all). Returns the stored `ReconciliationRun` (`checked` = escrows
    compared, `differences` as in this module's docstring, `ok`). When there
    are differences every active staff user gets the `reconciliation_report`
    notification and e-mail (key `reconciliation:<run id>:<user id>`, sent
    after commit). The gateway is only read; TransientError from it propagates
    (the task retries) and nothing is stored.
    """
    gateway = get_gateway()
    escrow_ids = escrow_ids_with_money_activity(gateway=gateway.name, day=day)
    differences: list[Difference] = []
    for start in range(0, len(escrow_ids), BATCH):
        batch = escrow_ids[start : start + BATCH]
        legs = ledger_legs_by_escrow(escrow_ids=batch)
        for escrow in escrow_list_by_ids(ids=batch):
            escrow_legs = legs.get(escrow.pk, EscrowLedgerLegs())
            differences += _charge(escrow, escrow_legs, gateway)
            differences += _transfer(escrow, escrow_legs, gateway)
            differences += _refund(escrow, escrow_legs, gateway)
    differences += _ledger_only(day)
    with transaction.atomic():
        run = ReconciliationRun.objects.create(
            day=day,
            gateway=gateway.name,
            checked=len(escrow_ids),
            differences=[asdict(d) for d in differences],
            ok=not differences,
        )
        if differences:
            _notify_staff(run)
    log = logger.info if run.ok else logger.warning
    log(
        "ledger.reconciled",
        extra={"run_id": run.pk, "checked": run.checked, "differences": len(differences)},
    )
    return run
