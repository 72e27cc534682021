from __future__ import annotations

import pytest

from payments.gateways import stripe as stripe_gateway
from payments.models import DummyGatewayObject, Escrow, LedgerTransaction, PayoutAccount
from payments.selectors import payout_account_get
from payments.services.payouts import (
    payout_account_onboard,
    payout_account_refresh,
    payout_account_set_ready,
    payout_accounts_refresh_not_ready,
)
from payments.services.releases import (
    escrow_release_pending_for_payee,
    escrow_retry_pending_releases,
)
from payments.tasks import refresh_payout_accounts_task
from tests.factories import StudentFactory
from tests.factories.escrows import make_escrow
from tests.payments import stripe_recorder as shapes
from tests.payments.stripe_recorder import StripeRecorder

pytestmark = pytest.mark.django_db

S = Escrow.Status


@pytest.fixture(autouse=True)
def fees(settings):
    settings.COMPANY_FEE_BPS = 500
    settings.STUDENT_COMMISSION_BPS = 1000
    settings.SITE_URL = "https://market.example"


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
    mine = [
        make_escrow(payee=student, amount_cents=10_000, status=S.RELEASE_PENDING),
        make_escrow(payee=student, amount_cents=2_345, status=S.RELEASE_PENDING),
    ]
    theirs = make_escrow(payee=other, status=S.RELEASE_PENDING)

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
    escrow = make_escrow(payee=student, status=S.RELEASE_PENDING)
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
    make_escrow(payee=student, status=S.RELEASE_PENDING)
    make_escrow(payee=student, status=S.RELEASE_PENDING)
    assert escrow_release_pending_for_payee(user_id=student.pk) == []
    PayoutAccount.objects.create(
        user=student, gateway="dummy", account_id="acct_1", payouts_enabled=True
    )
    assert len(escrow_release_pending_for_payee(user_id=student.pk)) == 2
    assert escrow_release_pending_for_payee(user_id=student.pk) == []


def test_onboarding_names_the_user_in_the_account_metadata():
    student = StudentFactory()
    account = payout_account_onboard(user=student).account
    row = DummyGatewayObject.objects.get(object_id=account.account_id)
    assert row.metadata["user_id"] == str(student.pk)


def test_refresh_on_the_dummy_gateway_reads_its_ready_account():
    student = StudentFactory()
    assert payout_account_refresh(user=student) is None
    account = payout_account_onboard(user=student).account
    PayoutAccount.objects.filter(pk=account.pk).update(payouts_enabled=False)
    escrow = make_escrow(payee=student, status=S.RELEASE_PENDING)

    assert payout_account_refresh(user=student).payouts_enabled is True

    escrow.refresh_from_db()
    assert escrow.status == S.RELEASED


# The same on the real Stripe gateway, over the recorder of tests/payments/stripe_recorder.py
# (Stripe's Connect endpoints cannot be reached from here; it checks Stripe's request shapes).


@pytest.fixture
def recorder(settings, monkeypatch) -> StripeRecorder:
    recorder = StripeRecorder()
    settings.PAYMENT_GATEWAY = "stripe"
    settings.STRIPE_SECRET_KEY = "sk_test_payouts"
    settings.STRIPE_API_BASE = ""
    monkeypatch.setattr(stripe_gateway, "_shared_http_client", lambda: recorder)
    return recorder


def _stripe_pending(recorder: StripeRecorder, payee, reference: str) -> Escrow:
    recorder.answer("POST", "/v1/payment_intents", shapes.payment_intent(id=f"pi_{reference}"))
    recorder.answer(
        "GET", "/v1/charges/ch_1", shapes.charge(balance_transaction=None)
    )  # fee not known yet
    escrow = make_escrow(payee=payee, reference=reference, status=S.RELEASE_PENDING)
    recorder.requests.clear()
    return escrow


def test_stripe_onboarding_waits_for_the_gateway_then_a_refresh_releases(recorder):
    student = StudentFactory()
    escrow = _stripe_pending(recorder, student, "m1")
    recorder.answer("POST", "/v1/accounts", shapes.account(id="acct_9"))
    recorder.answer("POST", "/v1/account_links", shapes.account_link())

    link = payout_account_onboard(user=student)

    create, _ = recorder.requests
    assert (create.path, create.idempotency_key) == ("/v1/accounts", f"user-{student.pk}-account")
    assert create.form["metadata[user_id]"] == str(student.pk)
    assert (link.account.account_id, link.account.payouts_enabled) == ("acct_9", False)
    assert link.url == "https://connect.stripe.com/setup/e/acct_1/Xyz"

    recorder.requests.clear()
    # Back from onboarding, but Stripe is still checking: nothing changes.
    recorder.answer("GET", "/v1/accounts/acct_9", shapes.account(id="acct_9"))
    assert payout_account_refresh(user=student).payouts_enabled is False
    escrow.refresh_from_db()
    assert escrow.status == S.RELEASE_PENDING

    recorder.answer(
        "GET",
        "/v1/accounts/acct_9",
        shapes.account(id="acct_9", payouts_enabled=True, transfers="active"),
    )
    recorder.answer("POST", "/v1/transfers", shapes.transfer(destination="acct_9"))
    assert payout_account_refresh(user=student).payouts_enabled is True

    assert [(r.method, r.path, r.idempotency_key) for r in recorder.requests] == [
        ("GET", "/v1/accounts/acct_9", None),
        ("GET", "/v1/accounts/acct_9", None),
        ("POST", "/v1/transfers", f"escrow-{escrow.pk}-release"),
    ]
    escrow.refresh_from_db()
    assert escrow.status == S.RELEASED


def test_refresh_asks_nothing_about_another_gateways_or_a_missing_account(recorder):
    student, other = StudentFactory(), StudentFactory()
    PayoutAccount.objects.create(
        user=student, gateway="dummy", account_id="acct_dummy", payouts_enabled=False
    )
    PayoutAccount.objects.create(
        user=other, gateway="stripe", account_id="acct_gone", payouts_enabled=False
    )
    recorder.answer(
        "GET",
        "/v1/accounts/acct_gone",
        shapes.error("invalid_request_error", "No such account", code="resource_missing"),
        status=404,
    )

    assert payout_account_refresh(user=student).payouts_enabled is False
    assert payout_account_refresh(user=other).payouts_enabled is False
    assert [r.path for r in recorder.requests] == ["/v1/accounts/acct_gone"]


def test_the_periodic_refresh_records_readiness_and_the_release_retry_pays(recorder):
    ready_now, still_checking, broken = StudentFactory(), StudentFactory(), StudentFactory()
    already = StudentFactory()
    for user, account_id in [
        (ready_now, "acct_a"),
        (still_checking, "acct_b"),
        (broken, "acct_c"),
    ]:
        PayoutAccount.objects.create(
            user=user, gateway="stripe", account_id=account_id, payouts_enabled=False
        )
    PayoutAccount.objects.create(
        user=already, gateway="stripe", account_id="acct_d", payouts_enabled=True
    )
    escrow = _stripe_pending(recorder, ready_now, "m1")
    recorder.answer(
        "GET",
        "/v1/accounts/acct_a",
        shapes.account(id="acct_a", payouts_enabled=True, transfers="active"),
    )
    recorder.answer("GET", "/v1/accounts/acct_b", shapes.account(id="acct_b"))
    recorder.fail_connection("GET", "/v1/accounts/acct_c", times=3)

    assert refresh_payout_accounts_task.delay().get() == 1

    assert sorted({r.path for r in recorder.requests}) == [
        "/v1/accounts/acct_a",
        "/v1/accounts/acct_b",
        "/v1/accounts/acct_c",
    ]
    assert set(
        PayoutAccount.objects.filter(payouts_enabled=True).values_list("account_id", flat=True)
    ) == {"acct_a", "acct_d"}
    # Readiness only: the money goes out with the scheduled release retry.
    escrow.refresh_from_db()
    assert escrow.status == S.RELEASE_PENDING
    recorder.answer("POST", "/v1/transfers", shapes.transfer(destination="acct_a"))
    assert escrow_retry_pending_releases() == [escrow.pk]
    # The next run asks only about those still not ready.
    recorder.requests.clear()
    recorder.answer("GET", "/v1/accounts/acct_b", shapes.account(id="acct_b"))
    recorder.answer("GET", "/v1/accounts/acct_c", shapes.account(id="acct_c"))
    assert payout_accounts_refresh_not_ready() == []
    assert sorted(r.path for r in recorder.requests) == [
        "/v1/accounts/acct_b",
        "/v1/accounts/acct_c",
    ]
