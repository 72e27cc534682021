"""Escrow: fund, release and refund the money held for one piece of work.

Flow (Stripe's "separate charges and transfers",
https://docs.stripe.com/connect/separate-charges-and-transfers): the company is
charged on the platform, the money waits, and a transfer pays the payee on
approval. Every movement is one balanced ledger transaction:

- funding: `company:<id>` −charge, `escrow` +charge
- release: `escrow` −charge, `student:<id>` +payee share, `platform:revenue` +fees
- refund:  `escrow` −charge, `company:<id>` +charge

so for every escrow `charged = transferred + platform revenue + refunded`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from marketplace.errors import StateConflict, ValidationFailed
from marketplace.models import Company
from marketplace.money import SUPPORTED_CURRENCIES, bps_of
from payments.gateways import get_gateway
from payments.gateways.base import PaymentDeclined
from payments.models import Escrow, EscrowEvent, LedgerTransaction, PayoutAccount
from payments.services.ledger import (
    ESCROW_ACCOUNT,
    PLATFORM_REVENUE_ACCOUNT,
    company_account,
    ledger_post,
    student_account,
)

logger = logging.getLogger(__name__)

S = Escrow.Status
ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    S.AWAITING_FUNDING: {S.FUNDED},
    S.FUNDED: {S.RELEASE_PENDING, S.RELEASED, S.REFUNDED},
    S.RELEASE_PENDING: {S.RELEASED},
    S.RELEASED: set(),
    S.REFUNDED: set(),
}


@dataclass(frozen=True)
class FundingResult:
    """The answer to a funding request: Stripe's PaymentIntent status and the amounts charged."""

    escrow: Escrow
    status: str
    client_secret: str
    amount_cents: int
    fee_cents: int


def _transition(escrow: Escrow, to: str, *, actor: AbstractBaseUser | None, note: str = "") -> None:
    if to not in ALLOWED_TRANSITIONS[escrow.status]:
        raise StateConflict(f"Escrow cannot go from {escrow.status} to {to}.")
    EscrowEvent.objects.create(
        escrow=escrow, from_status=escrow.status, to_status=to, actor=actor, note=note
    )
    escrow.status = to


def _locked(escrow_id: int) -> Escrow:
    return Escrow.objects.select_for_update().get(pk=escrow_id)


def escrow_create(
    *, reference: str, company: Company, payee: AbstractBaseUser, amount_cents: int, currency: str
) -> Escrow:
    """Open an escrow awaiting funding; fees come from COMPANY_FEE_BPS and STUDENT_COMMISSION_BPS.

    Raises ValidationFailed for a non-positive amount or an unsupported currency.
    """
    if amount_cents <= 0:
        raise ValidationFailed("The amount must be positive.", field="amount_cents")
    if currency not in SUPPORTED_CURRENCIES:
        raise ValidationFailed(f"Unsupported currency {currency}.", field="currency")
    return Escrow.objects.create(
        reference=reference,
        company=company,
        payee=payee,
        amount_cents=amount_cents,
        currency=currency,
        company_fee_cents=bps_of(amount_cents, settings.COMPANY_FEE_BPS),
        student_commission_cents=bps_of(amount_cents, settings.STUDENT_COMMISSION_BPS),
        gateway=get_gateway().name,
    )


def escrow_fund(
    *, escrow_id: int, actor: AbstractBaseUser | None, payment_method: str | None = None
) -> FundingResult:
    """Charge the company `amount + fee` for an escrow awaiting funding.

    With a `payment_method` the PaymentIntent is confirmed at once; without one
    the result carries the `client_secret` for Stripe.js and the escrow stays
    unfunded until the payment succeeds. The idempotency key is
    `escrow-<id>-fund-<attempt>`; a declined attempt moves to the next key.
    Raises StateConflict if the escrow is not awaiting funding and
    PaymentDeclined (402) when the card is refused.
    """
    declined: PaymentDeclined | None = None
    with transaction.atomic():
        escrow = _locked(escrow_id)
        if escrow.status != S.AWAITING_FUNDING:
            raise StateConflict(f"This milestone is already {escrow.status}.")
        key = f"escrow-{escrow.pk}-fund-{escrow.funding_attempts}"
        try:
            intent = get_gateway().create_payment_intent(
                amount=escrow.charge_cents,
                currency=escrow.currency,
                metadata={"escrow_id": str(escrow.pk), "reference": escrow.reference},
                idempotency_key=key,
                payment_method=payment_method,
            )
        except PaymentDeclined as exc:
            escrow.funding_attempts += 1
            escrow.save(update_fields=["funding_attempts"])
            declined = exc
        else:
            escrow.payment_intent_id = intent.id
            escrow.save(update_fields=["payment_intent_id"])
            if intent.status == "succeeded":
                _mark_funded(escrow, charge_id=intent.charge_id, actor=actor)
    if declined is not None:
        logger.info("escrow.funding_declined", extra={"escrow_id": escrow_id})
        raise declined
    return FundingResult(
        escrow=escrow,
        status=intent.status,
        client_secret=intent.client_secret,
        amount_cents=escrow.charge_cents,
        fee_cents=escrow.company_fee_cents,
    )


def _mark_funded(escrow: Escrow, *, charge_id: str, actor: AbstractBaseUser | None) -> None:
    _transition(escrow, S.FUNDED, actor=actor)
    escrow.charge_id = charge_id
    escrow.funded_at = timezone.now()
    escrow.save(update_fields=["status", "charge_id", "funded_at"])
    ledger_post(
        kind=LedgerTransaction.Kind.FUNDING,
        currency=escrow.currency,
        escrow=escrow,
        memo=f"{escrow.reference} funded",
        entries=[
            (company_account(escrow.company_id), -escrow.charge_cents),
            (ESCROW_ACCOUNT, escrow.charge_cents),
        ],
    )
    logger.info("escrow.funded", extra={"escrow_id": escrow.pk})


@transaction.atomic
def escrow_mark_funded(*, payment_intent_id: str, charge_id: str) -> Escrow | None:
    """Record a succeeded PaymentIntent (from a webhook). Idempotent: a funded escrow is left as is.

    Returns the escrow, or None when no escrow has this PaymentIntent.
    """
    escrow = Escrow.objects.select_for_update().filter(payment_intent_id=payment_intent_id).first()
    if escrow is None:
        return None
    if escrow.status == S.AWAITING_FUNDING:
        _mark_funded(escrow, charge_id=charge_id, actor=None)
    return escrow


def _transfer(escrow: Escrow, account: PayoutAccount, *, actor: AbstractBaseUser | None) -> None:
    escrow.transfer_id = get_gateway().create_transfer(
        amount=escrow.payee_cents,
        currency=escrow.currency,
        destination=account.account_id,
        source_transaction=escrow.charge_id,
        transfer_group=escrow.reference,
        idempotency_key=f"escrow-{escrow.pk}-release",
    )
    _transition(escrow, S.RELEASED, actor=actor)
    escrow.settled_at = timezone.now()
    escrow.save(update_fields=["status", "transfer_id", "settled_at"])
    ledger_post(
        kind=LedgerTransaction.Kind.RELEASE,
        currency=escrow.currency,
        escrow=escrow,
        memo=f"{escrow.reference} released",
        entries=[
            (ESCROW_ACCOUNT, -escrow.charge_cents),
            (student_account(escrow.payee_id), escrow.payee_cents),
            (PLATFORM_REVENUE_ACCOUNT, escrow.company_fee_cents + escrow.student_commission_cents),
        ],
    )
    logger.info("escrow.released", extra={"escrow_id": escrow.pk})


@transaction.atomic
def escrow_release(*, escrow_id: int, actor: AbstractBaseUser | None) -> Escrow:
    """Pay the payee their share of a funded escrow, or park it until they can be paid.

    The transfer's idempotency key is `escrow-<id>-release`, its `transfer_group`
    the escrow's reference and its `source_transaction` the charge. If the
    payee's payout account is not ready the escrow becomes `release_pending` and
    is released by `escrow_release_pending_for_payee`. Raises StateConflict for
    an escrow that is not funded.
    """
    escrow = _locked(escrow_id)
    if escrow.status not in (S.FUNDED, S.RELEASE_PENDING):
        raise StateConflict(f"Only funded money can be released; this is {escrow.status}.")
    account = PayoutAccount.objects.filter(user_id=escrow.payee_id, payouts_enabled=True).first()
    if account is None:
        if escrow.status == S.FUNDED:
            _transition(escrow, S.RELEASE_PENDING, actor=actor, note="payout account not ready")
            escrow.save(update_fields=["status"])
        return escrow
    _transfer(escrow, account, actor=actor)
    return escrow


def escrow_release_pending_for_payee(*, user_id: int) -> int:
    """Release every `release_pending` escrow of a payee whose account just became ready.

    Returns how many were released.
    """
    ids = list(
        Escrow.objects.filter(payee_id=user_id, status=S.RELEASE_PENDING).values_list(
            "pk", flat=True
        )
    )
    released = 0
    for escrow_id in ids:
        if escrow_release(escrow_id=escrow_id, actor=None).status == S.RELEASED:
            released += 1
    return released


@transaction.atomic
def escrow_refund(*, escrow_id: int, actor: AbstractBaseUser | None, note: str = "") -> Escrow:
    """Give a funded escrow's whole charge back to the company (work cancelled before delivery).

    The refund's idempotency key is `escrow-<id>-refund`. Raises StateConflict
    unless the escrow is funded.
    """
    escrow = _locked(escrow_id)
    if escrow.status != S.FUNDED:
        raise StateConflict(f"Only funded money can be refunded; this is {escrow.status}.")
    escrow.refund_id = get_gateway().create_refund(
        payment_intent_id=escrow.payment_intent_id,
        amount=escrow.charge_cents,
        idempotency_key=f"escrow-{escrow.pk}-refund",
    )
    _transition(escrow, S.REFUNDED, actor=actor, note=note)
    escrow.settled_at = timezone.now()
    escrow.save(update_fields=["status", "refund_id", "settled_at"])
    ledger_post(
        kind=LedgerTransaction.Kind.REFUND,
        currency=escrow.currency,
        escrow=escrow,
        memo=f"{escrow.reference} refunded",
        entries=[
            (ESCROW_ACCOUNT, -escrow.charge_cents),
            (company_account(escrow.company_id), escrow.charge_cents),
        ],
    )
    logger.info("escrow.refunded", extra={"escrow_id": escrow.pk})
    return escrow
