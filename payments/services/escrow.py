"""Escrow: fund, release and refund the money held for one piece of work.

Flow (Stripe's "separate charges and transfers",
https://docs.stripe.com/connect/separate-charges-and-transfers): the company is
charged on the platform, the money waits, and a transfer pays the payee on
approval. Every movement is one balanced ledger transaction (entries in minor
units of the escrow's currency, summing to zero):

- funding:     `company:<id>` −charge, `escrow` +charge
- gateway_fee: `platform:revenue` −fee, `stripe:fees` +fee: Stripe's own fee on
  the charge, read from the charge's balance transaction once the escrow is
  funded. With separate charges and transfers "your account balance is debited
  for the cost of the Stripe fees, refunds, and chargebacks"
  (https://docs.stripe.com/connect/separate-charges-and-transfers), so the
  platform's revenue pays it.
- release:     `escrow` −charge, `student:<id>` +payee share, `platform:revenue` +fees
- refund:      `escrow` −charge, `company:<id>` +charge
- settlement:  `escrow` −charge, `student:<id>` +payee share of the released
  part, `platform:revenue` +commission on it, `company:<id>` +refunded part

So for every escrow, once it is released, refunded or settled:

    charged = transferred + platform revenue + refunded

where `charged` is the escrow's debit in its funding transaction,
`transferred` the payee's (`student:`) entries, `refunded` the company's
entries outside funding, and `platform revenue` the `platform:revenue` entries
of release and settlement transactions only: revenue GROSS of Stripe's fees.
Stripe's fees are tracked apart, in `stripe:fees`, by the gateway_fee
transactions; the platform's margin on an escrow is therefore
`charged − transferred − refunded − Stripe fees`, which is the balance of
`platform:revenue` once the fee is posted. A refund does not reverse the fee
transaction (what Stripe reported on the charge stays booked), so a refunded
escrow leaves `platform:revenue` at −fee: the cost of a cancelled job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from marketplace.errors import DomainError, StateConflict, TransientError, ValidationFailed
from marketplace.models import Company
from marketplace.money import SUPPORTED_CURRENCIES, Money, amount_check, bps_of
from marketplace.notifications import notify
from marketplace.selectors import staff_users
from payments.gateways import get_gateway
from payments.gateways.base import (
    IdempotencyConflict,
    PaymentDeclined,
    PaymentGateway,
    PaymentIntentResult,
)
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
    S.FUNDED: {S.RELEASE_PENDING, S.RELEASED, S.REFUNDED, S.FROZEN},
    S.RELEASE_PENDING: {S.RELEASED, S.FROZEN},
    S.FROZEN: {S.RELEASED, S.REFUNDED},
    S.RELEASED: set(),
    S.REFUNDED: set(),
}
# After this many failed transfer attempts staff are told (the retries go on).
TRANSFER_ATTEMPTS_BEFORE_ALERT = 3
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

    Raises ValidationFailed for an unsupported currency, or an amount (or
    amount + fee) outside what a card payment can carry (`amount_check`).
    """
    if currency not in SUPPORTED_CURRENCIES:
        raise ValidationFailed(f"Unsupported currency {currency}.", field="currency")
    amount_check(amount_cents, currency, field="amount_cents")
    amount_check(
        amount_cents + bps_of(amount_cents, settings.COMPANY_FEE_BPS),
        currency,
        field="amount_cents",
    )
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
    error rolls everything back. The escrow row stays locked during the
    gateway calls, so concurrent requests charge once.

    `guard` is called once the escrow row is locked, before any gateway call;
    raising there refuses the funding (the projects app checks that the
    contract was not cancelled meanwhile). Raises StateConflict if the escrow
    is not awaiting funding.
    """
    failure: DomainError | None = None
    with transaction.atomic():
        escrow = _locked(escrow_id)
        if escrow.status != S.AWAITING_FUNDING:
            raise StateConflict(f"This milestone is already {escrow.status}.")
        if guard is not None:
            guard()
        attempts_before = escrow.funding_attempts
        charging = False
        gateway = get_gateway()
        try:
            intent = None
            if escrow.payment_intent_id:
                intent = _existing_intent(gateway, escrow, payment_method)
                if intent is None:
                    escrow.payment_intent_id = ""
                    escrow.funding_attempts += 1
            if intent is None:
                charging = payment_method is not None
                intent = gateway.create_payment_intent(
                    amount=escrow.charge_cents,
                    currency=escrow.currency,
                    metadata={"escrow_id": str(escrow.pk), "reference": escrow.reference},
                    idempotency_key=_funding_key(escrow),
                    payment_method=payment_method,
                )
        except (PaymentDeclined, IdempotencyConflict, TransientError) as exc:
            if not (charging and isinstance(exc, TransientError)):
                escrow.funding_attempts += 1
            failure = exc
        else:
            escrow.payment_intent_id = intent.id
            if intent.status == PI_SUCCEEDED:
                _mark_funded(escrow, charge_id=intent.charge_id, actor=actor)
        if escrow.funding_attempts != attempts_before or failure is None:
            escrow.save(update_fields=["funding_attempts", "payment_intent_id"])
    if failure is not None:
        logger.info(
            "escrow.funding_failed",
            extra={"escrow_id": escrow_id, "error": type(failure).__name__},
        )
        raise failure
    if escrow.status == S.FUNDED:
        escrow_record_gateway_fee(escrow_id=escrow.pk)
    return FundingResult(
        escrow=escrow,
        status=intent.status,
        client_secret=intent.client_secret,
        amount_cents=escrow.charge_cents,
        fee_cents=escrow.company_fee_cents,
    )


def _funding_key(escrow: Escrow) -> str:
    return f"escrow-{escrow.pk}-fund-{escrow.funding_attempts}"


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
            idempotency_key=f"{_funding_key(escrow)}-confirm",
        )
    if intent is None or intent.status == PI_CANCELED:
        return None
    return intent


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
            escrow.save(update_fields=["payment_intent_id"])
            _mark_funded(escrow, charge_id=charge_id, actor=None)
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
        escrow = _locked(escrow_id)
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


def _send_transfer(escrow: Escrow, account: PayoutAccount, amount: int) -> bool:
    """Ask the gateway for the payee's transfer; False (error kept) when it failed for now.

    The key `escrow-<id>-release` makes a retry answer the first transfer, never a second.
    """
    try:
        escrow.transfer_id = get_gateway().create_transfer(
            amount=amount,
            currency=escrow.currency,
            destination=account.account_id,
            source_transaction=escrow.charge_id,
            transfer_group=escrow.reference,
            idempotency_key=f"escrow-{escrow.pk}-release",
        )
    except TransientError as exc:
        escrow.transfer_attempts += 1
        escrow.last_error = exc.message
        escrow.save(update_fields=["transfer_attempts", "last_error"])
        logger.warning("escrow.transfer_failed", extra={"escrow_id": escrow.pk})
        if escrow.transfer_attempts == TRANSFER_ATTEMPTS_BEFORE_ALERT:
            _alert_staff_transfer_failed(escrow)
        return False
    escrow.transfer_attempts += 1
    escrow.last_error = ""
    return True


def _alert_staff_transfer_failed(escrow: Escrow) -> None:
    for admin in staff_users():
        notify(
            user=admin,
            template="transfer_failed",
            key=f"transfer-failed:{escrow.pk}:{admin.pk}",
            context={
                "escrow_reference": escrow.reference,
                "error": escrow.last_error,
                "attempts": escrow.transfer_attempts,
                "admin_url": f"{settings.SITE_URL}/admin/payments/escrow/{escrow.pk}/change/",
            },
            url=f"/admin/payments/escrow/{escrow.pk}/change/",
        )


def _transfer(escrow: Escrow, account: PayoutAccount, *, actor: AbstractBaseUser | None) -> None:
    if not _send_transfer(escrow, account, escrow.payee_cents):
        if escrow.status == S.FUNDED:
            _transition(escrow, S.RELEASE_PENDING, actor=actor, note="transfer failed; retrying")
            escrow.save(update_fields=["status"])
        return
    _transition(escrow, S.RELEASED, actor=actor)
    escrow.settled_at = timezone.now()
    escrow.save(
        update_fields=["status", "transfer_id", "settled_at", "transfer_attempts", "last_error"]
    )
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
    payee's payout account is not ready, or the gateway fails for now, the
    escrow becomes `release_pending` and is released later
    (`escrow_release_pending_for_payee`, `escrow_retry_pending_releases`).
    Raises StateConflict for an escrow that is not funded.
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


def escrow_retry_pending_releases(
    *, limit: int = 500, escrow_ids: Iterable[int] | None = None
) -> list[int]:
    """Try again every approved escrow whose payee can be paid; returns the ids released.

    Run on a schedule: it picks up transfers that failed and payees who became
    ready without the event reaching us. `escrow_ids` narrows it to those
    escrows (staff retrying chosen ones); the others are left as they are.
    """
    pending = Escrow.objects.filter(
        status=S.RELEASE_PENDING,
        payee__payout_account__payouts_enabled=True,
    )
    if escrow_ids is not None:
        pending = pending.filter(pk__in=list(escrow_ids))
    ids = list(pending.order_by("pk").values_list("pk", flat=True)[:limit])
    return [pk for pk in ids if escrow_release(escrow_id=pk, actor=None).status == S.RELEASED]


def escrow_release_pending_for_payee(*, user_id: int) -> list[int]:
    """Release every `release_pending` escrow of a payee whose account just became ready.

    Returns the ids of the escrows released.
    """
    ids = list(
        Escrow.objects.filter(payee_id=user_id, status=S.RELEASE_PENDING).values_list(
            "pk", flat=True
        )
    )
    return [pk for pk in ids if escrow_release(escrow_id=pk, actor=None).status == S.RELEASED]


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
    escrow_book_full_refund(escrow=escrow, memo=f"{escrow.reference} refunded")
    logger.info("escrow.refunded", extra={"escrow_id": escrow.pk})
    return escrow


def escrow_book_full_refund(*, escrow: Escrow, memo: str) -> LedgerTransaction:
    """Record that the whole charge went back to the company: settle the row, post the refund.

    The caller holds the escrow's row lock and moved its status to `refunded`.
    Ledger: `escrow` −charge, `company:<id>` +charge.
    """
    escrow.settled_at = timezone.now()
    escrow.save(update_fields=["status", "refund_id", "settled_at"])
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


@transaction.atomic
def escrow_freeze(*, escrow_id: int, actor: AbstractBaseUser | None, note: str = "") -> Escrow:
    """Hold the money where it is while a dispute is open (funded or approved, not yet paid).

    Raises StateConflict from any other state.
    """
    escrow = _locked(escrow_id)
    if escrow.status not in (S.FUNDED, S.RELEASE_PENDING):
        raise StateConflict(f"Only money held in escrow can be frozen; this is {escrow.status}.")
    _transition(escrow, S.FROZEN, actor=actor, note=note)
    escrow.save(update_fields=["status"])
    return escrow


@transaction.atomic
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

    Raises ValidationFailed (field named) for amounts that do not add up,
    StateConflict unless frozen or when a release is due to a payee who cannot
    be paid yet, and TransientError when the gateway fails (nothing recorded; try again).
    """
    escrow = _locked(escrow_id)
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
            f"At most the work's {Money(escrow.amount_cents, escrow.currency)} can be released.",
            field="release_cents",
        )
    commission = bps_of(release_cents, settings.STUDENT_COMMISSION_BPS)
    payee_share = release_cents - commission
    gateway = get_gateway()
    if payee_share > 0:
        account = PayoutAccount.objects.filter(
            user_id=escrow.payee_id, payouts_enabled=True
        ).first()
        if account is None:
            raise StateConflict("The student has not connected a payout account yet.")
        escrow.transfer_id = gateway.create_transfer(
            amount=payee_share,
            currency=escrow.currency,
            destination=account.account_id,
            source_transaction=escrow.charge_id,
            transfer_group=escrow.reference,
            idempotency_key=f"escrow-{escrow.pk}-settle-release",
        )
    if refund_cents > 0:
        escrow.refund_id = gateway.create_refund(
            payment_intent_id=escrow.payment_intent_id,
            amount=refund_cents,
            idempotency_key=f"escrow-{escrow.pk}-settle-refund",
        )
    _transition(escrow, S.RELEASED if release_cents else S.REFUNDED, actor=actor, note=note)
    escrow.settled_at = timezone.now()
    escrow.save(update_fields=["status", "transfer_id", "refund_id", "settled_at"])
    ledger_post(
        kind=LedgerTransaction.Kind.SETTLEMENT,
        currency=escrow.currency,
        escrow=escrow,
        memo=f"{escrow.reference} settled after a dispute",
        entries=[
            (ESCROW_ACCOUNT, -escrow.charge_cents),
            (student_account(escrow.payee_id), payee_share),
            (PLATFORM_REVENUE_ACCOUNT, commission),
            (company_account(escrow.company_id), refund_cents),
        ],
    )
    logger.info("escrow.settled", extra={"escrow_id": escrow.pk})
    return escrow
