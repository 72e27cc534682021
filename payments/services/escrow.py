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

Gateway writes happen outside the database transaction. No Stripe request is
made while a transaction of ours is open (it would hold the escrow's row lock
for as long as Stripe takes to answer, and a commit failing after Stripe moved
the money would leave the escrow saying `funded`). Every movement has three steps:

1. the intent is recorded and committed: the escrow moves to `release_pending`
   (`escrow_release_request`) or `refund_pending` (`escrow_refund_request`),
   staff's split is written on the frozen escrow (`escrow_settle_split`), or a
   funding request takes the escrow's lease (`funding_started_at`, `escrow_fund`);
2. the gateway is called with no transaction open, under an idempotency key
   made from the escrow's id: `escrow-<id>-release`, `escrow-<id>-refund`,
   `escrow-<id>-settle-release`, `escrow-<id>-settle-refund`,
   `escrow-<id>-fund-<attempt>`;
3. the answer is recorded in a new short transaction that locks the row again
   and changes nothing when another worker (a retry, a webhook) recorded it first.

Stripe stores the answer to a keyed request and gives it again to a request
with the same key and parameters instead of executing it twice
(https://docs.stripe.com/api/idempotent_requests). So when step 3 never
commits after Stripe accepted the request, the escrow is still pending and the
retry (`escrow_retry_pending_releases`, `escrow_retry_pending_refunds`, staff
settling the dispute again, the company paying again, or Stripe's
`payment_intent.succeeded` through `escrow_mark_funded`) sends the same
request under the same key: Stripe answers with the object it made the first
time, and the money moves once.

Money that waited in `release_pending` and goes out later is announced to the
listeners the apps above register (`escrow_late_release_listener_register`):
the projects app tells the student and completes finished contracts."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from marketplace.errors import DomainError, StateConflict, ValidationFailed
from marketplace.models import Company
from marketplace.money import SUPPORTED_CURRENCIES, amount_check, bps_of
from payments.gateways import get_gateway
from payments.models import Escrow, PayoutAccount
from payments.states import ESCROW_STATES

logger = logging.getLogger(__name__)


S = Escrow.Status


@dataclass(frozen=True)
class GatewayAnswer:
    """What step 3 found: the escrow, whether this call recorded the gateway's answer, the error."""

    escrow: Escrow
    recorded: bool
    failure: DomainError | None = None


def escrow_lock(escrow_id: int) -> Escrow:
    return Escrow.objects.select_for_update().get(pk=escrow_id)


def escrow_payee_account(escrow: Escrow) -> PayoutAccount | None:
    return PayoutAccount.objects.filter(user_id=escrow.payee_id, payouts_enabled=True).first()


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


def escrow_gateway_error_record(escrow_id: int, exc: DomainError, waiting: str) -> Escrow:
    """Keep the gateway's error on an escrow still `waiting` for it (staff see `last_error`)."""
    with transaction.atomic():
        escrow = escrow_lock(escrow_id)
        if escrow.status == waiting:
            escrow.last_error = exc.message
            escrow.save(update_fields=["last_error"])
    logger.warning(
        "escrow.gateway_failed",
        extra={"escrow_id": escrow_id, "status": waiting, "error": type(exc).__name__},
    )
    return escrow


@transaction.atomic
def escrow_freeze(*, escrow_id: int, actor: AbstractBaseUser | None, note: str = "") -> Escrow:
    """Hold the money where it is while a dispute is open (funded or approved, not yet paid).

    Raises StateConflict from any other state.
    """
    escrow = escrow_lock(escrow_id)
    if not ESCROW_STATES.can(escrow, S.FROZEN):
        raise StateConflict(f"Only money held in escrow can be frozen; this is {escrow.status}.")
    ESCROW_STATES.transition(escrow, S.FROZEN, actor=actor, note=note)
    return escrow
