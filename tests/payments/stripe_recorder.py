"""A recording HTTP layer for the Stripe SDK, the only mock of Stripe in the test suite.

Stripe's API, Connect endpoints (accounts, account links, transfers) included,
cannot be reached from here, and localstripe has no Connect at all. So the SDK's
HTTP layer is replaced: `StripeRecorder` is a `stripe.HTTPClient` that records
each request's method, path, query, form body and `Idempotency-Key` header and
answers the JSON shapes of Stripe's API reference (https://docs.stripe.com/api),
queued per request by the test. Everything above the HTTP layer (the real
`StripeGateway`, the SDK's encoding, retries and error classes) runs for real.
A request nobody queued an answer for fails the test.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    host: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    idempotency_key: str | None
    headers: dict[str, str]


@dataclass(frozen=True)
class _Answer:
    status: int
    body: str
    error: stripe.APIConnectionError | None = None


class StripeRecorder(stripe.HTTPClient):
    """Answers queued per (method, path); each answer serves one request."""

    name = "recorder"

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[RecordedRequest] = []
        self._answers: dict[tuple[str, str], deque[_Answer]] = defaultdict(deque)

    def answer(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | str,
        status: int = 200,
        times: int = 1,
    ) -> None:
        text = body if isinstance(body, str) else json.dumps(body)
        for _ in range(times):
            self._answers[(method.upper(), path)].append(_Answer(status=status, body=text))

    def fail_connection(self, method: str, path: str, times: int = 1) -> None:
        error = stripe.APIConnectionError("Connection refused", should_retry=True)
        for _ in range(times):
            self._answers[(method.upper(), path)].append(_Answer(0, "", error=error))

    def writes(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST"]

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        parts = urlsplit(url)
        sent = dict(headers or {})
        body = post_data.decode() if isinstance(post_data, bytes) else (post_data or "")
        self.requests.append(
            RecordedRequest(
                method=method.upper(),
                host=f"{parts.scheme}://{parts.netloc}",
                path=parts.path,
                query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                form=dict(parse_qsl(body, keep_blank_values=True)),
                idempotency_key=sent.get("Idempotency-Key"),
                headers=sent,
            )
        )
        queue = self._answers.get((method.upper(), parts.path))
        if not queue:
            raise AssertionError(f"unexpected Stripe request {method.upper()} {parts.path}")
        answer = queue.popleft()
        if answer.error is not None:
            raise answer.error
        return answer.body, answer.status, {"Request-Id": f"req_test_{len(self.requests)}"}

    def request_stream(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the gateway never streams")

    def close(self) -> None:
        return None

    def _sleep_time_seconds(self, num_retries: int) -> float:
        # The SDK's retry backoff is 0.5 s and more; the retries themselves are still counted.
        return 0.0


# Objects shaped as in Stripe's API reference, with the fields the gateway reads.


def payment_intent(
    *,
    id: str = "pi_1",
    amount: int = 10_500,
    currency: str = "eur",
    status: str = "succeeded",
    latest_charge: str | dict[str, Any] | None = "ch_1",
    payment_method: str | None = "pm_1",
    metadata: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """https://docs.stripe.com/api/payment_intents/object"""
    return {
        "id": id,
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount if status == "succeeded" else 0,
        "currency": currency,
        "status": status,
        "client_secret": f"{id}_secret_abc123",
        "latest_charge": latest_charge,
        "payment_method": payment_method,
        "payment_method_types": ["card"],
        "capture_method": "automatic_async",
        "confirmation_method": "automatic",
        "metadata": dict(metadata or {}),
        "livemode": False,
    }


def charge(
    *,
    id: str = "ch_1",
    amount: int = 10_500,
    currency: str = "eur",
    balance_transaction: str | dict[str, Any] | None = "txn_1",
) -> dict[str, Any]:
    """https://docs.stripe.com/api/charges/object"""
    return {
        "id": id,
        "object": "charge",
        "amount": amount,
        "currency": currency,
        "status": "succeeded",
        "paid": True,
        "captured": True,
        "payment_intent": "pi_1",
        "balance_transaction": balance_transaction,
    }


def balance_transaction(
    *, id: str = "txn_1", amount: int = 10_500, fee: int = 334, currency: str = "eur"
) -> dict[str, Any]:
    """https://docs.stripe.com/api/balance_transactions/object"""
    return {
        "id": id,
        "object": "balance_transaction",
        "amount": amount,
        "currency": currency,
        "fee": fee,
        "net": amount - fee,
        "fee_details": [
            {"amount": fee, "currency": currency, "type": "stripe_fee", "description": ""}
        ],
        "status": "pending",
        "type": "charge",
        "source": "ch_1",
    }


def transfer(
    *,
    id: str = "tr_1",
    amount: int = 9_000,
    currency: str = "eur",
    destination: str = "acct_1",
    source_transaction: str | None = "ch_1",
    transfer_group: str | None = "M-7",
) -> dict[str, Any]:
    """https://docs.stripe.com/api/transfers/object"""
    return {
        "id": id,
        "object": "transfer",
        "amount": amount,
        "amount_reversed": 0,
        "currency": currency,
        "destination": destination,
        "destination_payment": "py_1",
        "reversed": False,
        "source_transaction": source_transaction,
        "transfer_group": transfer_group,
        "metadata": {},
    }


def refund(
    *,
    id: str = "re_1",
    amount: int = 10_500,
    currency: str = "eur",
    status: str = "succeeded",
    payment_intent: str | None = "pi_1",
) -> dict[str, Any]:
    """https://docs.stripe.com/api/refunds/object"""
    return {
        "id": id,
        "object": "refund",
        "amount": amount,
        "currency": currency,
        "status": status,
        "payment_intent": payment_intent,
        "charge": "ch_1",
        "metadata": {},
    }


def account(
    *,
    id: str = "acct_1",
    payouts_enabled: bool = False,
    transfers: str | None = "inactive",
    email: str = "student@example.edu",
) -> dict[str, Any]:
    """https://docs.stripe.com/api/accounts/object (an Express account)"""
    return {
        "id": id,
        "object": "account",
        "type": "express",
        "country": "FR",
        "email": email,
        "charges_enabled": False,
        "payouts_enabled": payouts_enabled,
        "details_submitted": payouts_enabled,
        "capabilities": {} if transfers is None else {"transfers": transfers},
        "requirements": {"currently_due": [], "disabled_reason": None},
        "metadata": {},
    }


def account_link(*, url: str = "https://connect.stripe.com/setup/e/acct_1/Xyz") -> dict[str, Any]:
    """https://docs.stripe.com/api/account_links/object"""
    return {
        "object": "account_link",
        "created": 1_700_000_000,
        "expires_at": 1_700_000_300,
        "url": url,
    }


def error(
    type: str,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    decline_code: str | None = None,
) -> dict[str, Any]:
    """https://docs.stripe.com/api/errors: `{"error": {type, code, decline_code, message}}`"""
    body: dict[str, Any] = {"type": type, "message": message}
    if code is not None:
        body["code"] = code
    if param is not None:
        body["param"] = param
    if decline_code is not None:
        body["decline_code"] = decline_code
    return {"error": body}
