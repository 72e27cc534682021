"""Refunds of held money, whole or split with a release by staff settling a dispute.

The three steps of every money movement (`payments.services.escrow`): the
escrow moves to `refund_pending` (or staff's split is written on the frozen
escrow) and commits, the refund (and transfer) is sent with no transaction open
under `escrow-<id>-refund` (`-settle-refund`, `-settle-release`), and the
answer is recorded in a new transaction. Ledger: refund `escrow` −charge,
`company:<id>` +charge; settlement `escrow` −charge, `student:<id>` +payee
share of the released part, `platform:revenue` +commission on it,
`company:<id>` +refunded part.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from marketplace.audit import audit_record
from marketplace.errors import DomainError, StateConflict, ValidationFailed
from marketplace.money import Money, bps_of
from payments.gateways import get_gateway
from payments.models import Escrow, LedgerTransaction
from payments.services.escrow import (
    GatewayAnswer,
    S,
    escrow_gateway_error_record,
    escrow_lock,
    escrow_payee_account,
)
from payments.services.ledger import (
    ESCROW_ACCOUNT,
    PLATFORM_REVENUE_ACCOUNT,
    company_account,
    ledger_post,
    student_account,
)
from payments.states import ESCROW_STATES

logger = logging.getLogger(__name__)


def escrow_refund_request(
    *, escrow_id: int, actor: AbstractBaseUser | None, note: str = ""
) -> Escrow:
    """Step 1 of a refund: the whole charge is to go back to the company, funded → refund_pending.

    Commits with the caller's transaction (the projects app cancels the
    contract in the same one); `escrow_refund_send` then asks the gateway, once
    that committed. A refund staff ask for (`actor.is_staff`) is audited
    (`refund.create`: the whole charge in minor units, `note` as the reason)
    in this transaction: the decision is theirs even when the scheduled retry
    completes it. Raises StateConflict unless funded.
    """
    with transaction.atomic():
        escrow = escrow_lock(escrow_id)
        if escrow.status != S.FUNDED:
            raise StateConflict(f"Only funded money can be refunded; this is {escrow.status}.")
        ESCROW_STATES.transition(escrow, S.REFUND_PENDING, actor=actor, note=note)
        if actor is not None and actor.is_staff:
            audit_record(
                actor=actor,
                action="refund.create",
                subject=escrow,
                detail={
                    "reference": escrow.reference,
                    "company_id": escrow.company_id,
                    "amount_cents": escrow.charge_cents,
                    "currency": escrow.currency,
                    "status": [S.FUNDED.value, S.REFUND_PENDING.value],
                },
                reason=note,
            )
    return escrow


def escrow_refund_send(
    *, escrow_id: int, actor: AbstractBaseUser | None = None, note: str = ""
) -> Escrow:
    """Steps 2 and 3 of a refund: refund the whole charge, then record it. Call it outside any
    transaction.

    A `refund_pending` escrow gets its Refund
    (https://docs.stripe.com/api/refunds/create, the charge in full, key
    `escrow-<id>-refund`), recorded under the row lock: refunded, `refund_id`,
    the refund transaction posted (`note` on the EscrowEvent). A gateway error
    is recorded (`last_error`) and not raised: the escrow waits for
    `escrow_retry_pending_refunds`. Any other state, or a refund recorded
    meanwhile (the same refund: same key, or Stripe's `charge.refunded`), is
    returned as it is.
    """
    return _refund_send(escrow_id, actor=actor, note=note).escrow


def _refund_send(escrow_id: int, *, actor: AbstractBaseUser | None, note: str) -> GatewayAnswer:
    escrow = Escrow.objects.get(pk=escrow_id)
    if escrow.status != S.REFUND_PENDING:
        return GatewayAnswer(escrow, recorded=False)
    try:
        refund_id = get_gateway().create_refund(
            payment_intent_id=escrow.payment_intent_id,
            amount=escrow.charge_cents,
            idempotency_key=f"escrow-{escrow.pk}-refund",
        )
    except DomainError as exc:
        return GatewayAnswer(
            escrow_gateway_error_record(escrow_id, exc, S.REFUND_PENDING), False, exc
        )
    with transaction.atomic():
        escrow = escrow_lock(escrow_id)
        if escrow.status != S.REFUND_PENDING:
            return GatewayAnswer(escrow, recorded=False)
        escrow.refund_id = refund_id
        escrow.last_error = ""
        escrow_book_full_refund(
            escrow=escrow, memo=f"{escrow.reference} refunded", actor=actor, note=note
        )
    logger.info("escrow.refunded", extra={"escrow_id": escrow.pk})
    return GatewayAnswer(escrow, recorded=True)


def escrow_refund(*, escrow_id: int, actor: AbstractBaseUser | None, note: str = "") -> Escrow:
    """Give a funded escrow's whole charge back to the company (work cancelled before delivery).

    The three steps of the module docstring: `escrow_refund_request` (funded →
    refund_pending, committed), then `escrow_refund_send` (key
    `escrow-<id>-refund`, recorded in a new transaction). Called on a
    `refund_pending` escrow it asks again under the same key. Raises the
    gateway's error (TransientError…) after recording it, the escrow staying
    `refund_pending` (the retry completes it), and StateConflict unless funded
    or refund_pending, or when another worker recorded the refund meanwhile.
    """
    with transaction.atomic():
        escrow = escrow_lock(escrow_id)
        if escrow.status != S.REFUND_PENDING:
            escrow_refund_request(escrow_id=escrow_id, actor=actor, note=note)
    sent = _refund_send(escrow_id, actor=actor, note=note)
    if sent.failure is not None:
        raise sent.failure
    if sent.escrow.status == S.REFUNDED and not sent.recorded:
        raise StateConflict("This money was refunded meanwhile.")
    return sent.escrow


def escrow_retry_pending_refunds(*, limit: int = 500) -> list[int]:
    """Ask again for every refund not confirmed yet (`refund_pending`); returns the ids refunded.

    Run on a schedule: refunds whose gateway call failed, or whose answer was
    never recorded (same key: Stripe answers the refund it made). Safe to run
    any number of times.
    """
    ids = list(
        Escrow.objects.filter(status=S.REFUND_PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    return [pk for pk in ids if _refund_send(pk, actor=None, note="").recorded]


def escrow_book_full_refund(
    *, escrow: Escrow, memo: str, actor: AbstractBaseUser | None = None, note: str = ""
) -> LedgerTransaction:
    """Record that the whole charge went back to the company: refunded, settled, refund posted.

    The caller holds the escrow's row lock and set what it knows (`refund_id`,
    `last_error`). Moves it to `refunded` (`ESCROW_STATES`, StateConflict from a
    state that cannot be refunded). Ledger: `escrow` −charge, `company:<id>` +charge.
    """
    escrow.settled_at = timezone.now()
    ESCROW_STATES.transition(
        escrow,
        S.REFUNDED,
        actor=actor,
        note=note,
        update_fields=["refund_id", "last_error", "settled_at"],
    )
    return ledger_post(
        kind=LedgerTransaction.Kind.REFUND,
        currency=escrow.currency,
        escrow=escrow,
        memo=memo,
        entries=[
            (ESCROW_ACCOUNT, -escrow.charge_cents),
            (company_account(escrow.company_id), escrow.charge_cents),
        ],
    )


def escrow_settle_split(
    *,
    escrow_id: int,
    release_cents: int,
    refund_cents: int,
    actor: AbstractBaseUser | None,
    note: str = "",
) -> Escrow:
    """Settle a frozen escrow: `release_cents` to the payee's side, `refund_cents` to the company.

    The two must add up to what is held (the whole charge, fee included) and
    the release may not exceed the work's amount. The platform keeps its
    commission on the released part only (`STUDENT_COMMISSION_BPS` of it) and no
    company fee: on a disputed milestone staff divide the whole charge. So
    `charged = transferred + revenue + refunded` still holds. The keys are
    `escrow-<id>-settle-release` and `escrow-<id>-settle-refund`: a settlement
    is a different request from an earlier release attempt, and Stripe refuses
    a key reused with other parameters.

    The three steps of the module docstring: the split is checked and written
    on the frozen escrow (`split_release_cents`, `split_refund_cents`), which
    commits; the transfer and the refund are asked for with no transaction
    open; the settlement is recorded in a new transaction (released if anything
    was released, else refunded; the settlement transaction posted). Until it
    is recorded only that same split can settle the escrow: calling again with
    it sends the same requests (Stripe answers what it did the first time) and
    records them; an escrow already settled with it is returned as it is.

    Raises ValidationFailed (field named) for amounts that do not add up,
    StateConflict unless frozen, for another split than the one under way, or
    when a release is due to a payee who cannot be paid yet, and the gateway's
    error (TransientError…) when it fails: the split stays recorded (`last_error`)
    and the same call completes it later.
    """
    escrow = _settlement_begin(escrow_id, release_cents=release_cents, refund_cents=refund_cents)
    if not escrow.split_recorded:
        return escrow  # settled already, with this split
    release, refund = escrow.split_release_cents or 0, escrow.split_refund_cents or 0
    payee_share = release - bps_of(release, settings.STUDENT_COMMISSION_BPS)
    gateway = get_gateway()
    transfer_id = refund_id = ""
    try:
        if payee_share > 0:
            account = escrow_payee_account(escrow)
            if account is None:
                raise StateConflict("The student has not connected a payout account yet.")
            transfer_id = gateway.create_transfer(
                amount=payee_share,
                currency=escrow.currency,
                destination=account.account_id,
                source_transaction=escrow.charge_id,
                transfer_group=escrow.reference,
                idempotency_key=f"escrow-{escrow.pk}-settle-release",
            )
        if refund > 0:
            refund_id = gateway.create_refund(
                payment_intent_id=escrow.payment_intent_id,
                amount=refund,
                idempotency_key=f"escrow-{escrow.pk}-settle-refund",
            )
    except DomainError as exc:
        escrow_gateway_error_record(escrow_id, exc, S.FROZEN)
        raise
    return _settlement_record(
        escrow_id, transfer_id=transfer_id, refund_id=refund_id, actor=actor, note=note
    )


def _settlement_begin(escrow_id: int, *, release_cents: int, refund_cents: int) -> Escrow:
    """Step 1 of a settlement: check the split and write it on the frozen escrow; commits."""
    with transaction.atomic():
        escrow = escrow_lock(escrow_id)
        split = (release_cents, refund_cents)
        recorded = (escrow.split_release_cents, escrow.split_refund_cents)
        if escrow.status in (S.RELEASED, S.REFUNDED) and recorded == split:
            return escrow
        if escrow.status != S.FROZEN:
            raise StateConflict(f"Only frozen money is settled this way; this is {escrow.status}.")
        if release_cents < 0 or refund_cents < 0:
            raise ValidationFailed("Amounts cannot be negative.", field="release_cents")
        if release_cents + refund_cents != escrow.charge_cents:
            raise ValidationFailed(
                "release_cents + refund_cents must equal the "
                f"{Money(escrow.charge_cents, escrow.currency)} held.",
                field="refund_cents",
            )
        if release_cents > escrow.amount_cents:
            raise ValidationFailed(
                f"At most the work's {Money(escrow.amount_cents, escrow.currency)} "
                "can be released.",
                field="release_cents",
            )
        if escrow.split_recorded and recorded != split:
            raise StateConflict(
                f"A split of {Money(recorded[0] or 0, escrow.currency)} released and "
                f"{Money(recorded[1] or 0, escrow.currency)} refunded is being paid out; "
                "settle it with the same amounts."
            )
        commission = bps_of(release_cents, settings.STUDENT_COMMISSION_BPS)
        if release_cents - commission > 0 and escrow_payee_account(escrow) is None:
            raise StateConflict("The student has not connected a payout account yet.")
        if not escrow.split_recorded:
            escrow.split_release_cents, escrow.split_refund_cents = split
            escrow.save(update_fields=["split_release_cents", "split_refund_cents"])
    return escrow


def _settlement_record(
    escrow_id: int,
    *,
    transfer_id: str,
    refund_id: str,
    actor: AbstractBaseUser | None,
    note: str,
) -> Escrow:
    """Step 3 of a settlement: record what the gateway did, once."""
    with transaction.atomic():
        escrow = escrow_lock(escrow_id)
        if not escrow.split_recorded:
            return escrow  # recorded meanwhile by another call
        release, refund = escrow.split_release_cents or 0, escrow.split_refund_cents or 0
        commission = bps_of(release, settings.STUDENT_COMMISSION_BPS)
        if transfer_id:
            escrow.transfer_id = transfer_id
        if refund_id:
            escrow.refund_id = refund_id
        escrow.settled_at = timezone.now()
        escrow.last_error = ""
        ESCROW_STATES.transition(
            escrow,
            S.RELEASED if release else S.REFUNDED,
            actor=actor,
            note=note,
            update_fields=["transfer_id", "refund_id", "settled_at", "last_error"],
        )
        ledger_post(
            kind=LedgerTransaction.Kind.SETTLEMENT,
            currency=escrow.currency,
            escrow=escrow,
            memo=f"{escrow.reference} settled after a dispute",
            entries=[
                (ESCROW_ACCOUNT, -escrow.charge_cents),
                (student_account(escrow.payee_id), release - commission),
                (PLATFORM_REVENUE_ACCOUNT, commission),
                (company_account(escrow.company_id), refund),
            ],
        )
    logger.info("escrow.settled", extra={"escrow_id": escrow.pk})
    return escrow
