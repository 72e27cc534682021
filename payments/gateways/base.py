"""The payment gateway seam: what the escrow services need from a provider.

Amounts are integer minor units; currencies are ISO 4217 codes (upper case here,
lowered by the Stripe gateway). Every write takes an idempotency key built from
our own row ids, so a retried call never moves money twice; reusing a key for a
different request raises IdempotencyConflict. The `retrieve_*` reads answer
None for an object the gateway does not have and raise TransientError when the
gateway cannot answer now.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from marketplace.errors import DomainError, PaymentFailed, StateConflict, ValidationFailed


class PaymentDeclined(PaymentFailed):
    """The card or payment method was refused; `decline_code` says why (Stripe's codes)."""

    def __init__(self, message: str, *, decline_code: str):
        super().__init__(message, field="payment_method", extra={"decline_code": decline_code})
        self.decline_code = decline_code


class IdempotencyConflict(StateConflict):
    """An idempotency key was used again for a different request (Stripe's idempotency_error)."""


class WebhookSignatureInvalid(ValidationFailed):
    """A webhook whose `Stripe-Signature` does not verify, is too old, or whose body is no event."""

    code = "webhook_signature_invalid"


class GatewayMisconfigured(DomainError):
    """The provider refused the platform itself (bad or restricted key, wrong API base).

    Answers 503 like a transient error, but it is deliberately not a TransientError:
    retrying cannot help until an operator fixes the configuration, so tasks give
    up (and leave a FailedTask row for staff) instead of retrying.
    """

    status_code = 503
    code = "payment_provider_misconfigured"


@dataclass(frozen=True)
class PaymentIntentResult:
    """A PaymentIntent as Stripe shapes it; `amount` in minor units of `currency`."""

    id: str
    status: str  # Stripe's PaymentIntent status: succeeded, requires_payment_method, ...
    client_secret: str
    charge_id: str = ""
    amount: int = 0
    currency: str = ""


@dataclass(frozen=True)
class TransferResult:
    """A Transfer to a connected account: `amount` in minor units, `destination` the account."""

    id: str
    amount: int
    currency: str
    destination: str
    source_transaction: str = ""
    transfer_group: str = ""


@dataclass(frozen=True)
class RefundResult:
    """A Refund of a PaymentIntent: `amount` in minor units, `status` as Stripe's (succeeded…)."""

    id: str
    amount: int
    currency: str
    status: str
    payment_intent: str = ""


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
        self,
        *,
        email: str,
        country: str,
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
    ) -> AccountStatus: ...

    def create_account_link(self, *, account_id: str, refresh_url: str, return_url: str) -> str: ...

    # Reads, for reconciliation: None when the gateway has no such object.

    def retrieve_payment_intent(self, *, payment_intent_id: str) -> PaymentIntentResult | None: ...

    def retrieve_transfer(self, *, transfer_id: str) -> TransferResult | None: ...

    def retrieve_refund(self, *, refund_id: str) -> RefundResult | None: ...

    def retrieve_account(self, *, account_id: str) -> AccountStatus | None: ...

    def retrieve_charge_fee(self, *, charge_id: str) -> int | None:
        """The provider's fee on a charge in the charge's minor units; None while unknown."""
        ...

    # Confirming an intent created earlier without a payment method: a second
    # create under the same idempotency key would be refused by Stripe.

    def confirm_payment_intent(
        self, *, payment_intent_id: str, payment_method: str, idempotency_key: str
    ) -> PaymentIntentResult: ...

    def construct_event(
        self, *, payload: bytes, signature: str, secret: str | None = None
    ) -> dict[str, Any]:
        """The verified webhook event as a dict; WebhookSignatureInvalid otherwise.

        `secret` is the signing secret of the endpoint that received it (the
        Connect endpoint has its own); None means the platform endpoint's.
        """
        ...
