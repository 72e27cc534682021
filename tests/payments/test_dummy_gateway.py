from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from payments.gateways import get_gateway
from payments.gateways.base import PaymentDeclined
from payments.gateways.dummy import DummyGateway


@pytest.fixture
def gateway() -> DummyGateway:
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
        ("card_4242", "invalid_payment_method"),
    ],
)
def test_declining_payment_methods(gateway, payment_method, decline_code):
    with pytest.raises(PaymentDeclined) as exc:
        _intent(gateway, payment_method=payment_method)
    assert exc.value.decline_code == decline_code
    assert exc.value.status_code == 402
    assert exc.value.code == "payment_failed"


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
