"""Escrow money that Stripe moved on its own: chargebacks, refunds and reversals made elsewhere.

The escrow services (`payments.services.escrow`) move money by asking the
gateway; these record what Stripe reports it did without our asking, from its
webhook events (`projects.contracts.payment_events`): a card dispute (chargeback,
https://docs.stripe.com/disputes; with separate charges and transfers the
platform is liable, https://docs.stripe.com/connect/disputes), a refund made in
the Stripe Dashboard and a transfer reversed. No gateway call is made here.

Each function locks the escrow row first (then its chargeback), checks the
state and is idempotent: the same report twice changes nothing. Ledger
entries, signed minor units (positive debit, negative credit), each
transaction summing to zero:

- chargeback opened, or won: no entry. Stripe withdraws the disputed amount
  when the dispute opens and gives it back when it is won; the ledger records
  who bears the money once, when the bank has decided. A held escrow is frozen
  meanwhile, and goes back to funded or release_pending when the dispute is won.
- chargeback lost, money still held (funded, release_pending or frozen), kind
  `chargeback`: `escrow` −charge, `company:<id>` +charge. The bank gave the
  company its money back; the escrow becomes refunded.
- chargeback lost after the money left escrow (released, or refunded already),
  kind `chargeback`: `company:<id>` +amount, `platform:chargebacks` −amount. The
  platform's loss: it paid the student and the bank took the money back from
  the platform's balance (getting it from the student means reversing the transfer).
- refund made outside the platform, of the whole charge of a funded escrow,
  kind `refund`: `escrow` −charge, `company:<id>` +charge; the escrow becomes refunded.
  The same report about our own refund not recorded yet (`refund_pending`)
  records it, with the same entries.
- transfer reversed (money pulled back from the student's connected account to
  the platform's balance), kind `reversal`: `student:<id>` −amount,
  `platform:reversals` +amount.

So for every escrow, `charged = transferred + revenue + refunded + chargebacks
+ reversals` to the cent, where `transferred` is the net of the `student:`
entries, `revenue` of `platform:revenue`, `refunded` of the company's entries
after funding (refunds and chargebacks given back), `chargebacks` of
`platform:chargebacks` (never positive) and `reversals` of
`platform:reversals` (never negative).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from marketplace.audit import audit_record
from marketplace.errors import NotFound, StateConflict, ValidationFailed
from payments.models import Chargeback, Escrow, EscrowEvent, LedgerTransaction
from payments.selectors import ledger_escrow_account_total, ledger_escrow_refunds_total
from payments.services.escrow import escrow_freeze
from payments.services.ledger import (
    ESCROW_ACCOUNT,
    company_account,
    ledger_post,
    student_account,
)
from payments.services.refunds import escrow_book_full_refund
from payments.states import ESCROW_STATES

logger = logging.getLogger(__name__)

S = Escrow.Status
C = Chargeback.Status
PLATFORM_CHARGEBACKS_ACCOUNT = "platform:chargebacks"
PLATFORM_REVERSALS_ACCOUNT = "platform:reversals"


def _locked(escrow_id: int) -> Escrow:
    escrow = Escrow.objects.select_for_update().filter(pk=escrow_id).first()
    if escrow is None:
        raise NotFound("No such escrow.")
    return escrow


def _check_currency(escrow: Escrow, currency: str) -> None:
    if currency.upper() != escrow.currency:
        raise ValidationFailed(
            f"Stripe reports {currency.upper()}; "
            f"escrow {escrow.reference} is in {escrow.currency}.",
            field="currency",
        )


def _status_before_freeze(escrow: Escrow) -> str:
    before = (
        EscrowEvent.objects.filter(escrow=escrow, to_status=S.FROZEN)
        .order_by("-created_at", "-pk")
        .values_list("from_status", flat=True)
        .first()
    )
    return before if before in (S.FUNDED, S.RELEASE_PENDING) else S.FUNDED


@transaction.atomic
def chargeback_open(
    *,
    escrow_id: int,
    dispute_id: str,
    charge_id: str,
    amount_cents: int,
    currency: str,
    reason: str,
) -> tuple[Chargeback, bool]:
    """Record a card dispute on an escrow's charge (`charge.dispute.created`); `(row, created)`.

    Money still held (funded or release_pending) is frozen (an EscrowEvent
    names the dispute) and `resume_status` remembers where it was; an escrow
    already frozen by a marketplace dispute stays frozen. Money already paid
    out (released, refunded, or a refund under way) is the platform's
    exposure: `funds_held` is false. No ledger entry (see the module docstring). The same dispute id
    again returns the stored row and changes nothing. Raises StateConflict for
    an escrow not funded yet, ValidationFailed for another currency or a
    non-positive amount.
    """
    escrow = _locked(escrow_id)
    existing = Chargeback.objects.filter(dispute_id=dispute_id).first()
    if existing is not None:
        return existing, False
    _check_currency(escrow, currency)
    if amount_cents <= 0:
        raise ValidationFailed("A disputed amount is positive.", field="amount")
    if escrow.status == S.AWAITING_FUNDING:
        raise StateConflict(f"Escrow {escrow.reference} is not funded; nothing can be disputed.")
    resume = ""
    if ESCROW_STATES.can(escrow, S.FROZEN):
        resume = escrow.status
        escrow = escrow_freeze(
            escrow_id=escrow.pk, actor=None, note=f"card dispute {dispute_id} ({reason})"
        )
    elif escrow.status == S.FROZEN:
        resume = _status_before_freeze(escrow)
    chargeback = Chargeback.objects.create(
        escrow=escrow,
        dispute_id=dispute_id,
        charge_id=charge_id,
        amount_cents=amount_cents,
        currency=escrow.currency,
        reason=reason[:64],
        funds_held=bool(resume),
        resume_status=resume,
    )
    logger.warning(
        "chargeback.opened",
        extra={"escrow_id": escrow.pk, "dispute_id": dispute_id, "funds_held": bool(resume)},
    )
    return chargeback, True


@transaction.atomic
def chargeback_close(*, dispute_id: str, won: bool, keep_frozen: bool = False) -> Chargeback:
    """Record the bank's decision on a card dispute (`charge.dispute.closed`).

    Won: if the money was held, the escrow goes back to `resume_status`
    (funded or release_pending; an EscrowEvent names the dispute), unless
    `keep_frozen` (a marketplace dispute between the parties is still open) or
    another card dispute on it is open. Lost: the money held goes back to the
    company and the escrow becomes refunded; money already paid out is the
    platform's loss (entries in the module docstring). While staff's split of
    a marketplace dispute is being paid out (`Escrow.split_recorded`) the
    escrow stays frozen. A closed chargeback is returned as is. Raises NotFound
    for an unknown dispute, StateConflict when a lost dispute's amount is not
    the whole charge held, or the money is being split or refunded (staff
    settle it by hand).
    """
    escrow_id = (
        Chargeback.objects.filter(dispute_id=dispute_id).values_list("escrow_id", flat=True).first()
    )
    if escrow_id is None:
        raise NotFound(f"No chargeback {dispute_id}.")
    # Escrow first, then the chargeback: the order chargeback_open locks in.
    escrow = _locked(escrow_id)
    chargeback = Chargeback.objects.select_for_update().get(dispute_id=dispute_id)
    if chargeback.status != C.OPEN:
        return chargeback
    note = f"card dispute {dispute_id} {'won' if won else 'lost'}"
    if won:
        others_open = (
            Chargeback.objects.filter(escrow=escrow, status=C.OPEN)
            .exclude(pk=chargeback.pk)
            .exists()
        )
        held = escrow.status == S.FROZEN and chargeback.funds_held
        if held and not keep_frozen and not others_open and not escrow.split_recorded:
            ESCROW_STATES.transition(escrow, chargeback.resume_status or S.FUNDED, note=note)
        chargeback.status = C.WON
    elif escrow.is_held:
        if chargeback.amount_cents != escrow.charge_cents or escrow.split_recorded:
            raise StateConflict(
                f"Dispute {dispute_id} was lost for {chargeback.amount_cents}, but escrow "
                f"{escrow.reference} holds {escrow.charge_cents}"
                f"{' and is being split' if escrow.split_recorded else ''}: settle it by hand."
            )
        escrow.settled_at = timezone.now()
        ESCROW_STATES.transition(escrow, S.REFUNDED, note=note, update_fields=["settled_at"])
        ledger_post(
            kind=LedgerTransaction.Kind.CHARGEBACK,
            currency=escrow.currency,
            escrow=escrow,
            memo=f"{escrow.reference} charged back ({dispute_id})",
            entries=[
                (ESCROW_ACCOUNT, -escrow.charge_cents),
                (company_account(escrow.company_id), escrow.charge_cents),
            ],
        )
        chargeback.status = C.LOST
    elif escrow.status in (S.RELEASED, S.REFUNDED):
        ledger_post(
            kind=LedgerTransaction.Kind.CHARGEBACK,
            currency=escrow.currency,
            escrow=escrow,
            memo=f"{escrow.reference} charged back after payout ({dispute_id})",
            entries=[
                (company_account(escrow.company_id), chargeback.amount_cents),
                (PLATFORM_CHARGEBACKS_ACCOUNT, -chargeback.amount_cents),
            ],
        )
        chargeback.status = C.LOST
    elif escrow.status == S.REFUND_PENDING:
        raise StateConflict(
            f"Dispute {dispute_id} was lost while escrow {escrow.reference}'s refund is being "
            "made: settle it by hand."
        )
    else:
        raise StateConflict(f"Escrow {escrow.reference} is {escrow.status}; nothing was charged.")
    chargeback.closed_at = timezone.now()
    chargeback.save(update_fields=["status", "closed_at"])
    logger.warning(
        "chargeback.closed",
        extra={"escrow_id": escrow.pk, "dispute_id": dispute_id, "status": chargeback.status},
    )
    return chargeback


@transaction.atomic
def escrow_record_external_refund(
    *, escrow_id: int, amount_refunded: int, currency: str, refund_id: str = ""
) -> bool:
    """Record a refund made outside the platform (e.g. in the Stripe Dashboard); False if known.

    `amount_refunded` is the charge's running total (`amount_refunded` of
    https://docs.stripe.com/api/charges/object), which only grows: when the
    ledger's refunds of this escrow (ours, `escrow_refund` and
    `escrow_settle_split`, or recorded here) already cover it, nothing happens
    and False is returned, so an old or repeated report is harmless. A new
    refund of the whole charge of a funded escrow is recorded (escrow
    refunded, `refund_id` kept, a refund transaction, no gateway call, an
    audit entry `refund.outside` with no actor) and True returned. The whole
    charge refunded while our own refund waits to be recorded
    (`refund_pending`: Stripe's event overtook our answer) is that refund: it
    is recorded as `escrow_refund_send` would, and False returned (nothing
    was refunded outside). Raises StateConflict, with the amounts, for a
    partial refund or one on money that is not simply held (approved,
    frozen, released):
    staff settle those by hand, and reconciliation reports them too.
    """
    escrow = _locked(escrow_id)
    _check_currency(escrow, currency)
    known = ledger_escrow_refunds_total(escrow_id=escrow.pk)
    if amount_refunded <= known:
        return False
    new = amount_refunded - known
    if escrow.status == S.REFUND_PENDING and not known and new == escrow.charge_cents:
        if refund_id:
            escrow.refund_id = refund_id
        escrow.last_error = ""
        escrow_book_full_refund(
            escrow=escrow,
            memo=f"{escrow.reference} refunded",
            note=f"refund confirmed by Stripe {refund_id}".strip(),
        )
        logger.info("escrow.refund_confirmed_by_event", extra={"escrow_id": escrow.pk})
        return False
    if escrow.status != S.FUNDED:
        raise StateConflict(
            f"{new} of escrow {escrow.reference}'s charge was refunded outside the platform "
            f"while it is {escrow.status}: settle it by hand."
        )
    if known or new != escrow.charge_cents:
        raise StateConflict(
            f"A partial refund of {new} of the {escrow.charge_cents} {escrow.currency} charged "
            f"for escrow {escrow.reference} was made outside the platform: settle it by hand."
        )
    if refund_id:
        escrow.refund_id = refund_id
    escrow_book_full_refund(
        escrow=escrow,
        memo=f"{escrow.reference} refunded outside the platform",
        note=f"refunded outside the platform {refund_id}".strip(),
    )
    # Someone with access to the Stripe Dashboard moved the money; who is not known here.
    audit_record(
        actor=None,
        action="refund.outside",
        subject=escrow,
        detail={
            "reference": escrow.reference,
            "amount_cents": escrow.charge_cents,
            "currency": escrow.currency,
            "refund_id": refund_id,
            "status": [S.FUNDED.value, escrow.status],
        },
    )
    logger.warning("escrow.refunded_externally", extra={"escrow_id": escrow.pk})
    return True


@transaction.atomic
def escrow_record_transfer_reversal(
    *, escrow_id: int, transfer_id: str, amount_reversed: int, currency: str
) -> LedgerTransaction | None:
    """Record money pulled back from the payee's transfer (`transfer.reversed`).

    `amount_reversed` is the transfer's running total (`amount_reversed` of
    https://docs.stripe.com/api/transfers/object), which only grows: only the
    part not recorded yet is posted (`student:<id>` −x, `platform:reversals`
    +x), so a repeated or older report posts nothing and returns None. The
    escrow stays released. Raises StateConflict for another transfer than the
    escrow's or more than the payee received, ValidationFailed for another currency.
    """
    escrow = _locked(escrow_id)
    if not escrow.transfer_id or transfer_id != escrow.transfer_id:
        raise StateConflict(f"{transfer_id} is not the transfer of escrow {escrow.reference}.")
    _check_currency(escrow, currency)
    recorded = ledger_escrow_account_total(escrow_id=escrow.pk, account=PLATFORM_REVERSALS_ACCOUNT)
    new = amount_reversed - recorded
    if new <= 0:
        return None
    payee = student_account(escrow.payee_id)
    paid = ledger_escrow_account_total(escrow_id=escrow.pk, account=payee)
    if new > paid:
        raise StateConflict(
            f"{transfer_id} reversed {amount_reversed}, more than the {paid + recorded} "
            f"{escrow.currency} the payee received for escrow {escrow.reference}."
        )
    txn = ledger_post(
        kind=LedgerTransaction.Kind.REVERSAL,
        currency=escrow.currency,
        escrow=escrow,
        memo=f"{escrow.reference} transfer {transfer_id} reversed",
        entries=[(payee, -new), (PLATFORM_REVERSALS_ACCOUNT, new)],
    )
    logger.warning("escrow.transfer_reversed", extra={"escrow_id": escrow.pk, "amount": new})
    return txn
