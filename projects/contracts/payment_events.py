"""Stripe's webhook events, processed once each, whatever their order or number of deliveries.

`payments.services.webhooks` verifies and stores each event (`StripeEvent`),
then its `stripe_event_process` locks the row and runs the handler registered
for the event's type: the handlers below, registered by
`payment_events_register` when the app is ready. Each returns a
WebhookOutcome: succeeded, ignored (an object that is not ours), or it raises
and the event is failed with the error for staff (TransientError is retried).

Stripe delivers at least once and in no particular order
(https://docs.stripe.com/webhooks), so every handler moves state only forward,
reads the object back from the gateway where the event could be stale, and is
idempotent. The handlers (types: https://docs.stripe.com/api/events/types):

- `payment_intent.succeeded`: the intent is read back from the gateway; its
  amount and currency must be the escrow's charge (else failed, nothing
  changed); the escrow is funded (`escrow_mark_funded`) and the student told.
- `payment_intent.payment_failed`: the escrow stays unfunded; the decline code
  is kept on the event and the company's members are told.
- `charge.refunded`: a refund of ours is known and ignored; a whole refund made
  in Stripe's Dashboard on a funded escrow is recorded; a partial one fails
  for staff.
- `charge.dispute.created`: a chargeback is recorded, held money frozen, staff
  told (https://docs.stripe.com/disputes).
- `charge.dispute.closed`: won, the escrow is unfrozen; lost, the money goes
  back to the company, or is the platform's loss once paid out; staff told.
- `transfer.reversed`: the reversal is posted to the ledger; staff told.
- `account.updated` (Connect): the account is read back; payouts readiness is
  recorded, and the money waiting for it released once the event's
  transaction committed (https://docs.stripe.com/connect/webhooks).
- `payout.failed` (Connect): the student and staff are told.
- anything else: ignored.

Ledger entries of each money movement: `payments.services.escrow` and
`payments.services.chargebacks`. No handler makes a gateway write: they run
inside the event's transaction (`WebhookOutcome.then` runs after it).

`payment_events_register` also gives the payments app this app's late-release
listener (`milestones_released_late`): money that waited and goes out later
is told to the student and completes finished contracts.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from marketplace.errors import StateConflict, ValidationFailed
from payments import notifications as payment_notices
from payments.gateways import get_gateway
from payments.models import Chargeback, Escrow, StripeEvent
from payments.selectors import escrow_for_stripe_object, payout_account_by_account_id
from payments.services.chargebacks import (
    chargeback_close,
    chargeback_open,
    escrow_record_external_refund,
    escrow_record_transfer_reversal,
)
from payments.services.funding import escrow_mark_funded
from payments.services.payouts import payout_account_refresh
from payments.services.releases import (
    escrow_late_release_listener_register,
    escrow_release_pending_for_payee,
)
from payments.services.webhooks import (
    WebhookHandler,
    WebhookOutcome,
    webhook_handler_register,
)
from projects.contracts import notifications as notices
from projects.contracts.models import Contract, Dispute, Milestone
from projects.contracts.services import contract_complete_if_settled, milestones_released_late

logger = logging.getLogger(__name__)

S = Escrow.Status
SUCCEEDED = "succeeded"


# Reading Stripe objects out of an event's JSON.


def _object(event: StripeEvent) -> dict[str, Any]:
    data = event.payload.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise ValidationFailed(f"Event {event.event_id} carries no object.")
    return obj


def _id(value: Any) -> str:
    """An id Stripe sends as a string, or inside the object when it is expanded."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"])
    return ""


def _amount(obj: dict[str, Any], field: str) -> int:
    value = obj.get(field)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(f"Stripe sent a non-integer {field}: {value!r}.", field=field)
    return value


def _str(obj: dict[str, Any], field: str) -> str:
    value = obj.get(field)
    return value if isinstance(value, str) else ""


def _currency(obj: dict[str, Any]) -> str:
    value = _str(obj, "currency").upper()
    if len(value) != 3 or not value.isalpha():
        raise ValidationFailed(f"Stripe sent no currency code: {value!r}.", field="currency")
    return value


def _metadata(obj: dict[str, Any]) -> dict[str, str]:
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        return {}
    return {key: value for key, value in metadata.items() if isinstance(value, str)}


def _metadata_escrow_id(obj: dict[str, Any]) -> str:
    return _metadata(obj).get("escrow_id", "")


def _milestone(escrow: Escrow) -> Milestone | None:
    return (
        Milestone.objects.select_related("contract__project", "contract__student", "escrow")
        .filter(escrow_id=escrow.pk)
        .first()
    )


def _settle_contract_if_done(escrow: Escrow) -> None:
    """Complete the contract whose last open escrow this was (as after a dispute's refund)."""
    ids = Contract.objects.filter(
        status=Contract.Status.ACTIVE, milestones__escrow_id=escrow.pk
    ).values("pk")
    for contract in Contract.objects.select_for_update().filter(pk__in=ids):
        contract_complete_if_settled(contract)


# Handlers: each runs inside the event's transaction and returns what it did.


def _fund_from_gateway(escrow: Escrow, payment_intent_id: str) -> tuple[Escrow, bool]:
    """Read the intent back from Stripe and fund the escrow with it; `(escrow, funded now)`.

    Raises ValidationFailed when the intent is unknown to Stripe or charged
    another amount or currency than the escrow's charge, and StateConflict when
    it has not succeeded or paid an escrow already funded with another intent
    (a second payment: staff refund it). Nothing changes then.
    """
    intent = get_gateway().retrieve_payment_intent(payment_intent_id=payment_intent_id)
    if intent is None:
        raise ValidationFailed(f"Stripe has no payment intent {payment_intent_id}.")
    if intent.status != SUCCEEDED:
        raise StateConflict(f"{intent.id} is {intent.status} at Stripe, not succeeded.")
    if (intent.amount, intent.currency) != (escrow.charge_cents, escrow.currency):
        raise ValidationFailed(
            f"{intent.id} charged {intent.amount} {intent.currency}, but escrow "
            f"{escrow.reference} is for {escrow.charge_cents} {escrow.currency}: "
            "nothing recorded; check the payment in Stripe."
        )
    # Read under the escrow's lock: a funding request of ours may be finishing right now.
    status_now = (
        Escrow.objects.select_for_update()
        .filter(pk=escrow.pk)
        .values_list("status", flat=True)
        .first()
    )
    was_awaiting = status_now == S.AWAITING_FUNDING
    funded = escrow_mark_funded(
        payment_intent_id=intent.id, charge_id=intent.charge_id, escrow_id=escrow.pk
    )
    if funded is None or funded.payment_intent_id != intent.id:
        raise StateConflict(
            f"{intent.id} paid escrow {escrow.reference}, which was already paid by "
            f"{funded.payment_intent_id if funded else 'another intent'}: refund one of them."
        )
    if funded.status == S.FUNDED:
        milestone = _milestone(funded)
        if milestone is not None:
            notices.milestone_funded(milestone)  # keyed: the student is told once
    return funded, was_awaiting and funded.status == S.FUNDED


def _payment_intent_succeeded(event: StripeEvent) -> WebhookOutcome:
    obj = _object(event)
    payment_intent_id = _str(obj, "id")
    escrow = escrow_for_stripe_object(
        payment_intent_id=payment_intent_id, escrow_id=_metadata_escrow_id(obj)
    )
    if escrow is None:
        return WebhookOutcome(note=f"no escrow for {payment_intent_id}", ignored=True)
    reference = _metadata(obj).get("reference", "")
    if escrow.payment_intent_id != payment_intent_id and reference not in ("", escrow.reference):
        # Named by an escrow id only, for another escrow (another environment on one account).
        return WebhookOutcome(
            note=f"{payment_intent_id} is for {reference}, not escrow {escrow.reference}",
            ignored=True,
        )
    escrow, funded_now = _fund_from_gateway(escrow, payment_intent_id)
    if funded_now:
        return WebhookOutcome(note=f"escrow {escrow.reference} funded", escrow=escrow)
    return WebhookOutcome(note=f"escrow {escrow.reference} already {escrow.status}", escrow=escrow)


def _payment_intent_payment_failed(event: StripeEvent) -> WebhookOutcome:
    obj = _object(event)
    payment_intent_id = _str(obj, "id")
    error = obj.get("last_payment_error")
    error = error if isinstance(error, dict) else {}
    decline_code = _str(error, "decline_code") or _str(error, "code") or "unknown"
    escrow = escrow_for_stripe_object(
        payment_intent_id=payment_intent_id, escrow_id=_metadata_escrow_id(obj)
    )
    if escrow is None:
        return WebhookOutcome(note=f"declined: {decline_code}; no escrow", ignored=True)
    # A failure reported after a later attempt succeeded is old news.
    intent = get_gateway().retrieve_payment_intent(payment_intent_id=payment_intent_id)
    if escrow.status != S.AWAITING_FUNDING or (intent is not None and intent.status == SUCCEEDED):
        return WebhookOutcome(
            note=f"declined: {decline_code}; escrow {escrow.reference} is {escrow.status}",
            escrow=escrow,
            ignored=True,
        )
    milestone = _milestone(escrow)
    if milestone is not None:
        notices.payment_failed(milestone, decline_code=decline_code, event_id=event.event_id)
    return WebhookOutcome(note=f"declined: {decline_code}", escrow=escrow)


def _charge_refunded(event: StripeEvent) -> WebhookOutcome:
    """The charge's `amount_refunded` is a running total that only grows, so the payload is
    trusted as a lower bound: an older event reports less and records nothing."""
    obj = _object(event)
    escrow = escrow_for_stripe_object(
        payment_intent_id=_id(obj.get("payment_intent")), charge_id=_str(obj, "id")
    )
    if escrow is None:
        return WebhookOutcome(note=f"no escrow for {_str(obj, 'id')}", ignored=True)
    refunds = obj.get("refunds")
    data = refunds.get("data") if isinstance(refunds, dict) else None
    refund_id = _id(data[0]) if isinstance(data, list) and data else ""
    recorded = escrow_record_external_refund(
        escrow_id=escrow.pk,
        amount_refunded=_amount(obj, "amount_refunded"),
        currency=_currency(obj),
        refund_id=refund_id,
    )
    if not recorded:
        return WebhookOutcome(note="refund already recorded", escrow=escrow, ignored=True)
    escrow.refresh_from_db()
    payment_notices.refunded_outside(escrow)
    _settle_contract_if_done(escrow)
    return WebhookOutcome(
        note=f"escrow {escrow.reference} refunded outside the platform", escrow=escrow
    )


def _dispute_escrow(obj: dict[str, Any]) -> Escrow | None:
    escrow = escrow_for_stripe_object(
        payment_intent_id=_id(obj.get("payment_intent")), charge_id=_id(obj.get("charge"))
    )
    if escrow is not None and escrow.status == S.AWAITING_FUNDING:
        # The dispute overtook the payment's own event: fund from Stripe's word first.
        payment_intent_id = escrow.payment_intent_id or _id(obj.get("payment_intent"))
        if not payment_intent_id:
            raise StateConflict(f"Escrow {escrow.reference} is disputed but not funded.")
        escrow, _ = _fund_from_gateway(escrow, payment_intent_id)
    return escrow


def _chargeback_open(obj: dict[str, Any], escrow: Escrow) -> tuple[Chargeback, bool]:
    return chargeback_open(
        escrow_id=escrow.pk,
        dispute_id=_str(obj, "id"),
        charge_id=_id(obj.get("charge")),
        amount_cents=_amount(obj, "amount"),
        currency=_currency(obj),
        reason=_str(obj, "reason"),
    )


def _charge_dispute_created(event: StripeEvent) -> WebhookOutcome:
    obj = _object(event)
    escrow = _dispute_escrow(obj)
    if escrow is None:
        return WebhookOutcome(note=f"no escrow for dispute {_str(obj, 'id')}", ignored=True)
    chargeback, created = _chargeback_open(obj, escrow)
    if not created:
        return WebhookOutcome(note=f"chargeback {chargeback.dispute_id} known", escrow=escrow)
    payment_notices.chargeback_opened(chargeback)
    held = "frozen" if chargeback.funds_held else "already paid out: the platform is exposed"
    return WebhookOutcome(note=f"chargeback {chargeback.dispute_id}: {held}", escrow=escrow)


# https://docs.stripe.com/api/disputes/object#dispute_object-status: a closed
# inquiry (`warning_closed`) never took the money.
DISPUTE_WON = {"won", "warning_closed"}
DISPUTE_LOST = {"lost"}


def _charge_dispute_closed(event: StripeEvent) -> WebhookOutcome:
    obj = _object(event)
    status = _str(obj, "status")
    if status not in DISPUTE_WON | DISPUTE_LOST:
        raise ValidationFailed(f"A closed dispute cannot be {status or 'without a status'}.")
    escrow = _dispute_escrow(obj)
    if escrow is None:
        return WebhookOutcome(note=f"no escrow for dispute {_str(obj, 'id')}", ignored=True)
    # Closed may overtake created: the chargeback is recorded first either way.
    opened, _ = _chargeback_open(obj, escrow)
    if opened.status != Chargeback.Status.OPEN:
        return WebhookOutcome(
            note=f"chargeback {opened.dispute_id} already {opened.status}", escrow=escrow
        )
    marketplace_dispute = Dispute.objects.filter(
        milestone__escrow_id=escrow.pk, status=Dispute.Status.OPEN
    ).exists()
    chargeback = chargeback_close(
        dispute_id=opened.dispute_id, won=status in DISPUTE_WON, keep_frozen=marketplace_dispute
    )
    chargeback.escrow.refresh_from_db()
    payment_notices.chargeback_closed(chargeback)
    if chargeback.escrow.status == S.REFUNDED:
        _settle_contract_if_done(chargeback.escrow)
    return WebhookOutcome(
        note=f"chargeback {chargeback.dispute_id} {chargeback.status}; "
        f"escrow {chargeback.escrow.reference} {chargeback.escrow.status}",
        escrow=chargeback.escrow,
    )


def _transfer_reversed(event: StripeEvent) -> WebhookOutcome:
    """The gateway's transfer read has no `amount_reversed`; the payload's running total only
    grows, so an older event posts nothing."""
    obj = _object(event)
    transfer_id = _str(obj, "id")
    escrow = escrow_for_stripe_object(transfer_id=transfer_id)
    if escrow is None:
        return WebhookOutcome(note=f"no escrow for {transfer_id}", ignored=True)
    txn = escrow_record_transfer_reversal(
        escrow_id=escrow.pk,
        transfer_id=transfer_id,
        amount_reversed=_amount(obj, "amount_reversed"),
        currency=_currency(obj),
    )
    if txn is None:
        return WebhookOutcome(note="reversal already recorded", escrow=escrow, ignored=True)
    amount = sum(e.amount_cents for e in txn.entries.all() if e.amount_cents > 0)
    payment_notices.transfer_reversed(escrow, transfer_id=transfer_id, amount_cents=amount)
    return WebhookOutcome(note=f"{amount} reversed from {transfer_id}", escrow=escrow)


def _account_updated(event: StripeEvent) -> WebhookOutcome:
    """The event's account may be stale (events arrive in any order), so Stripe's current
    account decides: `payout_account_refresh` reads it back (`retrieve_account`,
    https://docs.stripe.com/api/accounts/retrieve) and records it. The transfers of the
    money waiting for a ready account are made once the event's transaction committed
    (`escrow_release_pending_for_payee`, as `then`), which tells the student and completes
    finished contracts through `milestones_released_late`."""
    account_id = _str(_object(event), "id") or event.account
    account = payout_account_by_account_id(account_id=account_id)
    if account is None:
        return WebhookOutcome(note=f"{account_id} is no payout account of ours", ignored=True)
    refreshed = payout_account_refresh(user=account.user, release_waiting=False) or account
    state = "enabled" if refreshed.payouts_enabled else "not enabled"
    release = (
        partial(escrow_release_pending_for_payee, user_id=account.user_id)
        if refreshed.payouts_enabled
        else None
    )
    return WebhookOutcome(note=f"payouts {state} for {account_id}", then=release)


def _payout_failed(event: StripeEvent) -> WebhookOutcome:
    obj = _object(event)
    account = payout_account_by_account_id(account_id=event.account)
    if account is None:
        return WebhookOutcome(note="not a payout of a student's account", ignored=True)
    payout_id = _str(obj, "id")
    failure_code = _str(obj, "failure_code") or "unknown"
    payment_notices.payout_failed(
        account,
        payout_id=payout_id,
        amount_cents=_amount(obj, "amount"),
        currency=_currency(obj),
        failure_code=failure_code,
    )
    return WebhookOutcome(note=f"payout {payout_id} failed: {failure_code}")


HANDLERS: dict[str, WebhookHandler] = {
    "payment_intent.succeeded": _payment_intent_succeeded,
    "payment_intent.payment_failed": _payment_intent_payment_failed,
    "charge.refunded": _charge_refunded,
    "charge.dispute.created": _charge_dispute_created,
    "charge.dispute.closed": _charge_dispute_closed,
    "transfer.reversed": _transfer_reversed,
    "account.updated": _account_updated,
    "payout.failed": _payout_failed,
}


def payment_events_register() -> None:
    """Give `payments` this app's handler of each event type and its late-release listener.

    Called by ContractsConfig.ready.
    """
    for event_type, handler in HANDLERS.items():
        webhook_handler_register(event_type=event_type, handler=handler)
    escrow_late_release_listener_register(listener=milestones_released_late)
