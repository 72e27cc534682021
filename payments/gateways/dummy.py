"""An in-process gateway for the offline demo and fast tests.

It keeps Stripe's states and test payment methods: `pm_card_visa` succeeds,
`pm_card_chargeDeclined` is declined with `card_declined`, no payment method
leaves the intent in `requires_payment_method` with a client secret. Ids derive
from the idempotency key, so a repeated call answers the same object, as Stripe
does for a repeated key. Connected accounts are ready at once.
"""

from __future__ import annotations

import hashlib

from django.conf import settings

from payments.gateways.base import AccountStatus, PaymentDeclined, PaymentIntentResult

DECLINING_PAYMENT_METHODS = {
    "pm_card_chargeDeclined": "card_declined",
    "pm_card_chargeDeclinedInsufficientFunds": "insufficient_funds",
    "pm_card_chargeDeclinedExpiredCard": "expired_card",
}


def _id(prefix: str, key: str) -> str:
    return f"{prefix}_dummy_{hashlib.sha256(key.encode()).hexdigest()[:20]}"


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
        pi_id = _id("pi", idempotency_key)
        secret = f"{pi_id}_secret_{hashlib.sha256(pi_id.encode()).hexdigest()[:12]}"
        if payment_method is None:
            return PaymentIntentResult(pi_id, "requires_payment_method", secret)
        if payment_method in DECLINING_PAYMENT_METHODS:
            raise PaymentDeclined(
                "Your card was declined.", decline_code=DECLINING_PAYMENT_METHODS[payment_method]
            )
        if not payment_method.startswith("pm_"):
            raise PaymentDeclined("No such payment method.", decline_code="invalid_payment_method")
        return PaymentIntentResult(pi_id, "succeeded", secret, charge_id=_id("ch", idempotency_key))

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
        return _id("tr", idempotency_key)

    def create_refund(self, *, payment_intent_id: str, amount: int, idempotency_key: str) -> str:
        return _id("re", idempotency_key)

    def create_account(self, *, email: str, country: str, idempotency_key: str) -> AccountStatus:
        return AccountStatus(_id("acct", idempotency_key), payouts_enabled=True)

    def create_account_link(self, *, account_id: str, refresh_url: str, return_url: str) -> str:
        return f"{settings.SITE_URL}/payouts/return/?account={account_id}"
