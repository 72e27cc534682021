from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from marketplace.errors import ValidationFailed
from payments.gateways import get_gateway
from payments.gateways.base import (
    IdempotencyConflict,
    PaymentDeclined,
    PaymentIntentResult,
    RefundResult,
    TransferResult,
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
    refund = gateway.create_refund(payment_intent_id="pi_1", amount=10, idempotency_key="r")
    assert refund.startswith("re_dummy_")
    assert refund == gateway.create_refund(payment_intent_id="pi_1", amount=10, idempotency_key="r")


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
            "metadata": {"escrow_id": "1"},
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
            "metadata": {},
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
            "metadata": {},
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
            "metadata": {"email": "a@b.test", "country": "FR"},
        },
    }


def test_a_repeated_key_never_creates_a_second_object(gateway):
    for _ in range(3):
        _intent(gateway, payment_method="pm_card_visa")
        _transfer(gateway)
        gateway.create_refund(payment_intent_id="pi_1", amount=10, idempotency_key="r")
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


def test_an_intent_waiting_for_a_payment_method_is_confirmed_under_its_key(gateway):
    waiting = _intent(gateway)
    with pytest.raises(PaymentDeclined):
        _intent(gateway, payment_method="pm_card_chargeDeclined")
    assert gateway.retrieve_payment_intent(payment_intent_id=waiting.id).status == (
        "requires_payment_method"
    )

    confirmed = _intent(gateway, payment_method="pm_card_visa")

    assert confirmed.id == waiting.id
    assert confirmed.client_secret == waiting.client_secret
    assert confirmed.status == "succeeded"
    assert confirmed.charge_id.startswith("ch_dummy_")
    assert _intent(gateway, payment_method="pm_card_chargeDeclined") == confirmed
    assert DummyGatewayObject.objects.get().status == "succeeded"


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
