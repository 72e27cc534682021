"""The real Stripe gateway: the only module of the product that imports the `stripe` SDK.

Escrow is Stripe's "separate charges and transfers"
(https://docs.stripe.com/connect/separate-charges-and-transfers): a PaymentIntent
charges the company on the platform account, the money waits on the platform
balance, a Transfer (tied to the charge by `source_transaction`) pays the
student's connected account, and a Refund gives the money back.

Requests go through one `stripe.StripeClient` (stripe-python 16, resources under
`client.v1`), pointed at `STRIPE_API_BASE` when it is set (a local fake Stripe)
and retrying a bounded `MAX_NETWORK_RETRIES` times: the SDK retries connection
errors, 409 and 5xx with the same `Idempotency-Key`. Every write sends the
caller's idempotency key in the per-request options, so a repeated call answers
the object the first one created (https://docs.stripe.com/api/idempotent_requests).

Amounts: ours are integer minor units and so are Stripe's, zero-decimal
currencies included (JPY 5000 is ¥5000 for both, no ×100;
https://docs.stripe.com/currencies#zero-decimal), so amounts pass through
untouched. Currencies are lowered for Stripe and upper-cased back.

Only parameters that real Stripe documents and localstripe also accepts are
sent (no `automatic_payment_methods`, no `transfer_group` on the PaymentIntent,
no `application_fee_amount`, which separate charges and transfers never use).
There is no test-only branch: where the two answer differently (an expanded
`latest_charge`), both shapes are read.

Stripe errors become domain errors (https://docs.stripe.com/api/errors):

| Stripe                                   | domain                                      |
| ---------------------------------------- | ------------------------------------------- |
| CardError (402)                          | PaymentDeclined (decline_code, 402)         |
| IdempotencyError, type idempotency_error | IdempotencyConflict (409)                   |
| APIConnectionError, RateLimitError       | TransientError (503, retried later)         |
| APIError 5xx or 409, or no status        | TransientError                              |
| APIError other 4xx (a plain-text 404: no | GatewayMisconfigured (503, not retried):    |
| such endpoint at STRIPE_API_BASE)        | retrying cannot make the endpoint appear    |
| AuthenticationError, PermissionError     | GatewayMisconfigured                        |
| InvalidRequestError                      | ValidationFailed (field = Stripe's `param`) |
| ... resource_missing / 404 in retrieve_* | None                                        |
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import stripe
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from marketplace.errors import DomainError, TransientError, ValidationFailed
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

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

# Bounded: 3 attempts in all, the SDK sleeping 0.5 s to 5 s between them.
MAX_NETWORK_RETRIES = 2
# Per attempt; the SDK's default is 80 s, too long to hold a web request.
TIMEOUT_SECONDS = 30
# The SDK's tolerance for a webhook's timestamp (`t=` of Stripe-Signature): 300 s.
WEBHOOK_TOLERANCE_SECONDS: int = stripe.Webhook.DEFAULT_TOLERANCE
# PaymentIntent states in which confirming can still charge the payment method.
CONFIRMABLE_STATUSES = frozenset({"requires_payment_method", "requires_confirmation"})


@functools.cache
def _shared_http_client() -> stripe.HTTPClient:
    """One requests-based client per process, so connections are kept alive between gateways."""
    return stripe.RequestsClient(timeout=TIMEOUT_SECONDS)


def _object_id(value: Any) -> str:
    """An id from a reference Stripe sends as an id string, or as the object when expanded."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return str(value["id"])


def _minor_units(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise GatewayMisconfigured(f"Stripe answered a non-integer amount: {value!r}.")
    return value


def _currency(value: Any) -> str:
    return str(value or "").upper()


def _intent_result(intent: Any) -> PaymentIntentResult:
    # Real Stripe sends `latest_charge` as an id; localstripe expands it to the Charge.
    return PaymentIntentResult(
        id=intent.id,
        status=intent.status,
        client_secret=getattr(intent, "client_secret", None) or "",
        charge_id=_object_id(getattr(intent, "latest_charge", None)),
        amount=_minor_units(intent.amount),
        currency=_currency(intent.currency),
    )


def _account_status(account: Any) -> AccountStatus:
    capabilities = getattr(account, "capabilities", None)
    transfers = getattr(capabilities, "transfers", None) if capabilities is not None else None
    ready = bool(getattr(account, "payouts_enabled", False)) and transfers == "active"
    return AccountStatus(id=account.id, payouts_enabled=ready)


def _domain_error(exc: stripe.StripeError) -> DomainError:
    """The domain error for a Stripe error (the table in this module's docstring)."""
    error = exc.error
    error_type = getattr(error, "type", None) if error is not None else None
    message = exc.user_message or ""
    if isinstance(exc, stripe.CardError):
        decline_code = (
            (getattr(error, "decline_code", None) if error is not None else None)
            or exc.code
            or "card_declined"
        )
        return PaymentDeclined(message or "Your card was declined.", decline_code=decline_code)
    if isinstance(exc, stripe.IdempotencyError) or error_type == "idempotency_error":
        return IdempotencyConflict(
            message or "This idempotency key was already used for a different request."
        )
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError):
        return TransientError("Stripe cannot be reached right now; try again later.")
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        # Stripe's message would quote part of the key: keep it out of answers.
        return GatewayMisconfigured(
            "Stripe refused the platform's API key (STRIPE_SECRET_KEY): payments are misconfigured."
        )
    if isinstance(exc, stripe.InvalidRequestError):
        return ValidationFailed(
            message or "Stripe refused the request.",
            field=exc.param or None,
            extra={"provider_code": exc.code} if exc.code else None,
        )
    status = exc.http_status
    if status is None or status >= 500 or status == 409:
        return TransientError("Stripe failed to answer; try again later.")
    return GatewayMisconfigured(
        f"Stripe's API answered HTTP {status} without a Stripe error: this endpoint is "
        "missing at the configured STRIPE_API_BASE."
    )


def _translated(action: str, exc: stripe.StripeError) -> DomainError:
    error = _domain_error(exc)
    logger.warning(
        "stripe.request_failed",
        extra={
            "action": action,
            "http_status": exc.http_status,
            "stripe_code": exc.code,
            "stripe_request_id": exc.request_id,
            "domain_error": type(error).__name__,
        },
    )
    return error


def _call(action: str, request: Callable[[], _T]) -> _T:
    try:
        return request()
    except stripe.StripeError as exc:
        raise _translated(action, exc) from exc


def _retrieve(action: str, request: Callable[[], _T]) -> _T | None:
    """A read by id: None when Stripe answers that the object does not exist.

    That is `resource_missing`, or any Stripe-shaped (JSON) 404 on the read: a
    GET by id has no other 404 (localstripe sends its 404 without a code). A
    plain-text 404 is not a Stripe error body: the endpoint itself is missing.
    """
    try:
        return request()
    except stripe.InvalidRequestError as exc:
        if exc.code == "resource_missing" or exc.http_status == 404:
            return None
        raise _translated(action, exc) from exc
    except stripe.StripeError as exc:
        raise _translated(action, exc) from exc


class StripeGateway:
    """PaymentGateway on the Stripe API (stripe-python 16, `StripeClient`)."""

    name = "stripe"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        api_base: str | None = None,
        webhook_secret: str | None = None,
        http_client: stripe.HTTPClient | None = None,
        max_network_retries: int = MAX_NETWORK_RETRIES,
    ) -> None:
        """Defaults come from settings: STRIPE_SECRET_KEY, STRIPE_API_BASE, STRIPE_WEBHOOK_SECRET.

        `http_client` replaces the HTTP layer (tests record requests with it).
        Raises ImproperlyConfigured without a secret (`sk_`) or restricted (`rk_`) key.
        """
        key = settings.STRIPE_SECRET_KEY if api_key is None else api_key
        if not key.startswith(("sk_", "rk_")):
            raise ImproperlyConfigured(
                "STRIPE_SECRET_KEY must be a secret (sk_) or restricted (rk_) Stripe key."
            )
        base = settings.STRIPE_API_BASE if api_base is None else api_base
        self._webhook_secret = (
            settings.STRIPE_WEBHOOK_SECRET if webhook_secret is None else webhook_secret
        )
        self._client = stripe.StripeClient(
            key,
            base_addresses={"api": base.rstrip("/")} if base else None,
            max_network_retries=max_network_retries,
            http_client=http_client or _shared_http_client(),
        )

    # Payments on the platform account.

    def create_payment_intent(
        self,
        *,
        amount: int,
        currency: str,
        metadata: dict[str, str],
        idempotency_key: str,
        payment_method: str | None = None,
    ) -> PaymentIntentResult:
        """Create a card PaymentIntent; with `payment_method`, confirm it in the same request.

        https://docs.stripe.com/api/payment_intents/create. Without a payment
        method the intent is `requires_payment_method` and its `client_secret`
        lets Stripe.js collect one; confirm it later with `confirm_payment_intent`
        (not with a second create under the same key: Stripe answers that key's
        first result, or idempotency_error if the parameters differ).
        Raises PaymentDeclined when the card is refused.
        """
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency.lower(),
            "payment_method_types": ["card"],
            "metadata": dict(metadata),
        }
        if payment_method is not None:
            params["payment_method"] = payment_method
            params["confirm"] = True
        intent = _call(
            "create_payment_intent",
            lambda: self._client.v1.payment_intents.create(
                params, {"idempotency_key": idempotency_key}
            ),
        )
        return _intent_result(intent)

    def confirm_payment_intent(
        self, *, payment_intent_id: str, payment_method: str, idempotency_key: str
    ) -> PaymentIntentResult:
        """Charge `payment_method` on an intent created earlier without one.

        Reads the intent (https://docs.stripe.com/api/payment_intents/retrieve);
        one already past confirmation (succeeded, processing, requires_action,
        canceled…) is answered as it is. Otherwise attaches the payment method
        (https://docs.stripe.com/api/payment_intents/update, key
        `<idempotency_key>-payment-method`) and confirms
        (https://docs.stripe.com/api/payment_intents/confirm, key
        `<idempotency_key>`). Two documented requests rather than `confirm` with
        `payment_method`, which localstripe answers 500 "Not implemented".
        Raises PaymentDeclined when the card is refused, ValidationFailed for an
        unknown intent.
        """
        intent = _call(
            "confirm_payment_intent",
            lambda: self._client.v1.payment_intents.retrieve(payment_intent_id),
        )
        if intent.status not in CONFIRMABLE_STATUSES:
            return _intent_result(intent)
        if _object_id(getattr(intent, "payment_method", None)) != payment_method:
            _call(
                "confirm_payment_intent",
                lambda: self._client.v1.payment_intents.update(
                    payment_intent_id,
                    {"payment_method": payment_method},
                    {"idempotency_key": f"{idempotency_key}-payment-method"},
                ),
            )
        confirmed = _call(
            "confirm_payment_intent",
            lambda: self._client.v1.payment_intents.confirm(
                payment_intent_id, None, {"idempotency_key": idempotency_key}
            ),
        )
        return _intent_result(confirmed)

    def create_refund(self, *, payment_intent_id: str, amount: int, idempotency_key: str) -> str:
        """Refund `amount` of a PaymentIntent's charge; returns the Refund id.

        https://docs.stripe.com/api/refunds/create. With separate charges and
        transfers the refund is debited from the platform balance.
        """
        refund = _call(
            "create_refund",
            lambda: self._client.v1.refunds.create(
                {"payment_intent": payment_intent_id, "amount": amount},
                {"idempotency_key": idempotency_key},
            ),
        )
        return str(refund.id)

    # Payouts to connected accounts.

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
        """Transfer `amount` from the platform balance to a connected account; returns its id.

        https://docs.stripe.com/api/transfers/create. `source_transaction` (the
        charge) makes the transfer wait for that charge's funds instead of
        failing on a short available balance; it is required here, because a
        transfer without it would draw on whatever the balance holds.
        """
        if not source_transaction:
            raise ValidationFailed(
                "A transfer must name the charge it is paid from.", field="source_transaction"
            )
        transfer = _call(
            "create_transfer",
            lambda: self._client.v1.transfers.create(
                {
                    "amount": amount,
                    "currency": currency.lower(),
                    "destination": destination,
                    "source_transaction": source_transaction,
                    "transfer_group": transfer_group,
                },
                {"idempotency_key": idempotency_key},
            ),
        )
        return str(transfer.id)

    def create_account(
        self,
        *,
        email: str,
        country: str,
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
    ) -> AccountStatus:
        """Create an Express connected account able to receive transfers.

        https://docs.stripe.com/api/accounts/create (Accounts v1, `type=express`,
        https://docs.stripe.com/connect/express-accounts). Stripe now advises
        Accounts v2 (`POST /v2/core/accounts`) for new platforms and calls the
        v1 account types legacy; v1 Express is kept because it is fully
        supported and documented, stripe-python 16 covers it, the separate
        charges and transfers guide and the `capabilities.transfers` check are
        written against it, and v2 (newer, with different capability names) can
        replace it inside this one method later. Neither is served by
        localstripe (no Connect at all), so that did not weigh in.
        The account is ready only when payouts are enabled and the transfers
        capability is active; a new account is neither until onboarding ends.
        """
        account = _call(
            "create_account",
            lambda: self._client.v1.accounts.create(
                {
                    "type": "express",
                    "country": country,
                    "email": email,
                    "capabilities": {"transfers": {"requested": True}},
                    "metadata": dict(metadata or {}),
                },
                {"idempotency_key": idempotency_key},
            ),
        )
        return _account_status(account)

    def create_account_link(self, *, account_id: str, refresh_url: str, return_url: str) -> str:
        """A single-use onboarding URL for a connected account (expires after a few minutes).

        https://docs.stripe.com/api/account_links/create. `refresh_url` must mint
        a new link; reaching `return_url` does not mean onboarding is complete
        (read the account, or wait for `account.updated`).
        """
        link = _call(
            "create_account_link",
            lambda: self._client.v1.account_links.create(
                {
                    "account": account_id,
                    "type": "account_onboarding",
                    "refresh_url": refresh_url,
                    "return_url": return_url,
                }
            ),
        )
        return str(link.url)

    # Reads: None when Stripe has no such object (resource_missing).

    def retrieve_payment_intent(self, *, payment_intent_id: str) -> PaymentIntentResult | None:
        """https://docs.stripe.com/api/payment_intents/retrieve"""
        intent = _retrieve(
            "retrieve_payment_intent",
            lambda: self._client.v1.payment_intents.retrieve(payment_intent_id),
        )
        return _intent_result(intent) if intent is not None else None

    def retrieve_transfer(self, *, transfer_id: str) -> TransferResult | None:
        """https://docs.stripe.com/api/transfers/retrieve"""
        transfer = _retrieve(
            "retrieve_transfer", lambda: self._client.v1.transfers.retrieve(transfer_id)
        )
        if transfer is None:
            return None
        return TransferResult(
            id=transfer.id,
            amount=_minor_units(transfer.amount),
            currency=_currency(transfer.currency),
            destination=_object_id(getattr(transfer, "destination", None)),
            source_transaction=_object_id(getattr(transfer, "source_transaction", None)),
            transfer_group=getattr(transfer, "transfer_group", None) or "",
        )

    def retrieve_refund(self, *, refund_id: str) -> RefundResult | None:
        """https://docs.stripe.com/api/refunds/retrieve"""
        refund = _retrieve("retrieve_refund", lambda: self._client.v1.refunds.retrieve(refund_id))
        if refund is None:
            return None
        return RefundResult(
            id=refund.id,
            amount=_minor_units(refund.amount),
            currency=_currency(refund.currency),
            status=refund.status,
            payment_intent=_object_id(getattr(refund, "payment_intent", None)),
        )

    def retrieve_account(self, *, account_id: str) -> AccountStatus | None:
        """https://docs.stripe.com/api/accounts/retrieve; ready as in `create_account`."""
        account = _retrieve(
            "retrieve_account", lambda: self._client.v1.accounts.retrieve(account_id)
        )
        return _account_status(account) if account is not None else None

    def retrieve_charge_fee(self, *, charge_id: str) -> int | None:
        """Stripe's fee on a charge, in the charge's minor units, for the ledger.

        Read from the charge's balance transaction
        (https://docs.stripe.com/api/charges/retrieve expanded with
        https://docs.stripe.com/expand; `fee` of
        https://docs.stripe.com/api/balance_transactions/object). None while
        unknown: no such charge, no balance transaction yet, or a balance
        transaction in another currency than the charge (the platform settles
        in its own currency, and the fee cannot be booked against the escrow
        as is).
        """
        charge = _retrieve(
            "retrieve_charge_fee",
            lambda: self._client.v1.charges.retrieve(
                charge_id, {"expand": ["balance_transaction"]}
            ),
        )
        if charge is None:
            return None
        balance_transaction = getattr(charge, "balance_transaction", None)
        if balance_transaction is None or isinstance(balance_transaction, str):
            return None
        if _currency(balance_transaction.currency) != _currency(charge.currency):
            logger.warning(
                "stripe.fee_in_settlement_currency",
                extra={"charge_id": charge_id, "currency": balance_transaction.currency},
            )
            return None
        return _minor_units(balance_transaction.fee)

    # Webhooks.

    def construct_event(
        self, *, payload: bytes, signature: str, secret: str | None = None
    ) -> dict[str, Any]:
        """Verify a webhook's `Stripe-Signature` and return the event as parsed JSON.

        HMAC-SHA256 of `<t>.<raw body>` with the endpoint's secret (`secret`, or
        STRIPE_WEBHOOK_SECRET when None: each endpoint, the Connect one
        included, has its own, https://docs.stripe.com/connect/webhooks), and `t`
        no older than the SDK's 300 s tolerance
        (https://docs.stripe.com/webhooks#verify-events). Pass the raw request
        body, never re-serialised JSON. Raises WebhookSignatureInvalid (400) for
        a bad or stale signature or a body that is not a JSON event, and
        GatewayMisconfigured when no webhook secret is configured.
        """
        secret = self._webhook_secret if secret is None else secret
        if not secret:
            raise GatewayMisconfigured(
                "The webhook signing secret is not set: webhooks cannot be read."
            )
        try:
            stripe.WebhookSignature.verify_header(
                payload, signature, secret, WEBHOOK_TOLERANCE_SECONDS
            )
        except stripe.SignatureVerificationError as exc:
            raise WebhookSignatureInvalid(
                "The Stripe-Signature header does not verify.", field="Stripe-Signature"
            ) from exc
        except ValueError as exc:  # a body that is not UTF-8
            raise WebhookSignatureInvalid("The webhook body is not UTF-8 text.") from exc
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
