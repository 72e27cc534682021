"""Unit tests of the real `StripeGateway` on a recorded HTTP layer.

Stripe's API, and in particular its Connect endpoints (accounts, account links,
transfers), cannot be reached from here, and localstripe has no Connect. So the
SDK's HTTP layer is replaced by a recorder (`tests/payments/stripe_recorder.py`)
that checks every request against Stripe's documented shapes (path, form
parameters, `Idempotency-Key`) and answers the JSON of Stripe's API reference;
that is the only mock of Stripe allowed. The gateway, the SDK's encoding, its
bounded retries and its error classes all run for real. Webhook signatures are
built with the SDK's own `WebhookSignature.generate_signature_header`.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import stripe
import time_machine
from django.core.exceptions import ImproperlyConfigured

from marketplace.errors import TransientError, ValidationFailed
from payments.gateways import get_gateway
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
from payments.gateways.stripe import StripeGateway
from tests.payments import stripe_recorder as shapes
from tests.payments.stripe_recorder import StripeRecorder

WEBHOOK_SECRET = "whsec_unit_test"
API = "https://api.stripe.com"


@pytest.fixture
def recorder() -> StripeRecorder:
    return StripeRecorder()


@pytest.fixture
def gateway(recorder: StripeRecorder) -> StripeGateway:
    return StripeGateway(
        api_key="sk_test_unit", api_base="", webhook_secret=WEBHOOK_SECRET, http_client=recorder
    )


def _fund(gateway: StripeGateway, **overrides: Any) -> PaymentIntentResult:
    kwargs: dict[str, Any] = {
        "amount": 10_500,
        "currency": "EUR",
        "metadata": {"escrow_id": "7", "reference": "M-7"},
        "idempotency_key": "escrow-7-fund-0",
        **overrides,
    }
    return gateway.create_payment_intent(**kwargs)


def _transfer(gateway: StripeGateway, **overrides: Any) -> str:
    kwargs: dict[str, Any] = {
        "amount": 9_000,
        "currency": "EUR",
        "destination": "acct_1",
        "source_transaction": "ch_1",
        "transfer_group": "M-7",
        "idempotency_key": "escrow-7-release",
        **overrides,
    }
    return gateway.create_transfer(**kwargs)


# Selection and client configuration.


def test_get_gateway_selects_stripe_with_the_settings(settings, recorder):
    settings.PAYMENT_GATEWAY = "stripe"
    settings.STRIPE_SECRET_KEY = "sk_test_from_settings"
    settings.STRIPE_API_BASE = "http://127.0.0.1:8420/"
    gateway = get_gateway()
    assert isinstance(gateway, StripeGateway)
    assert gateway.name == "stripe"

    from_settings = StripeGateway(http_client=recorder)
    recorder.answer("GET", "/v1/payment_intents/pi_1", shapes.payment_intent())
    from_settings.retrieve_payment_intent(payment_intent_id="pi_1")
    sent = recorder.requests[-1]
    assert sent.host == "http://127.0.0.1:8420"
    assert sent.headers["Authorization"] == "Bearer sk_test_from_settings"


@pytest.mark.parametrize("key", ["", "pk_test_publishable"])
def test_the_gateway_refuses_to_start_without_a_secret_key(settings, key):
    settings.PAYMENT_GATEWAY = "stripe"
    settings.STRIPE_SECRET_KEY = key
    with pytest.raises(ImproperlyConfigured):
        get_gateway()


def test_requests_go_to_api_stripe_com_without_an_api_base(gateway, recorder):
    recorder.answer("GET", "/v1/payment_intents/pi_1", shapes.payment_intent())
    gateway.retrieve_payment_intent(payment_intent_id="pi_1")
    assert recorder.requests[0].host == API


# PaymentIntents.


def test_payment_intent_with_a_payment_method_is_confirmed_in_one_request(gateway, recorder):
    recorder.answer("POST", "/v1/payment_intents", shapes.payment_intent(payment_method="pm_x"))

    intent = _fund(gateway, payment_method="pm_card_visa")

    (sent,) = recorder.requests
    assert (sent.method, sent.path) == ("POST", "/v1/payment_intents")
    assert sent.form == {
        "amount": "10500",
        "currency": "eur",
        "payment_method_types[0]": "card",
        "metadata[escrow_id]": "7",
        "metadata[reference]": "M-7",
        "payment_method": "pm_card_visa",
        "confirm": "true",
    }
    assert sent.idempotency_key == "escrow-7-fund-0"
    assert intent == PaymentIntentResult(
        id="pi_1",
        status="succeeded",
        client_secret="pi_1_secret_abc123",
        charge_id="ch_1",
        amount=10_500,
        currency="EUR",
    )


def test_payment_intent_without_a_payment_method_returns_the_client_secret(gateway, recorder):
    recorder.answer(
        "POST",
        "/v1/payment_intents",
        shapes.payment_intent(
            status="requires_payment_method", latest_charge=None, payment_method=None
        ),
    )

    intent = _fund(gateway)

    (sent,) = recorder.requests
    assert sent.form == {
        "amount": "10500",
        "currency": "eur",
        "payment_method_types[0]": "card",
        "metadata[escrow_id]": "7",
        "metadata[reference]": "M-7",
    }
    assert sent.idempotency_key == "escrow-7-fund-0"
    assert intent.status == "requires_payment_method"
    assert intent.client_secret == "pi_1_secret_abc123"
    assert intent.charge_id == ""


def test_payment_intent_reads_an_expanded_latest_charge(gateway, recorder):
    # localstripe answers the Charge object where Stripe answers its id.
    recorder.answer(
        "POST",
        "/v1/payment_intents",
        shapes.payment_intent(latest_charge=shapes.charge(id="ch_expanded")),
    )
    assert _fund(gateway, payment_method="pm_card_visa").charge_id == "ch_expanded"


def test_zero_decimal_amounts_pass_through_untouched(gateway, recorder):
    # JPY has no minor unit: 5000 is ¥5000 for us and for Stripe alike, never ×100.
    recorder.answer(
        "POST", "/v1/payment_intents", shapes.payment_intent(amount=5000, currency="jpy")
    )
    recorder.answer("POST", "/v1/transfers", shapes.transfer(amount=4500, currency="jpy"))
    recorder.answer("POST", "/v1/refunds", shapes.refund(amount=5000, currency="jpy"))

    intent = _fund(gateway, amount=5000, currency="JPY", payment_method="pm_card_visa")
    _transfer(gateway, amount=4500, currency="JPY")
    gateway.create_refund(payment_intent_id="pi_1", amount=5000, idempotency_key="escrow-7-refund")

    funded, transferred, refunded = recorder.requests
    assert (funded.form["amount"], funded.form["currency"]) == ("5000", "jpy")
    assert (transferred.form["amount"], transferred.form["currency"]) == ("4500", "jpy")
    assert refunded.form["amount"] == "5000"
    assert (intent.amount, intent.currency) == (5000, "JPY")


def test_confirm_attaches_the_payment_method_then_confirms(gateway, recorder):
    recorder.answer(
        "GET",
        "/v1/payment_intents/pi_1",
        shapes.payment_intent(
            status="requires_payment_method", latest_charge=None, payment_method=None
        ),
    )
    recorder.answer(
        "POST",
        "/v1/payment_intents/pi_1",
        shapes.payment_intent(
            status="requires_confirmation", latest_charge=None, payment_method="pm_card_visa"
        ),
    )
    recorder.answer("POST", "/v1/payment_intents/pi_1/confirm", shapes.payment_intent())

    intent = gateway.confirm_payment_intent(
        payment_intent_id="pi_1", payment_method="pm_card_visa", idempotency_key="escrow-7-fund-1"
    )

    read, attach, confirm = recorder.requests
    assert (read.method, read.path, read.idempotency_key) == (
        "GET",
        "/v1/payment_intents/pi_1",
        None,
    )
    assert (attach.path, attach.form, attach.idempotency_key) == (
        "/v1/payment_intents/pi_1",
        {"payment_method": "pm_card_visa"},
        "escrow-7-fund-1-payment-method",
    )
    assert (confirm.path, confirm.form, confirm.idempotency_key) == (
        "/v1/payment_intents/pi_1/confirm",
        {},
        "escrow-7-fund-1",
    )
    assert (intent.status, intent.charge_id) == ("succeeded", "ch_1")


def test_confirm_skips_the_update_when_the_payment_method_is_attached(gateway, recorder):
    recorder.answer(
        "GET",
        "/v1/payment_intents/pi_1",
        shapes.payment_intent(
            status="requires_confirmation", latest_charge=None, payment_method="pm_card_visa"
        ),
    )
    recorder.answer("POST", "/v1/payment_intents/pi_1/confirm", shapes.payment_intent())

    gateway.confirm_payment_intent(
        payment_intent_id="pi_1", payment_method="pm_card_visa", idempotency_key="escrow-7-fund-1"
    )

    assert [(r.method, r.path) for r in recorder.requests] == [
        ("GET", "/v1/payment_intents/pi_1"),
        ("POST", "/v1/payment_intents/pi_1/confirm"),
    ]


@pytest.mark.parametrize("status", ["succeeded", "processing", "requires_action", "canceled"])
def test_confirm_answers_an_intent_past_confirmation_without_writing(gateway, recorder, status):
    recorder.answer("GET", "/v1/payment_intents/pi_1", shapes.payment_intent(status=status))

    intent = gateway.confirm_payment_intent(
        payment_intent_id="pi_1", payment_method="pm_card_visa", idempotency_key="escrow-7-fund-1"
    )

    assert intent.status == status
    assert recorder.writes() == []


def test_a_declined_confirmation_raises_payment_declined(gateway, recorder):
    recorder.answer(
        "GET",
        "/v1/payment_intents/pi_1",
        shapes.payment_intent(
            status="requires_confirmation", latest_charge=None, payment_method="pm_card_visa"
        ),
    )
    recorder.answer(
        "POST",
        "/v1/payment_intents/pi_1/confirm",
        shapes.error(
            "card_error",
            "Your card has insufficient funds.",
            code="card_declined",
            decline_code="insufficient_funds",
        ),
        status=402,
    )
    with pytest.raises(PaymentDeclined) as declined:
        gateway.confirm_payment_intent(
            payment_intent_id="pi_1",
            payment_method="pm_card_visa",
            idempotency_key="escrow-7-fund-1",
        )
    assert declined.value.decline_code == "insufficient_funds"


# Transfers and refunds.


def test_transfer_sends_source_transaction_group_and_destination(gateway, recorder):
    recorder.answer("POST", "/v1/transfers", shapes.transfer())

    transfer_id = _transfer(gateway)

    (sent,) = recorder.requests
    assert (sent.method, sent.path) == ("POST", "/v1/transfers")
    assert sent.form == {
        "amount": "9000",
        "currency": "eur",
        "destination": "acct_1",
        "source_transaction": "ch_1",
        "transfer_group": "M-7",
    }
    assert sent.idempotency_key == "escrow-7-release"
    assert transfer_id == "tr_1"


def test_a_transfer_without_its_charge_is_refused_before_any_request(gateway, recorder):
    with pytest.raises(ValidationFailed) as refused:
        _transfer(gateway, source_transaction="")
    assert refused.value.field == "source_transaction"
    assert recorder.requests == []


def test_refund_of_a_payment_intent(gateway, recorder):
    recorder.answer("POST", "/v1/refunds", shapes.refund(amount=2_000))

    refund_id = gateway.create_refund(
        payment_intent_id="pi_1", amount=2_000, idempotency_key="escrow-7-refund"
    )

    (sent,) = recorder.requests
    assert (sent.method, sent.path) == ("POST", "/v1/refunds")
    assert sent.form == {"payment_intent": "pi_1", "amount": "2000"}
    assert sent.idempotency_key == "escrow-7-refund"
    assert refund_id == "re_1"


# Connected accounts.


def test_create_account_is_an_express_account_asking_for_transfers(gateway, recorder):
    recorder.answer("POST", "/v1/accounts", shapes.account())

    status = gateway.create_account(
        email="student@example.edu",
        country="FR",
        idempotency_key="user-3-account",
        metadata={"user_id": "3"},
    )

    (sent,) = recorder.requests
    assert (sent.method, sent.path) == ("POST", "/v1/accounts")
    assert sent.form == {
        "type": "express",
        "country": "FR",
        "email": "student@example.edu",
        "capabilities[transfers][requested]": "true",
        "metadata[user_id]": "3",
    }
    assert sent.idempotency_key == "user-3-account"
    assert status == AccountStatus(id="acct_1", payouts_enabled=False)


@pytest.mark.parametrize(
    ("payouts_enabled", "transfers", "ready"),
    [
        (True, "active", True),
        (True, "pending", False),
        (True, "inactive", False),
        (True, None, False),
        (False, "active", False),
    ],
)
def test_an_account_is_ready_with_payouts_and_an_active_transfers_capability(
    gateway, recorder, payouts_enabled, transfers, ready
):
    recorder.answer(
        "GET",
        "/v1/accounts/acct_1",
        shapes.account(payouts_enabled=payouts_enabled, transfers=transfers),
    )
    assert gateway.retrieve_account(account_id="acct_1") == AccountStatus("acct_1", ready)


def test_account_link_for_onboarding(gateway, recorder):
    recorder.answer("POST", "/v1/account_links", shapes.account_link())

    url = gateway.create_account_link(
        account_id="acct_1",
        refresh_url="http://testserver/payouts/refresh/",
        return_url="http://testserver/payouts/return/",
    )

    (sent,) = recorder.requests
    assert (sent.method, sent.path) == ("POST", "/v1/account_links")
    assert sent.form == {
        "account": "acct_1",
        "type": "account_onboarding",
        "refresh_url": "http://testserver/payouts/refresh/",
        "return_url": "http://testserver/payouts/return/",
    }
    assert url == "https://connect.stripe.com/setup/e/acct_1/Xyz"


# Reads.


def test_retrieve_payment_intent_transfer_refund_and_charge_fee(gateway, recorder):
    recorder.answer("GET", "/v1/payment_intents/pi_1", shapes.payment_intent())
    recorder.answer("GET", "/v1/transfers/tr_1", shapes.transfer())
    recorder.answer("GET", "/v1/refunds/re_1", shapes.refund(amount=2_000, status="pending"))
    recorder.answer(
        "GET",
        "/v1/charges/ch_1",
        shapes.charge(balance_transaction=shapes.balance_transaction(fee=334)),
    )

    assert gateway.retrieve_payment_intent(payment_intent_id="pi_1") == PaymentIntentResult(
        "pi_1", "succeeded", "pi_1_secret_abc123", "ch_1", 10_500, "EUR"
    )
    assert gateway.retrieve_transfer(transfer_id="tr_1") == TransferResult(
        id="tr_1",
        amount=9_000,
        currency="EUR",
        destination="acct_1",
        source_transaction="ch_1",
        transfer_group="M-7",
    )
    assert gateway.retrieve_refund(refund_id="re_1") == RefundResult(
        id="re_1", amount=2_000, currency="EUR", status="pending", payment_intent="pi_1"
    )
    assert gateway.retrieve_charge_fee(charge_id="ch_1") == 334

    assert [(r.method, r.path, r.idempotency_key) for r in recorder.requests] == [
        ("GET", "/v1/payment_intents/pi_1", None),
        ("GET", "/v1/transfers/tr_1", None),
        ("GET", "/v1/refunds/re_1", None),
        ("GET", "/v1/charges/ch_1", None),
    ]
    assert recorder.requests[-1].query == {"expand[0]": "balance_transaction"}


@pytest.mark.parametrize(
    "charge",
    [
        shapes.charge(balance_transaction=None),
        shapes.charge(balance_transaction=shapes.balance_transaction(currency="usd")),
    ],
    ids=["no-balance-transaction-yet", "settled-in-another-currency"],
)
def test_charge_fee_is_unknown_without_a_balance_transaction_in_its_currency(
    gateway, recorder, charge
):
    recorder.answer("GET", "/v1/charges/ch_1", charge)
    assert gateway.retrieve_charge_fee(charge_id="ch_1") is None


@pytest.mark.parametrize(
    ("path", "read"),
    [
        ("/v1/payment_intents/pi_x", lambda g: g.retrieve_payment_intent(payment_intent_id="pi_x")),
        ("/v1/transfers/pi_x", lambda g: g.retrieve_transfer(transfer_id="pi_x")),
        ("/v1/refunds/pi_x", lambda g: g.retrieve_refund(refund_id="pi_x")),
        ("/v1/accounts/pi_x", lambda g: g.retrieve_account(account_id="pi_x")),
        ("/v1/charges/pi_x", lambda g: g.retrieve_charge_fee(charge_id="pi_x")),
    ],
)
def test_reads_answer_none_for_a_missing_object(gateway, recorder, path, read):
    recorder.answer(
        "GET",
        path,
        shapes.error(
            "invalid_request_error", "No such object: 'pi_x'", code="resource_missing", param="id"
        ),
        status=404,
    )
    assert read(gateway) is None


def test_a_read_answers_none_for_a_json_404_without_code(gateway, recorder):
    # localstripe's missing object: `{"error": {"type": "invalid_request_error", ...}}`, no code.
    recorder.answer(
        "GET",
        "/v1/refunds/re_x",
        shapes.error("invalid_request_error", "Not Found"),
        status=404,
    )
    assert gateway.retrieve_refund(refund_id="re_x") is None


def test_a_read_of_a_missing_endpoint_is_not_a_missing_object(gateway, recorder):
    recorder.answer("GET", "/v1/transfers/tr_1", "404: Not Found", status=404)
    with pytest.raises(GatewayMisconfigured):
        gateway.retrieve_transfer(transfer_id="tr_1")


def test_a_read_that_fails_for_now_is_transient(gateway, recorder):
    recorder.answer(
        "GET", "/v1/transfers/tr_1", shapes.error("api_error", "Something broke."), 500, times=3
    )
    with pytest.raises(TransientError):
        gateway.retrieve_transfer(transfer_id="tr_1")


# Error mapping, on the money-moving write of a transfer.


def _fails_with(recorder: StripeRecorder, status: int, body: Any, times: int = 1) -> None:
    recorder.answer("POST", "/v1/transfers", body, status=status, times=times)


def test_card_declined_carries_stripe_decline_code(gateway, recorder):
    recorder.answer(
        "POST",
        "/v1/payment_intents",
        shapes.error(
            "card_error",
            "Your card has insufficient funds.",
            code="card_declined",
            decline_code="insufficient_funds",
            param="",
        ),
        status=402,
    )
    with pytest.raises(PaymentDeclined) as declined:
        _fund(gateway, payment_method="pm_card_chargeDeclinedInsufficientFunds")
    assert declined.value.decline_code == "insufficient_funds"
    assert declined.value.status_code == 402
    assert declined.value.message == "Your card has insufficient funds."
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    ("body", "decline_code"),
    [
        (shapes.error("card_error", "Your card has expired.", code="expired_card"), "expired_card"),
        (shapes.error("card_error", "Your card was declined."), "card_declined"),
    ],
)
def test_a_decline_without_decline_code_uses_the_error_code(gateway, recorder, body, decline_code):
    recorder.answer("POST", "/v1/payment_intents", body, status=402)
    with pytest.raises(PaymentDeclined) as declined:
        _fund(gateway, payment_method="pm_card_visa")
    assert declined.value.decline_code == decline_code


@pytest.mark.parametrize("status", [400, 409])
def test_idempotency_error_is_a_conflict(gateway, recorder, status):
    message = (
        "Keys for idempotent requests can only be used with the same parameters they were "
        "first used with. Try using a key other than 'escrow-7-release' if you meant to "
        "execute a different request."
    )
    # The SDK retries a 409 itself (bounded), with the same key.
    _fails_with(recorder, status, shapes.error("idempotency_error", message), times=3)
    with pytest.raises(IdempotencyConflict) as conflict:
        _transfer(gateway)
    assert conflict.value.status_code == 409
    keys = {r.idempotency_key for r in recorder.requests}
    assert keys == {"escrow-7-release"}


def test_a_key_in_use_by_a_concurrent_request_is_transient(gateway, recorder):
    body = shapes.error(
        "invalid_request_error",
        "There is currently another in-progress request using this Stripe token.",
        code="idempotency_key_in_use",
    )
    _fails_with(recorder, 409, body, times=3)
    with pytest.raises(TransientError):
        _transfer(gateway)


def test_server_errors_are_retried_twice_with_the_same_key_then_transient(gateway, recorder):
    _fails_with(recorder, 500, shapes.error("api_error", "Something went wrong."), times=3)
    with pytest.raises(TransientError) as failed:
        _transfer(gateway)
    assert failed.value.status_code == 503
    assert [r.idempotency_key for r in recorder.requests] == ["escrow-7-release"] * 3


def test_a_retry_that_succeeds_answers_the_transfer(gateway, recorder):
    _fails_with(recorder, 503, shapes.error("api_error", "Unavailable."))
    recorder.answer("POST", "/v1/transfers", shapes.transfer())
    assert _transfer(gateway) == "tr_1"
    assert [r.idempotency_key for r in recorder.requests] == ["escrow-7-release"] * 2


def test_connection_errors_are_retried_then_transient(gateway, recorder):
    recorder.fail_connection("POST", "/v1/transfers", times=3)
    with pytest.raises(TransientError):
        _transfer(gateway)
    assert [r.idempotency_key for r in recorder.requests] == ["escrow-7-release"] * 3


def test_rate_limiting_is_transient(gateway, recorder):
    _fails_with(recorder, 429, shapes.error("invalid_request_error", "Too many requests."))
    with pytest.raises(TransientError):
        _transfer(gateway)


def test_a_bad_gateway_answer_in_plain_text_is_transient(gateway, recorder):
    _fails_with(recorder, 502, "<html>502 Bad Gateway</html>", times=3)
    with pytest.raises(TransientError):
        _transfer(gateway)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, shapes.error("invalid_request_error", "Invalid API Key provided: sk_test_****unit")),
        (403, shapes.error("invalid_request_error", "The provided key does not have access.")),
    ],
)
def test_a_refused_api_key_means_the_platform_is_misconfigured(gateway, recorder, status, body):
    _fails_with(recorder, status, body)
    with pytest.raises(GatewayMisconfigured) as misconfigured:
        _transfer(gateway)
    assert not isinstance(misconfigured.value, TransientError)
    assert misconfigured.value.status_code == 503
    assert "sk_test" not in misconfigured.value.message
    assert len(recorder.requests) == 1


def test_a_plain_text_404_is_a_missing_endpoint_not_a_transient_failure(gateway, recorder):
    # What localstripe answers on every Connect path.
    _fails_with(recorder, 404, "404: Not Found")
    with pytest.raises(GatewayMisconfigured):
        _transfer(gateway)
    assert len(recorder.requests) == 1


def test_an_invalid_parameter_names_the_field(gateway, recorder):
    _fails_with(
        recorder,
        400,
        shapes.error(
            "invalid_request_error",
            "This value must be greater than or equal to 1.",
            code="parameter_invalid_integer",
            param="amount",
        ),
    )
    with pytest.raises(ValidationFailed) as invalid:
        _transfer(gateway, amount=9_000)
    assert invalid.value.field == "amount"
    assert invalid.value.extra == {"provider_code": "parameter_invalid_integer"}
    assert invalid.value.status_code == 400


def test_a_missing_object_in_a_write_is_invalid(gateway, recorder):
    _fails_with(
        recorder,
        404,
        shapes.error(
            "invalid_request_error",
            "No such destination: 'acct_gone'",
            code="resource_missing",
            param="destination",
        ),
    )
    with pytest.raises(ValidationFailed) as invalid:
        _transfer(gateway, destination="acct_gone")
    assert invalid.value.field == "destination"


# Webhooks.


def _event(event_type: str = "payment_intent.succeeded") -> bytes:
    body = {
        "id": "evt_1",
        "object": "event",
        "type": event_type,
        "api_version": "2026-10-28.endive",
        "created": int(time.time()),
        "data": {"object": shapes.payment_intent()},
    }
    return json.dumps(body).encode()


def _signed(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    return stripe.WebhookSignature.generate_signature_header(
        payload.decode(), secret, timestamp=timestamp
    )


def test_a_signed_event_is_returned_as_a_dict(gateway):
    payload = _event()
    event = gateway.construct_event(payload=payload, signature=_signed(payload))
    assert isinstance(event, dict)
    assert event["id"] == "evt_1"
    assert event["type"] == "payment_intent.succeeded"
    assert event["data"]["object"]["latest_charge"] == "ch_1"


def test_an_event_at_the_edge_of_the_tolerance_passes(gateway):
    payload = _event()
    gateway.construct_event(
        payload=payload, signature=_signed(payload, timestamp=int(time.time()) - 290)
    )


@pytest.mark.parametrize(
    "tamper",
    [
        lambda p: (p, _signed(p, secret="whsec_someone_else")),
        lambda p: (p.replace(b"evt_1", b"evt_2"), _signed(p)),
        lambda p: (p, _signed(p, timestamp=int(time.time()) - 301)),
        lambda p: (p, ""),
        lambda p: (p, "t=notanumber,v1=abc"),
        lambda p: (p, _signed(p).replace("v1=", "v0=")),
    ],
    ids=[
        "wrong-secret",
        "altered-body",
        "older-than-300s",
        "no-header",
        "garbled-header",
        "no-v1-signature",
    ],
)
def test_a_bad_signature_is_refused(gateway, tamper):
    payload, signature = tamper(_event())
    with pytest.raises(WebhookSignatureInvalid) as refused:
        gateway.construct_event(payload=payload, signature=signature)
    assert refused.value.status_code == 400


def test_a_signature_goes_stale_after_300_seconds(gateway):
    payload = _event()
    with time_machine.travel(1_900_000_000, tick=False):
        signature = _signed(payload)
        gateway.construct_event(payload=payload, signature=signature)
    with time_machine.travel(1_900_000_301, tick=False), pytest.raises(WebhookSignatureInvalid):
        gateway.construct_event(payload=payload, signature=signature)


@pytest.mark.parametrize(
    "payload",
    [b"{not json", b"[1, 2]", b'{"id": "evt_1", "object": "charge"}', b"\xff\xfe"],
    ids=["bad-json", "json-list", "not-an-event", "not-utf8"],
)
def test_a_signed_body_that_is_no_event_is_refused(gateway, payload):
    timestamp = int(time.time())
    if payload == b"\xff\xfe":
        signature = f"t={timestamp},v1=00"
    else:
        signature = _signed(payload, timestamp=timestamp)
    with pytest.raises(WebhookSignatureInvalid):
        gateway.construct_event(payload=payload, signature=signature)


def test_webhooks_cannot_be_read_without_a_secret(recorder):
    gateway = StripeGateway(
        api_key="sk_test_unit", api_base="", webhook_secret="", http_client=recorder
    )
    payload = _event()
    with pytest.raises(GatewayMisconfigured):
        gateway.construct_event(payload=payload, signature=_signed(payload))
