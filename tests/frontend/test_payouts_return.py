from __future__ import annotations

import pytest

from marketplace.models import Notification
from payments.gateways import stripe as stripe_gateway
from payments.gateways.dummy import DummyGateway
from payments.models import Escrow, PayoutAccount
from projects.contracts.models import Contract
from projects.contracts.services import milestone_approve
from tests.factories import CompanyMemberFactory, StudentFactory
from tests.factories.milestones import submitted_milestone
from tests.payments import stripe_recorder as shapes
from tests.payments.stripe_recorder import StripeRecorder

pytestmark = pytest.mark.django_db

URL = "/payouts/return/"


def _page(client, user=None) -> str:  # type: ignore[no-untyped-def]
    if user is not None:
        client.force_login(user)
    res = client.get(URL)
    assert res.status_code == 200
    assert res["Cache-Control"].startswith("max-age=0")
    return res.content.decode()


def test_anonymous_visitors_are_asked_to_sign_in(client):
    assert "Sign in to see whether your payout account is ready" in _page(client)


def test_a_company_member_has_no_payout_account(client):
    assert "Only students have payout accounts." in _page(client, CompanyMemberFactory())


def test_a_student_without_an_account_is_told_so(client):
    assert "You have not connected a payout account yet." in _page(client, StudentFactory())


def test_the_page_reads_the_account_again_and_pays_what_waited(client):
    milestone = submitted_milestone(payouts_enabled=False)
    student = milestone.contract.student
    milestone_approve(milestone_id=milestone.pk, by=None)
    assert Escrow.objects.get(pk=milestone.escrow_id).status == Escrow.Status.RELEASE_PENDING
    # The account is enabled at the (dummy) gateway; our row has not heard of it yet.
    status = DummyGateway().create_account(
        email=student.email, country="FR", idempotency_key=f"user-{student.pk}-account"
    )
    PayoutAccount.objects.filter(user=student).update(account_id=status.id)

    html = _page(client, student)

    assert "Your payout account is ready" in html
    assert Escrow.objects.get(pk=milestone.escrow_id).status == Escrow.Status.RELEASED
    assert Notification.objects.filter(user=student, key=f"money-released:{milestone.pk}").exists()
    assert Contract.objects.get(pk=milestone.contract_id).status == Contract.Status.COMPLETED


@pytest.fixture
def recorder(settings, monkeypatch) -> StripeRecorder:
    recorder = StripeRecorder()
    settings.PAYMENT_GATEWAY = "stripe"
    settings.STRIPE_SECRET_KEY = "sk_test_frontend"
    settings.STRIPE_API_BASE = ""
    monkeypatch.setattr(stripe_gateway, "_shared_http_client", lambda: recorder)
    return recorder


def test_on_stripe_coming_back_is_not_being_ready(client, recorder):
    student = StudentFactory()
    PayoutAccount.objects.create(
        user=student, gateway="stripe", account_id="acct_1", payouts_enabled=False
    )
    recorder.answer("GET", "/v1/accounts/acct_1", shapes.account(transfers="pending"))

    html = _page(client, student)

    assert "still being checked" in html
    assert [(r.method, r.path) for r in recorder.requests] == [("GET", "/v1/accounts/acct_1")]
    assert PayoutAccount.objects.get(user=student).payouts_enabled is False


def test_when_stripe_cannot_answer_the_last_known_state_is_shown(client, recorder):
    student = StudentFactory()
    PayoutAccount.objects.create(
        user=student, gateway="stripe", account_id="acct_1", payouts_enabled=True
    )
    recorder.fail_connection("GET", "/v1/accounts/acct_1", times=3)

    html = _page(client, student)

    assert "Your payout account is ready" in html
    assert "could not be reached just now" in html
