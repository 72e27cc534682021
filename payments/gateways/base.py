"""The payment gateway seam: what the escrow services need from a provider.

Amounts are integer minor units; currencies are ISO 4217 codes (upper case here,
lowered by the Stripe gateway). Every write takes an idempotency key built from
our own row ids, so a retried call never moves money twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from marketplace.errors import PaymentFailed


class PaymentDeclined(PaymentFailed):
    """The card or payment method was refused; `decline_code` says why (Stripe's codes)."""

    def __init__(self, message: str, *, decline_code: str):
        super().__init__(message, field="payment_method", extra={"decline_code": decline_code})
        self.decline_code = decline_code


@dataclass(frozen=True)
class PaymentIntentResult:
    id: str
    status: str  # Stripe's PaymentIntent status: succeeded, requires_payment_method, ...
    client_secret: str
    charge_id: str = ""


@dataclass(frozen=True)
class AccountStatus:
    id: str
    payouts_enabled: bool


class PaymentGateway(Protocol):
    name: str

    def create_payment_intent(
        self,
        *,
        amount: int,
        currency: str,
        metadata: dict[str, str],
        idempotency_key: str,
        payment_method: str | None = None,
    ) -> PaymentIntentResult: ...

    def create_transfer(
        self,
        *,
        amount: int,
        currency: str,
        destination: str,
        source_transaction: str,
        transfer_group: str,
        idempotency_key: str,
    ) -> str: ...

    def create_refund(
        self, *, payment_intent_id: str, amount: int, idempotency_key: str
    ) -> str: ...

    def create_account(
        self, *, email: str, country: str, idempotency_key: str
    ) -> AccountStatus: ...

    def create_account_link(self, *, account_id: str, refresh_url: str, return_url: str) -> str: ...
