from __future__ import annotations

import json
import time

import pytest
import stripe
import time_machine
from django.core.exceptions import ImproperlyConfigured

from marketplace.errors import ValidationFailed
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
from payments.gateways.dummy import DummyGateway
from payments.models import DummyGatewayObject


@pytest.fixture
def gateway(db) -> DummyGateway:
    return DummyGateway()


def _intent(gateway, key="escrow-1-fund-0", payment_method=None, amount=10_500):
    return gateway.create_payment_intent(
        amount=amount,
        currency="EUR",
        metadata={"escrow_id": "1"},
        idempotency_key=key,
        payment_method=payment_method,
    )


def test_get_gateway_is_the_dummy_in_tests():
    gateway = get_gateway()
    assert isinstance(gateway, DummyGateway)
    assert gateway.name == "dummy"


def test_get_gateway_refuses_an_unknown_name(settings):
    settings.PAYMENT_GATEWAY = "paypal"
    with pytest.raises(ImproperlyConfigured):
        get_gateway()


def test_pm_card_visa_succeeds_with_a_charge(gateway):
    intent = _intent(gateway, payment_method="pm_card_visa")
    assert intent.status == "succeeded"
    assert intent.id.startswith("pi_dummy_")
    assert intent.charge_id.startswith("ch_dummy_")
    assert intent.client_secret.startswith(intent.id + "_secret_")


def test_no_payment_method_requires_one_and_gives_a_client_secret(gateway):
    intent = _intent(gateway)
    assert intent.status == "requires_payment_method"
    assert intent.client_secret.startswith(intent.id + "_secret_")
    assert intent.charge_id == ""


@pytest.mark.parametrize(
    ("payment_method", "decline_code"),
    [
        ("pm_card_chargeDeclined", "card_declined"),
        ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card"),
    ],
)
def test_declining_payment_methods(gateway, payment_method, decline_code):
    with pytest.raises(PaymentDeclined) as exc:
        _intent(gateway, payment_method=payment_method)
    assert exc.value.decline_code == decline_code
    assert exc.value.status_code == 402
    assert exc.value.code == "payment_failed"


@pytest.mark.parametrize("payment_method", ["card_4242", "pm_bogus", "pm_card_visa "])
def test_an_unknown_payment_method_is_a_400_naming_it(gateway, payment_method):
    with pytest.raises(ValidationFailed) as exc:
        _intent(gateway, payment_method=payment_method)
    assert exc.value.field == "payment_method"
    assert exc.value.status_code == 400


@pytest.mark.parametrize("payment_method", ["pm_card_mastercard", "pm_card_amex", "pm_card_fr"])
def test_other_succeeding_test_cards(gateway, payment_method):
    assert _intent(gateway, payment_method=payment_method).status == "succeeded"


def test_the_same_idempotency_key_answers_the_same_objects(gateway):
    assert _intent(gateway, payment_method="pm_card_visa") == _intent(
        gateway, payment_method="pm_card_visa"
    )
    assert _intent(gateway, key="k-0").id != _intent(gateway, key="k-1").id
    transfer = {
        "amount": 9_000,
        "currency": "EUR",
        "destination": "acct_1",
        "source_transaction": "ch_1",
        "transfer_group": "milestone:1",
    }
    assert gateway.create_transfer(**transfer, idempotency_key="t") == gateway.create_transfer(
        **transfer, idempotency_key="t"
    )
    assert gateway.create_transfer(**transfer, idempotency_key="t").startswith("tr_dummy_")
    assert gateway.create_transfer(**transfer, idempotency_key="t") != gateway.create_transfer(
        **transfer, idempotency_key="u"
    )
    paid = _intent(gateway, key="k-paid", payment_method="pm_card_visa")
    refund = gateway.create_refund(payment_intent_id=paid.id, amount=10, idempotency_key="r")
    assert refund.startswith("re_dummy_")
    assert refund == gateway.create_refund(
        payment_intent_id=paid.id, amount=10, idempotency_key="r"
    )


def test_connected_accounts_are_ready_at_once(gateway, settings):
    settings.SITE_URL = "https://market.example"
    status = gateway.create_account(
        email="a@b.test", country="FR", idempotency_key="user-1-account"
    )
    assert status.payouts_enabled is True
    assert status.id.startswith("acct_dummy_")
    assert status == gateway.create_account(
        email="a@b.test", country="FR", idempotency_key="user-1-account"
    )
    url = gateway.create_account_link(
        account_id=status.id, refresh_url="https://x/refresh", return_url="https://x/return"
    )
    assert url == f"https://market.example/payouts/return/?account={status.id}"


def _transfer(gateway, key="escrow-1-release", **overrides):
    params = {
        "amount": 9_000,
        "currency": "EUR",
        "destination": "acct_1",
        "source_transaction": "ch_1",
        "transfer_group": "milestone:1",
        **overrides,
    }
    return gateway.create_transfer(**params, idempotency_key=key)


def test_it_remembers_every_object_it_creates(gateway):
    intent = _intent(gateway, payment_method="pm_card_visa")
    transfer_id = _transfer(gateway)
    refund_id = gateway.create_refund(
        payment_intent_id=intent.id, amount=10_500, idempotency_key="escrow-1-refund"
    )
    account = gateway.create_account(email="a@b.test", country="FR", idempotency_key="user-1")

    rows = {
        row["object_id"]: row
        for row in DummyGatewayObject.objects.values(
            "object_id",
            "kind",
            "idempotency_key",
            "amount",
            "currency",
            "status",
            "destination",
            "source",
            "transfer_group",
            "metadata",
        )
    }
    assert rows == {
        intent.id: {
            "object_id": intent.id,
            "kind": "payment_intent",
            "idempotency_key": "escrow-1-fund-0",
            "amount": 10_500,
            "currency": "EUR",
            "status": "succeeded",
            "destination": "",
            "source": "",
            "transfer_group": "",
            "metadata": {
                "escrow_id": "1",
                "[requests]": {
                    "escrow-1-fund-0": {
                        "endpoint": "payment_intents.create",
                        "amount": 10_500,
                        "currency": "EUR",
                        "metadata": {"escrow_id": "1"},
                        "payment_method": "pm_card_visa",
                    }
                },
            },
        },
        transfer_id: {
            "object_id": transfer_id,
            "kind": "transfer",
            "idempotency_key": "escrow-1-release",
            "amount": 9_000,
            "currency": "EUR",
            "status": "paid",
            "destination": "acct_1",
            "source": "ch_1",
            "transfer_group": "milestone:1",
            "metadata": {
                "[requests]": {
                    "escrow-1-release": {
                        "endpoint": "transfers.create",
                        "amount": 9_000,
                        "currency": "EUR",
                        "destination": "acct_1",
                        "source_transaction": "ch_1",
                        "transfer_group": "milestone:1",
                    }
                }
            },
        },
        refund_id: {
            "object_id": refund_id,
            "kind": "refund",
            "idempotency_key": "escrow-1-refund",
            "amount": 10_500,
            "currency": "EUR",
            "status": "succeeded",
            "destination": "",
            "source": intent.id,
            "transfer_group": "",
            "metadata": {
                "[requests]": {
                    "escrow-1-refund": {
                        "endpoint": "refunds.create",
                        "payment_intent": intent.id,
                        "amount": 10_500,
                    }
                }
            },
        },
        account.id: {
            "object_id": account.id,
            "kind": "account",
            "idempotency_key": "user-1",
            "amount": 0,
            "currency": "",
            "status": "enabled",
            "destination": "",
            "source": "",
            "transfer_group": "",
            "metadata": {
                "[requests]": {
                    "user-1": {
                        "endpoint": "accounts.create",
                        "email": "a@b.test",
                        "country": "FR",
                        "metadata": {},
                    }
                }
            },
        },
    }


def test_a_repeated_key_never_creates_a_second_object(gateway):
    for _ in range(3):
        intent = _intent(gateway, payment_method="pm_card_visa")
        _transfer(gateway)
        gateway.create_refund(payment_intent_id=intent.id, amount=10, idempotency_key="r")
        gateway.create_account(email="a@b.test", country="FR", idempotency_key="user-1")
    assert DummyGatewayObject.objects.count() == 4


@pytest.mark.parametrize(
    "call",
    [
        lambda g: _intent(g, amount=10_501),
        lambda g: g.create_payment_intent(
            amount=10_500, currency="USD", metadata={}, idempotency_key="escrow-1-fund-0"
        ),
        lambda g: _transfer(g, key="escrow-1-fund-0"),
        lambda g: g.create_refund(
            payment_intent_id="pi_1", amount=10_500, idempotency_key="escrow-1-fund-0"
        ),
    ],
    ids=["other amount", "other currency", "a transfer", "a refund"],
)
def test_a_key_reused_for_another_request_is_refused(gateway, call):
    first = _intent(gateway, payment_method="pm_card_visa")
    with pytest.raises(IdempotencyConflict):
        call(gateway)
    assert list(DummyGatewayObject.objects.values_list("object_id", "amount", "status")) == [
        (first.id, 10_500, "succeeded")
    ]


def test_a_transfer_key_reused_for_another_destination_is_refused(gateway):
    _transfer(gateway)
    with pytest.raises(IdempotencyConflict):
        _transfer(gateway, destination="acct_2")


def test_a_key_first_used_without_a_payment_method_refuses_one(gateway):
    # Stripe compares every parameter: adding payment_method (and confirm) is another request.
    waiting = _intent(gateway)
    with pytest.raises(IdempotencyConflict):
        _intent(gateway, payment_method="pm_card_visa")
    assert gateway.retrieve_payment_intent(payment_intent_id=waiting.id).status == (
        "requires_payment_method"
    )
    assert _intent(gateway) == waiting


def test_a_declined_key_refuses_another_card_and_declines_again_when_replayed(gateway):
    with pytest.raises(PaymentDeclined):
        _intent(gateway, payment_method="pm_card_chargeDeclined")
    with pytest.raises(IdempotencyConflict):
        _intent(gateway, payment_method="pm_card_visa")
    with pytest.raises(PaymentDeclined):
        _intent(gateway, payment_method="pm_card_chargeDeclined")
    assert DummyGatewayObject.objects.get().status == "requires_payment_method"


def test_a_key_reused_with_other_metadata_is_refused(gateway):
    _intent(gateway)
    with pytest.raises(IdempotencyConflict):
        gateway.create_payment_intent(
            amount=10_500,
            currency="EUR",
            metadata={"escrow_id": "2"},
            idempotency_key="escrow-1-fund-0",
        )


def _confirm(gateway, intent_id, payment_method="pm_card_visa", key="escrow-1-fund-0-confirm"):
    return gateway.confirm_payment_intent(
        payment_intent_id=intent_id, payment_method=payment_method, idempotency_key=key
    )


def test_confirm_charges_the_waiting_intent(gateway):
    waiting = _intent(gateway)

    confirmed = _confirm(gateway, waiting.id)

    assert confirmed.id == waiting.id
    assert confirmed.client_secret == waiting.client_secret
    assert confirmed.status == "succeeded"
    assert confirmed.charge_id.startswith("ch_dummy_")
    assert gateway.retrieve_payment_intent(payment_intent_id=waiting.id) == confirmed
    assert DummyGatewayObject.objects.count() == 1


def test_a_succeeded_intent_is_answered_unchanged(gateway):
    paid = _intent(gateway, payment_method="pm_card_visa")
    assert _confirm(gateway, paid.id, payment_method="pm_card_chargeDeclined") == paid
    assert _confirm(gateway, paid.id, key="escrow-1-fund-0") == paid


def test_a_declined_confirmation_leaves_the_intent_waiting_for_another_attempt(gateway):
    waiting = _intent(gateway)

    with pytest.raises(PaymentDeclined) as declined:
        _confirm(gateway, waiting.id, payment_method="pm_card_chargeDeclinedInsufficientFunds")
    assert declined.value.decline_code == "insufficient_funds"
    assert gateway.retrieve_payment_intent(payment_intent_id=waiting.id).status == (
        "requires_payment_method"
    )
    # The same key replays the decline; another card needs another key, as on Stripe.
    with pytest.raises(PaymentDeclined):
        _confirm(gateway, waiting.id, payment_method="pm_card_chargeDeclinedInsufficientFunds")
    with pytest.raises(IdempotencyConflict):
        _confirm(gateway, waiting.id)

    confirmed = _confirm(gateway, waiting.id, key="escrow-1-fund-1-confirm")
    assert confirmed.status == "succeeded"


def test_confirm_keys_are_checked_like_any_other(gateway):
    first = _intent(gateway)
    second = _intent(gateway, key="escrow-2-fund-0")
    with pytest.raises(PaymentDeclined):
        _confirm(gateway, first.id, payment_method="pm_card_chargeDeclined", key="shared")
    with pytest.raises(IdempotencyConflict):
        _confirm(gateway, second.id, payment_method="pm_card_chargeDeclined", key="shared")
    with pytest.raises(IdempotencyConflict):
        _confirm(gateway, second.id, key="escrow-1-fund-0")  # a create's key
    assert gateway.retrieve_payment_intent(payment_intent_id=second.id).status == (
        "requires_payment_method"
    )


def test_confirm_refuses_an_unknown_intent_or_payment_method(gateway):
    waiting = _intent(gateway)
    with pytest.raises(ValidationFailed) as unknown_intent:
        _confirm(gateway, "pi_missing")
    assert unknown_intent.value.field == "payment_intent"
    with pytest.raises(ValidationFailed) as unknown_method:
        _confirm(gateway, waiting.id, payment_method="pm_bogus")
    assert unknown_method.value.field == "payment_method"
    # A 400 is not kept under the key: the same key then works with a real card.
    assert _confirm(gateway, waiting.id).status == "succeeded"


def test_refunds_never_exceed_the_charge(gateway):
    paid = _intent(gateway, payment_method="pm_card_visa")
    gateway.create_refund(payment_intent_id=paid.id, amount=10_000, idempotency_key="r-1")
    with pytest.raises(ValidationFailed) as too_much:
        gateway.create_refund(payment_intent_id=paid.id, amount=501, idempotency_key="r-2")
    assert too_much.value.field == "amount"
    gateway.create_refund(payment_intent_id=paid.id, amount=500, idempotency_key="r-2")
    # A replay of a recorded refund is no new refund.
    gateway.create_refund(payment_intent_id=paid.id, amount=500, idempotency_key="r-2")
    assert sum(
        DummyGatewayObject.objects.filter(kind="refund").values_list("amount", flat=True)
    ) == (10_500)


@pytest.mark.parametrize("intent_id", ["pi_missing", None], ids=["unknown", "not-succeeded"])
def test_a_refund_needs_a_succeeded_intent(gateway, intent_id):
    waiting = _intent(gateway)
    with pytest.raises(ValidationFailed) as refused:
        gateway.create_refund(
            payment_intent_id=intent_id or waiting.id, amount=100, idempotency_key="r"
        )
    assert refused.value.field == "payment_intent"
    assert not DummyGatewayObject.objects.filter(kind="refund").exists()


def test_accounts_keep_their_metadata_and_can_be_read_again(gateway):
    status = gateway.create_account(
        email="a@b.test", country="FR", idempotency_key="user-1-account", metadata={"user_id": "1"}
    )
    row = DummyGatewayObject.objects.get(object_id=status.id)
    assert {k: v for k, v in row.metadata.items() if k != "[requests]"} == {"user_id": "1"}
    assert gateway.retrieve_account(account_id=status.id) == AccountStatus(status.id, True)
    assert gateway.retrieve_account(account_id="acct_missing") is None
    with pytest.raises(IdempotencyConflict):
        gateway.create_account(
            email="other@b.test",
            country="FR",
            idempotency_key="user-1-account",
            metadata={"user_id": "1"},
        )


def test_the_dummy_charges_no_fee(gateway):
    paid = _intent(gateway, payment_method="pm_card_visa")
    assert gateway.retrieve_charge_fee(charge_id=paid.charge_id) == 0


def test_retrieve_answers_the_stored_objects_as_stripe_shapes_them(gateway):
    intent = _intent(gateway, payment_method="pm_card_visa")
    transfer_id = _transfer(gateway, source_transaction=intent.charge_id)
    refund_id = gateway.create_refund(
        payment_intent_id=intent.id, amount=1_500, idempotency_key="escrow-1-refund"
    )

    assert gateway.retrieve_payment_intent(payment_intent_id=intent.id) == PaymentIntentResult(
        id=intent.id,
        status="succeeded",
        client_secret=intent.client_secret,
        charge_id=intent.charge_id,
        amount=10_500,
        currency="EUR",
    )
    assert gateway.retrieve_transfer(transfer_id=transfer_id) == TransferResult(
        id=transfer_id,
        amount=9_000,
        currency="EUR",
        destination="acct_1",
        source_transaction=intent.charge_id,
        transfer_group="milestone:1",
    )
    assert gateway.retrieve_refund(refund_id=refund_id) == RefundResult(
        id=refund_id, amount=1_500, currency="EUR", status="succeeded", payment_intent=intent.id
    )


def test_retrieve_answers_none_for_an_unknown_or_other_kind_of_object(gateway):
    intent = _intent(gateway, payment_method="pm_card_visa")
    transfer_id = _transfer(gateway)
    assert gateway.retrieve_payment_intent(payment_intent_id="pi_unknown") is None
    assert gateway.retrieve_payment_intent(payment_intent_id=transfer_id) is None
    assert gateway.retrieve_transfer(transfer_id=intent.id) is None
    assert gateway.retrieve_refund(refund_id="re_unknown") is None


# Webhook signatures, checked against the Stripe SDK's own signer.

WEBHOOK_SECRET = "whsec_dummy_test"


def _event_body(**overrides) -> bytes:
    body = {
        "id": "evt_1",
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": int(time.time()),
        "data": {"object": {"id": "pi_1", "object": "payment_intent"}},
        **overrides,
    }
    return json.dumps(body).encode()


def _signed(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    return stripe.WebhookSignature.generate_signature_header(
        payload.decode(), secret, timestamp=timestamp
    )


@pytest.fixture
def webhook_secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    return WEBHOOK_SECRET


def test_a_stripe_signed_event_verifies(gateway, webhook_secret):
    payload = _event_body()
    event = gateway.construct_event(payload=payload, signature=_signed(payload))
    assert event["id"] == "evt_1"
    assert event["type"] == "payment_intent.succeeded"


def test_the_endpoint_secret_can_be_given(gateway, webhook_secret):
    payload = _event_body()
    signature = _signed(payload, secret="whsec_connect")
    assert gateway.construct_event(payload=payload, signature=signature, secret="whsec_connect")
    with pytest.raises(WebhookSignatureInvalid):
        gateway.construct_event(payload=payload, signature=signature)


def test_any_v1_signature_may_match(gateway, webhook_secret):
    # While a secret is rolled, Stripe signs with the old and the new one.
    payload = _event_body()
    timestamp = int(time.time())
    good = _signed(payload, timestamp=timestamp).split("v1=")[1]
    header = f"t={timestamp},v1={'0' * 64},v0=ignored,v1={good}"
    assert gateway.construct_event(payload=payload, signature=header)["id"] == "evt_1"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda p: (p, _signed(p, secret="whsec_someone_else")),
        lambda p: (p.replace(b"evt_1", b"evt_2"), _signed(p)),
        lambda p: (p, _signed(p, timestamp=int(time.time()) - 301)),
        lambda p: (p, ""),
        lambda p: (p, "t=notanumber,v1=abc"),
        lambda p: (p, _signed(p).replace("v1=", "v0=")),
        lambda p: (p, _signed(p).split(",")[1]),
    ],
    ids=[
        "wrong-secret",
        "altered-body",
        "older-than-300s",
        "no-header",
        "garbled-header",
        "no-v1-signature",
        "no-timestamp",
    ],
)
def test_a_bad_signature_is_refused(gateway, webhook_secret, tamper):
    payload, signature = tamper(_event_body())
    with pytest.raises(WebhookSignatureInvalid) as refused:
        gateway.construct_event(payload=payload, signature=signature)
    assert refused.value.status_code == 400


def test_a_signature_is_good_for_300_seconds(gateway, webhook_secret):
    payload = _event_body()
    with time_machine.travel(1_900_000_000, tick=False):
        signature = _signed(payload)
    with time_machine.travel(1_900_000_300, tick=False):
        gateway.construct_event(payload=payload, signature=signature)
    with time_machine.travel(1_900_000_301, tick=False), pytest.raises(WebhookSignatureInvalid):
        gateway.construct_event(payload=payload, signature=signature)


@pytest.mark.parametrize(
    "payload",
    [b"{not json", b"[1, 2]", b'{"id": "evt_1", "object": "charge"}', b"\xff\xfe"],
    ids=["bad-json", "json-list", "not-an-event", "not-utf8"],
)
def test_a_signed_body_that_is_no_event_is_refused(gateway, webhook_secret, payload):
    timestamp = int(time.time())
    if payload == b"\xff\xfe":
        signature = f"t={timestamp},v1=00"
    else:
        signature = _signed(payload, timestamp=timestamp)
    with pytest.raises(WebhookSignatureInvalid):
        gateway.construct_event(payload=payload, signature=signature)


def test_webhooks_cannot_be_read_without_a_secret(gateway, settings):
    settings.STRIPE_WEBHOOK_SECRET = ""
    payload = _event_body()
    with pytest.raises(GatewayMisconfigured):
        gateway.construct_event(payload=payload, signature=_signed(payload, secret="x"))
