"""An in-process gateway for the offline demo and fast tests.

It keeps Stripe's states and test payment methods: `pm_card_visa` (and the
other succeeding test cards) succeeds, `pm_card_chargeDeclined` is declined
with `card_declined`, an unknown payment method is a 400, no payment method
leaves the intent in `requires_payment_method` with a client secret (a later
call with the same key and a payment method confirms it, as Stripe.js would).
Connected accounts are ready at once.

Like Stripe it remembers what it did: every object is a `DummyGatewayObject`
row, which the `retrieve_*` reads answer from (reconciliation compares the
ledger with them). Ids derive from the idempotency key, and a repeated key
answers the object first created under it, never a second one; reusing a key
for a different request (another kind, amount, currency or destination)
raises IdempotencyConflict, as Stripe answers `idempotency_error`. The rows
are written in the caller's database transaction.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings

from marketplace.errors import ValidationFailed
from payments.gateways.base import (
    AccountStatus,
    IdempotencyConflict,
    PaymentDeclined,
    PaymentIntentResult,
    RefundResult,
    TransferResult,
)
from payments.models import DummyGatewayObject

Kind = DummyGatewayObject.Kind

DECLINING_PAYMENT_METHODS = {
    "pm_card_chargeDeclined": "card_declined",
    "pm_card_chargeDeclinedInsufficientFunds": "insufficient_funds",
    "pm_card_chargeDeclinedExpiredCard": "expired_card",
}
# Stripe's test payment methods that succeed (https://docs.stripe.com/testing#cards).
SUCCEEDING_PAYMENT_METHODS = frozenset(
    {
        "pm_card_visa",
        "pm_card_visa_debit",
        "pm_card_mastercard",
        "pm_card_mastercard_debit",
        "pm_card_amex",
        "pm_card_discover",
        "pm_card_fr",
        "pm_card_fr_cartesBancaires",
    }
)
REQUIRES_PAYMENT_METHOD = "requires_payment_method"
SUCCEEDED = "succeeded"


def _id(prefix: str, key: str) -> str:
    return f"{prefix}_dummy_{hashlib.sha256(key.encode()).hexdigest()[:20]}"


def _stored(*, key: str, kind: str, prefix: str, **params: Any) -> DummyGatewayObject:
    """The object created under `key`, created now from `params` if there is none yet."""
    obj, created = DummyGatewayObject.objects.get_or_create(
        idempotency_key=key, defaults={"kind": kind, "object_id": _id(prefix, key), **params}
    )
    if created:
        return obj
    compared = {name: value for name, value in params.items() if name not in ("metadata", "status")}
    if obj.kind != kind or any(getattr(obj, name) != value for name, value in compared.items()):
        raise IdempotencyConflict(
            f"Keys for idempotent requests can only be used with the same parameters: {key}."
        )
    return obj


def _intent(obj: DummyGatewayObject) -> PaymentIntentResult:
    secret = f"{obj.object_id}_secret_{hashlib.sha256(obj.object_id.encode()).hexdigest()[:12]}"
    return PaymentIntentResult(
        obj.object_id,
        obj.status,
        secret,
        charge_id=_id("ch", obj.idempotency_key) if obj.status == SUCCEEDED else "",
        amount=obj.amount,
        currency=obj.currency,
    )


def _transfer(obj: DummyGatewayObject) -> TransferResult:
    return TransferResult(
        id=obj.object_id,
        amount=obj.amount,
        currency=obj.currency,
        destination=obj.destination,
        source_transaction=obj.source,
        transfer_group=obj.transfer_group,
    )


def _refund(obj: DummyGatewayObject) -> RefundResult:
    return RefundResult(
        id=obj.object_id,
        amount=obj.amount,
        currency=obj.currency,
        status=obj.status,
        payment_intent=obj.source,
    )


class DummyGateway:
    name = "dummy"

    def create_payment_intent(
        self,
        *,
        amount: int,
        currency: str,
        metadata: dict[str, str],
        idempotency_key: str,
        payment_method: str | None = None,
    ) -> PaymentIntentResult:
        obj = _stored(
            key=idempotency_key,
            kind=Kind.PAYMENT_INTENT,
            prefix="pi",
            amount=amount,
            currency=currency,
            status=REQUIRES_PAYMENT_METHOD,
            metadata=dict(metadata),
        )
        if payment_method is None or obj.status == SUCCEEDED:
            return _intent(obj)
        if payment_method in DECLINING_PAYMENT_METHODS:
            raise PaymentDeclined(
                "Your card was declined.", decline_code=DECLINING_PAYMENT_METHODS[payment_method]
            )
        if payment_method not in SUCCEEDING_PAYMENT_METHODS:
            # Stripe answers 400 resource_missing for a payment method it does not know.
            raise ValidationFailed(
                f"No such PaymentMethod: '{payment_method}'.", field="payment_method"
            )
        obj.status = SUCCEEDED
        obj.save(update_fields=["status"])
        return _intent(obj)

    def create_transfer(
        self,
        *,
        amount: int,
        currency: str,
        destination: str,
        source_transaction: str,
        transfer_group: str,
        idempotency_key: str,
    ) -> str:
        return _stored(
            key=idempotency_key,
            kind=Kind.TRANSFER,
            prefix="tr",
            amount=amount,
            currency=currency,
            destination=destination,
            source=source_transaction,
            transfer_group=transfer_group,
            status="paid",
        ).object_id

    def create_refund(self, *, payment_intent_id: str, amount: int, idempotency_key: str) -> str:
        intent = DummyGatewayObject.objects.filter(
            object_id=payment_intent_id, kind=Kind.PAYMENT_INTENT
        ).first()
        return _stored(
            key=idempotency_key,
            kind=Kind.REFUND,
            prefix="re",
            amount=amount,
            currency=intent.currency if intent is not None else "",
            source=payment_intent_id,
            status=SUCCEEDED,
        ).object_id

    def create_account(self, *, email: str, country: str, idempotency_key: str) -> AccountStatus:
        obj = _stored(
            key=idempotency_key,
            kind=Kind.ACCOUNT,
            prefix="acct",
            status="enabled",
            metadata={"email": email, "country": country},
        )
        return AccountStatus(obj.object_id, payouts_enabled=obj.status == "enabled")

    def create_account_link(self, *, account_id: str, refresh_url: str, return_url: str) -> str:
        return f"{settings.SITE_URL}/payouts/return/?account={account_id}"

    def retrieve_payment_intent(self, *, payment_intent_id: str) -> PaymentIntentResult | None:
        obj = DummyGatewayObject.objects.filter(
            object_id=payment_intent_id, kind=Kind.PAYMENT_INTENT
        ).first()
        return _intent(obj) if obj is not None else None

    def retrieve_transfer(self, *, transfer_id: str) -> TransferResult | None:
        obj = DummyGatewayObject.objects.filter(object_id=transfer_id, kind=Kind.TRANSFER).first()
        return _transfer(obj) if obj is not None else None

    def retrieve_refund(self, *, refund_id: str) -> RefundResult | None:
        obj = DummyGatewayObject.objects.filter(object_id=refund_id, kind=Kind.REFUND).first()
        return _refund(obj) if obj is not None else None
