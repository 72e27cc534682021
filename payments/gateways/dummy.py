"""An in-process gateway for the offline demo and fast tests, with the states of Stripe.

It keeps Stripe's test payment methods (https://docs.stripe.com/testing#cards):
`pm_card_visa` (and the other succeeding test cards) succeeds,
`pm_card_chargeDeclined` is declined with `card_declined`, an unknown payment
method is a 400, and no payment method leaves the intent in
`requires_payment_method` with a client secret, to be confirmed later with
`confirm_payment_intent` (as Stripe.js, or the server, would). Connected
accounts are ready at once, and Stripe charges no fee here.

Like Stripe it remembers what it did: every object is a `DummyGatewayObject`
row, which the `retrieve_*` reads answer from (reconciliation compares the
ledger with them). Ids derive from the idempotency key, and a repeated key
answers the object first created under it, never a second one. As with
Stripe's idempotency layer (https://docs.stripe.com/api/idempotent_requests),
a key reused for a different request raises IdempotencyConflict: another
endpoint, or any other parameter (amount, currency, metadata, destination, or
a payment method where the first request had none). Each request's parameters
are kept per key under the object's `metadata["[requests]"]`; Stripe forbids
square brackets in metadata keys, so no caller's key can collide with it. One
difference: a replay answers the object as it is now, where Stripe replays the
first response as it was. Each request is one atomic block of its own, as
Stripe's requests are: the escrow services call the gateway with no
transaction open (`payments.services.escrow`), so what a request did stays
done whatever becomes of the caller's next transaction, as at Stripe; a
declined payment's intent and answer are kept too. (Called inside a
transaction, the block is a savepoint of it.)

Webhooks are signed as Stripe signs them (https://docs.stripe.com/webhooks#verify-manually):
`Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import transaction

from marketplace.errors import ValidationFailed
from payments.gateways.base import (
    AccountStatus,
    GatewayMisconfigured,
    IdempotencyConflict,
    PaymentDeclined,
    PaymentIntentResult,
    RefundResult,
    TransferResult,
    WebhookSignatureInvalid,
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
# The parameters of each request, per idempotency key, inside an object's metadata.
REQUESTS = "[requests]"
# Stripe's tolerance for a webhook's timestamp (the SDK's Webhook.DEFAULT_TOLERANCE).
WEBHOOK_TOLERANCE_SECONDS = 300


def _id(prefix: str, key: str) -> str:
    return f"{prefix}_dummy_{hashlib.sha256(key.encode()).hexdigest()[:20]}"


def _conflict(key: str) -> IdempotencyConflict:
    # Stripe's message for an idempotency_error.
    return IdempotencyConflict(
        "Keys for idempotent requests can only be used with the same parameters they were "
        f"first used with. Try using a key other than '{key}' if you meant to execute a "
        "different request."
    )


def _requests(obj: DummyGatewayObject) -> dict[str, Any]:
    recorded = obj.metadata.get(REQUESTS) if isinstance(obj.metadata, dict) else None
    return recorded if isinstance(recorded, dict) else {}


def _stored(
    *,
    key: str,
    kind: str,
    prefix: str,
    request: dict[str, Any],
    metadata: Mapping[str, str] | None = None,
    **columns: Any,
) -> DummyGatewayObject:
    """The object created under `key`, created now if there is none yet.

    `request` is every parameter of the creating request (compared on a replay),
    `columns` the object's fields. Raises IdempotencyConflict when the key was
    used for another kind of object or with other parameters.
    """
    obj, created = DummyGatewayObject.objects.get_or_create(
        idempotency_key=key,
        defaults={
            "kind": kind,
            "object_id": _id(prefix, key),
            "metadata": {**(metadata or {}), REQUESTS: {key: request}},
            **columns,
        },
    )
    if created:
        return obj
    if obj.kind != kind:
        raise _conflict(key)
    recorded = _requests(obj).get(key)
    if recorded is None:
        # A row stored before requests were recorded: compare what its columns kept.
        compared = {name: value for name, value in columns.items() if name != "status"}
        same = all(getattr(obj, name) == value for name, value in compared.items())
    else:
        same = recorded == request
    if not same:
        raise _conflict(key)
    return obj


def _record_request(obj: DummyGatewayObject, key: str, request: dict[str, Any]) -> None:
    metadata = dict(obj.metadata) if isinstance(obj.metadata, dict) else {}
    metadata[REQUESTS] = {**_requests(obj), key: request}
    obj.metadata = metadata


def _charge(payment_method: str) -> None:
    """Raise as Stripe would for `payment_method`: declined (402) or unknown (400)."""
    if payment_method in DECLINING_PAYMENT_METHODS:
        raise PaymentDeclined(
            "Your card was declined.", decline_code=DECLINING_PAYMENT_METHODS[payment_method]
        )
    if payment_method not in SUCCEEDING_PAYMENT_METHODS:
        # Stripe answers 400 resource_missing for a payment method it does not know.
        raise ValidationFailed(
            f"No such PaymentMethod: '{payment_method}'.", field="payment_method"
        )


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


def _signature_parts(header: str) -> tuple[int, list[str]]:
    """`(t, [v1 signatures])` of a Stripe-Signature header; WebhookSignatureInvalid if garbled."""
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                timestamp = None
        elif name == "v1":
            signatures.append(value)
    if timestamp is None:
        raise WebhookSignatureInvalid(
            "The Stripe-Signature header has no timestamp.", field="Stripe-Signature"
        )
    if not signatures:
        raise WebhookSignatureInvalid(
            "The Stripe-Signature header has no v1 signature.", field="Stripe-Signature"
        )
    return timestamp, signatures


class DummyGateway:
    """PaymentGateway kept in the database, shaped like Stripe (see the module docstring)."""

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
        """Like https://docs.stripe.com/api/payment_intents/create, confirmed when given a method.

        Raises PaymentDeclined for a declining test card (the intent stays
        `requires_payment_method`, kept with its key), ValidationFailed for an
        unknown one (nothing is created, as for Stripe's 400) and
        IdempotencyConflict for a key first used with other parameters.
        """
        if payment_method is not None and payment_method not in DECLINING_PAYMENT_METHODS:
            _charge(payment_method)  # an unknown payment method: 400, nothing created
        with transaction.atomic():
            obj = _stored(
                key=idempotency_key,
                kind=Kind.PAYMENT_INTENT,
                prefix="pi",
                request={
                    "endpoint": "payment_intents.create",
                    "amount": amount,
                    "currency": currency,
                    "metadata": dict(metadata),
                    "payment_method": payment_method,
                },
                metadata=metadata,
                amount=amount,
                currency=currency,
                status=REQUIRES_PAYMENT_METHOD,
            )
            charged = payment_method is not None and payment_method not in DECLINING_PAYMENT_METHODS
            if charged and obj.status != SUCCEEDED:
                obj.status = SUCCEEDED
                obj.save(update_fields=["status"])
        if payment_method is not None and obj.status != SUCCEEDED:
            _charge(payment_method)  # declined: the intent and its key are kept
        return _intent(obj)

    def confirm_payment_intent(
        self, *, payment_intent_id: str, payment_method: str, idempotency_key: str
    ) -> PaymentIntentResult:
        """Charge `payment_method` on an intent waiting for one (https://docs.stripe.com/api/payment_intents/confirm).

        An intent that already succeeded is answered unchanged, without using
        the key (the Stripe gateway reads the intent first and writes nothing
        then). Raises PaymentDeclined for a declining test card (the intent
        stays `requires_payment_method`, and can be confirmed again under
        another key), ValidationFailed for an unknown intent or payment method,
        and IdempotencyConflict for a key used by another request.
        """
        with transaction.atomic():
            obj = (
                DummyGatewayObject.objects.select_for_update()
                .filter(object_id=payment_intent_id, kind=Kind.PAYMENT_INTENT)
                .first()
            )
            if obj is None:
                raise ValidationFailed(
                    f"No such payment_intent: '{payment_intent_id}'.", field="payment_intent"
                )
            if obj.status == SUCCEEDED:
                return _intent(obj)
            request = {
                "endpoint": "payment_intents.confirm",
                "payment_intent": payment_intent_id,
                "payment_method": payment_method,
            }
            recorded = _requests(obj).get(idempotency_key)
            used_elsewhere = (
                DummyGatewayObject.objects.filter(idempotency_key=idempotency_key).exists()
                or DummyGatewayObject.objects.filter(
                    kind=Kind.PAYMENT_INTENT, **{f"metadata__{REQUESTS}__has_key": idempotency_key}
                )
                .exclude(pk=obj.pk)
                .exists()
            )
            if used_elsewhere or (recorded is not None and recorded != request):
                raise _conflict(idempotency_key)
            declined = payment_method in DECLINING_PAYMENT_METHODS
            if not declined:
                _charge(payment_method)  # raises for an unknown payment method
                obj.status = SUCCEEDED
            # Stripe keeps a declined confirmation's answer under its key, and so do we.
            _record_request(obj, idempotency_key, request)
            obj.save(update_fields=["status", "metadata"])
        if declined:
            _charge(payment_method)  # raises PaymentDeclined, the answer kept
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
        """Like https://docs.stripe.com/api/transfers/create; paid at once."""
        return _stored(
            key=idempotency_key,
            kind=Kind.TRANSFER,
            prefix="tr",
            request={
                "endpoint": "transfers.create",
                "amount": amount,
                "currency": currency,
                "destination": destination,
                "source_transaction": source_transaction,
                "transfer_group": transfer_group,
            },
            amount=amount,
            currency=currency,
            destination=destination,
            source=source_transaction,
            transfer_group=transfer_group,
            status="paid",
        ).object_id

    def create_refund(self, *, payment_intent_id: str, amount: int, idempotency_key: str) -> str:
        """Like https://docs.stripe.com/api/refunds/create; succeeds at once.

        As Stripe, it refuses (ValidationFailed, field named) a refund of an
        unknown intent, of an intent that has not succeeded, or of more than
        what is left of its charge, so refunds never exceed what was charged.
        """
        with transaction.atomic():
            return self._refund(payment_intent_id, amount, idempotency_key)

    def _refund(self, payment_intent_id: str, amount: int, idempotency_key: str) -> str:
        request = {
            "endpoint": "refunds.create",
            "payment_intent": payment_intent_id,
            "amount": amount,
        }
        # The intent's lock first, then the key: a request racing one with the same key
        # waits, then is answered the refund that one made (as Stripe answers).
        intent = (
            DummyGatewayObject.objects.select_for_update()
            .filter(object_id=payment_intent_id, kind=Kind.PAYMENT_INTENT)
            .first()
        )
        existing = DummyGatewayObject.objects.filter(idempotency_key=idempotency_key).first()
        if existing is None:
            if intent is None:
                raise ValidationFailed(
                    f"No such payment_intent: '{payment_intent_id}'.", field="payment_intent"
                )
            if intent.status != SUCCEEDED:
                raise ValidationFailed(
                    f"This PaymentIntent ({payment_intent_id}) does not have a successful "
                    "charge to refund.",
                    field="payment_intent",
                )
            refunded = sum(
                DummyGatewayObject.objects.filter(
                    kind=Kind.REFUND, source=payment_intent_id
                ).values_list("amount", flat=True)
            )
            if amount <= 0 or refunded + amount > intent.amount:
                raise ValidationFailed(
                    f"Refund amount ({amount}) is greater than the unrefunded amount on the "
                    f"charge ({intent.amount - refunded}).",
                    field="amount",
                )
            currency = intent.currency
        else:
            currency = existing.currency
        return _stored(
            key=idempotency_key,
            kind=Kind.REFUND,
            prefix="re",
            request=request,
            amount=amount,
            currency=currency,
            source=payment_intent_id,
            status=SUCCEEDED,
        ).object_id

    def create_account(
        self,
        *,
        email: str,
        country: str,
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
    ) -> AccountStatus:
        """Like https://docs.stripe.com/api/accounts/create, but ready to be paid at once."""
        obj = _stored(
            key=idempotency_key,
            kind=Kind.ACCOUNT,
            prefix="acct",
            request={
                "endpoint": "accounts.create",
                "email": email,
                "country": country,
                "metadata": dict(metadata or {}),
            },
            metadata=metadata,
            status="enabled",
        )
        return AccountStatus(obj.object_id, payouts_enabled=obj.status == "enabled")

    def create_account_link(self, *, account_id: str, refresh_url: str, return_url: str) -> str:
        """Onboarding is instant here: the link is the return page itself."""
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

    def retrieve_account(self, *, account_id: str) -> AccountStatus | None:
        obj = DummyGatewayObject.objects.filter(object_id=account_id, kind=Kind.ACCOUNT).first()
        return AccountStatus(obj.object_id, obj.status == "enabled") if obj is not None else None

    def retrieve_charge_fee(self, *, charge_id: str) -> int | None:
        """The dummy charges no fee: 0 for any charge."""
        return 0

    def construct_event(
        self, *, payload: bytes, signature: str, secret: str | None = None
    ) -> dict[str, Any]:
        """Verify a `Stripe-Signature` header as Stripe specifies it and return the event.

        https://docs.stripe.com/webhooks#verify-manually: the header is
        `t=<timestamp>,v1=<signature>[,v1=…]`; a v1 must equal the hex
        HMAC-SHA256 of `"<t>.<raw body>"` keyed with the endpoint's `secret`
        (None: STRIPE_WEBHOOK_SECRET, as the Stripe gateway), compared in
        constant time, and `t` must be no more than 300 s old. Raises
        WebhookSignatureInvalid (400) otherwise or for a body that is not a
        JSON event, and GatewayMisconfigured when the secret is empty.
        """
        key = settings.STRIPE_WEBHOOK_SECRET if secret is None else secret
        if not key:
            raise GatewayMisconfigured(
                "The webhook signing secret is not set: webhooks cannot be read."
            )
        timestamp, signatures = _signature_parts(signature or "")
        try:
            signed = f"{timestamp}.{payload.decode('utf-8')}"
        except UnicodeDecodeError as exc:
            raise WebhookSignatureInvalid("The webhook body is not UTF-8 text.") from exc
        expected = hmac.new(key.encode(), signed.encode(), hashlib.sha256).hexdigest()
        if not any(hmac.compare_digest(expected, given) for given in signatures):
            raise WebhookSignatureInvalid(
                "The Stripe-Signature header does not verify.", field="Stripe-Signature"
            )
        if timestamp < time.time() - WEBHOOK_TOLERANCE_SECONDS:
            raise WebhookSignatureInvalid(
                "The Stripe-Signature timestamp is older than 300 seconds.",
                field="Stripe-Signature",
            )
        try:
            event = json.loads(payload)
        except ValueError as exc:
            raise WebhookSignatureInvalid("The webhook body is not JSON.") from exc
        if (
            not isinstance(event, dict)
            or event.get("object") != "event"
            or not isinstance(event.get("id"), str)
            or not isinstance(event.get("type"), str)
        ):
            raise WebhookSignatureInvalid("The webhook body is not a Stripe event.")
        return event
