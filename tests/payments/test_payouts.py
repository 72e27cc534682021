from __future__ import annotations

import pytest

from payments.models import Escrow, LedgerTransaction, PayoutAccount
from payments.selectors import payout_account_get
from payments.services.escrow import (
    escrow_create,
    escrow_fund,
    escrow_release,
    escrow_release_pending_for_payee,
)
from payments.services.payouts import payout_account_onboard, payout_account_set_ready
from tests.factories import CompanyFactory, StudentFactory

pytestmark = pytest.mark.django_db

S = Escrow.Status


@pytest.fixture(autouse=True)
def fees(settings):
    settings.COMPANY_FEE_BPS = 500
    settings.STUDENT_COMMISSION_BPS = 1000
    settings.SITE_URL = "https://market.example"


def _pending(payee, reference: str, amount: int = 10_000) -> Escrow:
    escrow = escrow_create(
        reference=reference,
        company=CompanyFactory(),
        payee=payee,
        amount_cents=amount,
        currency="EUR",
    )
    escrow_fund(escrow_id=escrow.pk, actor=None, payment_method="pm_card_visa")
    assert escrow_release(escrow_id=escrow.pk, actor=None).status == S.RELEASE_PENDING
    return escrow


def test_onboarding_creates_the_account_once(monkeypatch):
    from payments.gateways.dummy import DummyGateway

    keys: list[str] = []
    real = DummyGateway.create_account

    def spy(self, **kwargs):
        keys.append(kwargs["idempotency_key"])
        return real(self, **kwargs)

    monkeypatch.setattr(DummyGateway, "create_account", spy)
    student = StudentFactory()

    first = payout_account_onboard(user=student)
    second = payout_account_onboard(user=student)

    assert first.account.pk == second.account.pk
    assert PayoutAccount.objects.filter(user=student).count() == 1
    assert keys == [f"user-{student.pk}-account"]
    assert first.account.gateway == "dummy"
    assert first.account.payouts_enabled is True
    assert first.url == f"https://market.example/payouts/return/?account={first.account.account_id}"
    assert payout_account_get(user_id=student.pk) == first.account


def test_onboarding_releases_only_this_payees_pending_money(assert_books):
    student, other = StudentFactory(), StudentFactory()
    mine = [_pending(student, "m:1", 10_000), _pending(student, "m:2", 2_345)]
    theirs = _pending(other, "m:3")

    payout_account_onboard(user=student)

    for escrow in mine:
        escrow.refresh_from_db()
        assert escrow.status == S.RELEASED
        assert assert_books(escrow)["transferred"] == escrow.payee_cents
    theirs.refresh_from_db()
    assert theirs.status == S.RELEASE_PENDING
    assert assert_books(theirs)["held"] == theirs.charge_cents
    assert LedgerTransaction.objects.filter(kind="release").count() == 2


@pytest.mark.parametrize(
    ("before", "after", "released"),
    [(False, True, True), (False, False, False), (True, False, False)],
)
def test_set_ready_releases_pending_money_only_when_it_becomes_ready(
    before, after, released, assert_books
):
    student = StudentFactory()
    account = PayoutAccount.objects.create(
        user=student, gateway="dummy", account_id="acct_1", payouts_enabled=False
    )
    escrow = _pending(student, "m:1")
    if before:
        PayoutAccount.objects.filter(pk=account.pk).update(payouts_enabled=True)

    result = payout_account_set_ready(account_id="acct_1", payouts_enabled=after)

    assert result.pk == account.pk
    assert result.payouts_enabled is after
    account.refresh_from_db()
    assert account.payouts_enabled is after
    escrow.refresh_from_db()
    assert escrow.status == (S.RELEASED if released else S.RELEASE_PENDING)
    assert_books(escrow)


def test_set_ready_ignores_an_unknown_account():
    assert payout_account_set_ready(account_id="acct_nope", payouts_enabled=True) is None


def test_release_pending_for_payee_counts_what_it_released():
    student = StudentFactory()
    _pending(student, "m:1")
    _pending(student, "m:2")
    assert escrow_release_pending_for_payee(user_id=student.pk) == []
    PayoutAccount.objects.create(
        user=student, gateway="dummy", account_id="acct_1", payouts_enabled=True
    )
    assert len(escrow_release_pending_for_payee(user_id=student.pk)) == 2
    assert escrow_release_pending_for_payee(user_id=student.pk) == []
