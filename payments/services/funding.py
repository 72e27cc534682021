"""Funding an escrow: the company's PaymentIntent, and what Stripe tells of it afterwards.

The three steps of every money movement (`payments.services.escrow`): a
funding request takes the escrow's lease and commits, the PaymentIntent is
created or confirmed with no transaction open under `escrow-<id>-fund-<attempt>`,
and the answer is recorded in a new transaction; `payment_intent.succeeded`
(`escrow_mark_funded`) funds an escrow whose answer was never recorded, once.
Ledger: `company:<id>` −charge, `escrow` +charge; Stripe's own fee is posted
apart (`escrow_record_gateway_fee`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from marketplace.errors import DomainError, StateConflict, TransientError
from payments.gateways import get_gateway
from payments.gateways.base import (
    IdempotencyConflict,
    PaymentDeclined,
    PaymentGateway,
    PaymentIntentResult,
)
from payments.models import Escrow, LedgerTransaction
from payments.services.escrow import S, escrow_lock
from payments.services.ledger import (
    ESCROW_ACCOUNT,
    PLATFORM_REVENUE_ACCOUNT,
    company_account,
    ledger_post,
)
from payments.services.refunds import escrow_refund_send
from payments.states import ESCROW_STATES

# How long a funding request holds the escrow (`funding_started_at`) before another may go:
# longer than the gateway can take (a confirmation is three requests of up to 3 × 30 s).
FUNDING_LEASE = dt.timedelta(minutes=5)

logger = logging.getLogger(__name__)


# Where Stripe's own fees on our charges are booked (see the module docstring).
STRIPE_FEES_ACCOUNT = "stripe:fees"


# PaymentIntent statuses (https://docs.stripe.com/payments/paymentintents/lifecycle).
PI_SUCCEEDED = "succeeded"


PI_CANCELED = "canceled"


@dataclass(frozen=True)
class FundingResult:
    """The answer to a funding request: Stripe's PaymentIntent status and the amounts charged."""

    escrow: Escrow
    status: str
    client_secret: str
    amount_cents: int
    fee_cents: int


def escrow_fund(
    *,
    escrow_id: int,
    actor: AbstractBaseUser | None,
    payment_method: str | None = None,
    guard: Callable[[], None] | None = None,
) -> FundingResult:
    """Charge the company `amount + fee` for an escrow awaiting funding.

    One PaymentIntent at a time per escrow, reused across attempts as far as
    Stripe allows (it advises one PaymentIntent per order,
    https://docs.stripe.com/payments/payment-intents):

    - no intent yet: create one (https://docs.stripe.com/api/payment_intents/create)
      under the key `escrow-<id>-fund-<attempt>`; with a `payment_method` it is
      confirmed in the same request, without one it waits in
      `requires_payment_method` and the result carries its `client_secret`
      for Stripe.js.
    - an intent already waiting (`requires_payment_method`,
      `requires_confirmation`): with a `payment_method`, that intent is
      confirmed (`confirm_payment_intent`, key
      `escrow-<id>-fund-<attempt>-confirm`), never a second one created;
      without one, it is read again and the same `client_secret` answered.
    - `requires_action` (3-D Secure, https://docs.stripe.com/payments/3d-secure)
      and `processing`: the escrow stays unfunded and the result carries that
      status and the `client_secret`, for Stripe.js to finish; the
      `payment_intent.succeeded` webhook (`escrow_mark_funded`) or a later call
      that finds the intent succeeded funds it.
    - `succeeded`: the escrow is funded, then Stripe's fee is booked
      (`escrow_record_gateway_fee`, after the funding committed).
    - a `canceled` or vanished intent: a fresh one under the next attempt's key.

    A decline (PaymentDeclined, 402) keeps the escrow unfunded and counts the
    attempt, so the next try uses the next key: a new intent after a declined
    create (its id is not known), the same intent confirmed again after a
    declined confirmation. A TransientError records nothing but the attempt
    counter, except after a create that carried a `payment_method`: its answer
    was lost and Stripe may have charged the card, so the attempt (and key) is
    kept, and the retry replays Stripe's answer instead of charging twice
    (https://docs.stripe.com/api/idempotent_requests); should that charge have
    succeeded, its `payment_intent.succeeded` webhook funds the escrow through
    the intent's metadata (`escrow_mark_funded(escrow_id=…)`). An
    IdempotencyConflict (that lost request had other parameters, e.g. another
    card) counts the attempt too, so the next try can go on. Any other gateway
    error records nothing.

    Transactions (the module docstring): the escrow row is locked to check it
    and to take its funding lease (`funding_started_at`), which commits; the
    gateway is called with no transaction open; the answer is recorded with the
    row locked again, and the lease given back. A second request while the
    lease holds (FUNDING_LEASE) is a StateConflict, so concurrent requests
    charge once. Should recording fail after Stripe charged, the escrow still
    awaits funding with the same key: `payment_intent.succeeded` or the same
    request again (Stripe replays its intent) funds it once.

    `guard` is called with the escrow row locked, before the gateway is called
    and again when its answer is recorded; raising there refuses the funding
    (the projects app checks that the contract was not cancelled meanwhile).
    When it refuses a payment that went through, the money is not kept: the
    escrow is funded and refunded at once (`escrow-<id>-refund`), then the
    guard's error is raised. Raises StateConflict if the escrow is not
    awaiting funding or another request is paying it right now.
    """
    started = _funding_begin(escrow_id, guard=guard)
    try:
        attempt = _funding_call(get_gateway(), started, payment_method)
        escrow, refused = _funding_record(
            escrow_id, started=started, attempt=attempt, actor=actor, guard=guard
        )
    except BaseException:
        _funding_lease_give_back(escrow_id, started=started)
        raise
    if refused is not None:
        if escrow.status == S.REFUND_PENDING:
            escrow_record_gateway_fee(escrow_id=escrow.pk)  # Stripe keeps its fee on a refund
            escrow_refund_send(escrow_id=escrow.pk, actor=None, note="paid after it was refused")
        raise refused
    if attempt.failure is not None:
        logger.info(
            "escrow.funding_failed",
            extra={"escrow_id": escrow_id, "error": type(attempt.failure).__name__},
        )
        raise attempt.failure
    intent = attempt.intent
    assert intent is not None  # no failure: the gateway answered an intent
    if escrow.status == S.FUNDED:
        escrow_record_gateway_fee(escrow_id=escrow.pk)
    return FundingResult(
        escrow=escrow,
        status=intent.status,
        client_secret=intent.client_secret,
        amount_cents=escrow.charge_cents,
        fee_cents=escrow.company_fee_cents,
    )


@dataclass
class _FundingAttempt:
    """What a funding request did at the gateway, to be recorded on the escrow."""

    payment_intent_id: str
    funding_attempts: int
    intent: PaymentIntentResult | None = None
    failure: DomainError | None = None


def _funding_begin(escrow_id: int, *, guard: Callable[[], None] | None) -> Escrow:
    """Step 1: check the escrow under its lock and take its funding lease; commits."""
    with transaction.atomic():
        escrow = escrow_lock(escrow_id)
        if escrow.status != S.AWAITING_FUNDING:
            raise StateConflict(f"This milestone is already {escrow.status}.")
        if guard is not None:
            guard()
        now = timezone.now()
        leased = escrow.funding_started_at
        if leased is not None and leased > now - FUNDING_LEASE:
            raise StateConflict("A payment for this milestone is under way; try again in a moment.")
        escrow.funding_started_at = now
        escrow.save(update_fields=["funding_started_at"])
    return escrow


def _funding_call(
    gateway: PaymentGateway, escrow: Escrow, payment_method: str | None
) -> _FundingAttempt:
    """Step 2, no transaction open: the gateway requests; other errors than a decline,
    a key conflict or a transient failure propagate."""
    attempt = _FundingAttempt(escrow.payment_intent_id, escrow.funding_attempts)
    charging = False
    try:
        intent = None
        if attempt.payment_intent_id:
            intent = _existing_intent(gateway, escrow, payment_method)
            if intent is None:
                attempt.payment_intent_id = ""
                attempt.funding_attempts += 1
        if intent is None:
            charging = payment_method is not None
            intent = gateway.create_payment_intent(
                amount=escrow.charge_cents,
                currency=escrow.currency,
                metadata={"escrow_id": str(escrow.pk), "reference": escrow.reference},
                idempotency_key=_funding_key(escrow.pk, attempt.funding_attempts),
                payment_method=payment_method,
            )
    except (PaymentDeclined, IdempotencyConflict, TransientError) as exc:
        if not (charging and isinstance(exc, TransientError)):
            attempt.funding_attempts += 1
        attempt.failure = exc
    else:
        attempt.intent = intent
        attempt.payment_intent_id = intent.id
    return attempt


def _funding_record(
    escrow_id: int,
    *,
    started: Escrow,
    attempt: _FundingAttempt,
    actor: AbstractBaseUser | None,
    guard: Callable[[], None] | None,
) -> tuple[Escrow, DomainError | None]:
    """Step 3: record the attempt under the lock and give the lease back; `(escrow, refusal)`.

    Idempotent: an escrow funded meanwhile (the webhook, with this same
    intent) is left as it is. StateConflict when it was paid by another intent.
    """
    intent = attempt.intent
    paid = intent is not None and intent.status == PI_SUCCEEDED
    refused: DomainError | None = None
    with transaction.atomic():
        escrow = escrow_lock(escrow_id)
        fields: list[str] = []
        if escrow.funding_started_at == started.funding_started_at:
            escrow.funding_started_at = None
            fields.append("funding_started_at")
        if escrow.status == S.AWAITING_FUNDING:
            # Unless someone else recorded an attempt meanwhile (a lease that ran out).
            if (escrow.payment_intent_id, escrow.funding_attempts) == (
                started.payment_intent_id,
                started.funding_attempts,
            ):
                escrow.payment_intent_id = attempt.payment_intent_id
                escrow.funding_attempts = attempt.funding_attempts
                fields += ["payment_intent_id", "funding_attempts"]
            if paid:
                assert intent is not None
                escrow.payment_intent_id = intent.id
                _mark_funded(
                    escrow,
                    charge_id=intent.charge_id,
                    actor=actor,
                    update_fields=[*fields, "payment_intent_id"],
                )
                fields = []
        elif not (paid and intent is not None and escrow.payment_intent_id == intent.id):
            if paid:
                logger.error(
                    "escrow.second_succeeded_intent",
                    extra={"escrow_id": escrow.pk, "payment_intent_id": intent.id},
                )
            if fields:
                escrow.save(update_fields=fields)
            return escrow, StateConflict(f"This milestone is already {escrow.status}.")
        if fields:
            escrow.save(update_fields=fields)
        if guard is not None:
            try:
                guard()
            except DomainError as exc:
                refused = exc
                ours = escrow.payment_intent_id == attempt.payment_intent_id
                if escrow.status == S.FUNDED and ours:
                    ESCROW_STATES.transition(
                        escrow, S.REFUND_PENDING, actor=None, note=f"funding refused: {exc.message}"
                    )
    return escrow, refused


def _funding_lease_give_back(escrow_id: int, *, started: Escrow) -> None:
    """After a failure between taking the lease and recording: free the escrow for the next try."""
    try:
        Escrow.objects.filter(pk=escrow_id, funding_started_at=started.funding_started_at).update(
            funding_started_at=None
        )
    except Exception:
        logger.exception("escrow.funding_lease_kept", extra={"escrow_id": escrow_id})


def _funding_key(escrow_id: int, attempt: int) -> str:
    return f"escrow-{escrow_id}-fund-{attempt}"


def _existing_intent(
    gateway: PaymentGateway, escrow: Escrow, payment_method: str | None
) -> PaymentIntentResult | None:
    """The escrow's PaymentIntent, confirmed with `payment_method` if given and still waiting.

    None when it was canceled or the gateway no longer has it: fund with a new one.
    """
    if payment_method is None:
        intent = gateway.retrieve_payment_intent(payment_intent_id=escrow.payment_intent_id)
    else:
        intent = gateway.confirm_payment_intent(
            payment_intent_id=escrow.payment_intent_id,
            payment_method=payment_method,
            idempotency_key=f"{_funding_key(escrow.pk, escrow.funding_attempts)}-confirm",
        )
    if intent is None or intent.status == PI_CANCELED:
        return None
    return intent


def _mark_funded(
    escrow: Escrow,
    *,
    charge_id: str,
    actor: AbstractBaseUser | None,
    update_fields: Iterable[str] = (),
) -> None:
    """Fund the locked escrow, saving `update_fields` the caller changed too; post the funding."""
    escrow.charge_id = charge_id
    escrow.funded_at = timezone.now()
    escrow.funding_started_at = None
    ESCROW_STATES.transition(
        escrow,
        S.FUNDED,
        actor=actor,
        update_fields=["charge_id", "funded_at", "funding_started_at", *update_fields],
    )
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


def escrow_mark_funded(
    *, payment_intent_id: str, charge_id: str, escrow_id: int | None = None
) -> Escrow | None:
    """Record a succeeded PaymentIntent (from a webhook). Idempotent: a funded escrow is left as is.

    The escrow is the one whose `payment_intent_id` this is; failing that,
    `escrow_id` (the intent's `metadata["escrow_id"]`) names it, for an intent
    whose creation answer never reached us: an escrow still awaiting funding
    then takes this intent. Stripe's fee is booked once it is funded
    (`escrow_record_gateway_fee`). Returns the escrow, or None when none matches.
    """
    with transaction.atomic():
        escrow = (
            Escrow.objects.select_for_update().filter(payment_intent_id=payment_intent_id).first()
        )
        if escrow is None and escrow_id is not None:
            escrow = Escrow.objects.select_for_update().filter(pk=escrow_id).first()
            if escrow is not None and escrow.status != S.AWAITING_FUNDING:
                logger.error(
                    "escrow.second_succeeded_intent",
                    extra={"escrow_id": escrow.pk, "payment_intent_id": payment_intent_id},
                )
                return escrow
        if escrow is None:
            return None
        if escrow.status == S.AWAITING_FUNDING:
            escrow.payment_intent_id = payment_intent_id
            _mark_funded(
                escrow, charge_id=charge_id, actor=None, update_fields=["payment_intent_id"]
            )
    if escrow.status == S.FUNDED:
        escrow_record_gateway_fee(escrow_id=escrow.pk)
    return escrow


def escrow_record_gateway_fee(*, escrow_id: int) -> LedgerTransaction | None:
    """Book Stripe's fee on a funded escrow's charge: `platform:revenue` −fee, `stripe:fees` +fee.

    The fee is read from the gateway (`retrieve_charge_fee`: the `fee` of the
    charge's balance transaction, https://docs.stripe.com/api/balance_transactions/object)
    before the escrow row is locked, and posted once: a second call answers
    the transaction already posted. Nothing is posted while the fee is unknown
    (None), zero, or when the gateway cannot answer now: funding never fails
    for it, and calling this again later books it. Returns the gateway_fee
    transaction, or None.
    """
    kind = LedgerTransaction.Kind.GATEWAY_FEE
    escrow = Escrow.objects.filter(pk=escrow_id).first()
    if escrow is None or not escrow.charge_id:
        return None
    existing = LedgerTransaction.objects.filter(escrow=escrow, kind=kind).first()
    if existing is not None:
        return existing
    try:
        fee = get_gateway().retrieve_charge_fee(charge_id=escrow.charge_id)
    except DomainError:
        logger.warning("escrow.fee_unknown", extra={"escrow_id": escrow.pk}, exc_info=True)
        return None
    if not fee or fee <= 0:
        return None
    with transaction.atomic():
        escrow = escrow_lock(escrow_id)
        existing = LedgerTransaction.objects.filter(escrow=escrow, kind=kind).first()
        if existing is not None:
            return existing
        txn = ledger_post(
            kind=kind,
            currency=escrow.currency,
            escrow=escrow,
            memo=f"{escrow.reference} Stripe fee",
            entries=[(PLATFORM_REVENUE_ACCOUNT, -fee), (STRIPE_FEES_ACCOUNT, fee)],
        )
    logger.info("escrow.gateway_fee", extra={"escrow_id": escrow.pk, "fee": fee})
    return txn
