from __future__ import annotations

import pytest
from django.test import Client

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
HTMX = {"HTTP_HX_REQUEST": "true"}


def _page(client, user=None, *, method: str = "get", **extra) -> str:  # type: ignore[no-untyped-def]
    if user is not None:
        client.force_login(user)
    res = getattr(client, method)(URL, **extra)
    assert res.status_code == 200
    assert res["Cache-Control"].startswith("max-age=0")
    return res.content.decode()


def _waiting_milestone():  # type: ignore[no-untyped-def]
    # Approved, its money waiting for the student's account, which the (dummy) gateway
    # has enabled while our row has not heard of it yet.
    milestone = submitted_milestone(payouts_enabled=False)
    student = milestone.contract.student
    milestone_approve(milestone_id=milestone.pk, by=None)
    assert Escrow.objects.get(pk=milestone.escrow_id).status == Escrow.Status.RELEASE_PENDING
    status = DummyGateway().create_account(
        email=student.email, country="FR", idempotency_key=f"user-{student.pk}-account"
    )
    PayoutAccount.objects.filter(user=student).update(account_id=status.id)
    return milestone


def test_anonymous_visitors_are_asked_to_sign_in(client):
    assert "Sign in to see whether your payout account is ready" in _page(client)


def test_anonymous_visitors_get_a_sign_in_link_back_here(client):
    assert 'href="/signin/?next=/payouts/return/">Sign in</a>' in _page(client)


@pytest.mark.parametrize("method", ["get", "post"])
def test_the_student_has_a_way_onward(client, method):
    html = _page(client, StudentFactory(), method=method)
    assert 'href="/student/">Your dashboard</a>' in html
    assert 'href="/student/contracts/">Your contracts</a>' in html
    # Outside the part the check replaces, so the links stay.
    state_ends = html.index("</div>", html.index('id="payout-state"'))
    assert state_ends < html.index(">Your contracts</a>")


def test_the_way_onward_speaks_french(client):
    client.force_login(StudentFactory())
    html = client.get(URL, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert ">Votre tableau de bord</a>" in html and ">Vos contrats</a>" in html


def test_a_company_member_has_no_payout_account(client):
    assert "Only students have payout accounts." in _page(client, CompanyMemberFactory())


def test_a_student_without_an_account_is_told_so(client):
    assert "You have not connected a payout account yet." in _page(client, StudentFactory())


def test_a_student_without_an_account_is_sent_to_connect_one_and_not_asked_to_check(client):
    html = _page(client, StudentFactory(), method="post")
    assert 'href="/student/payouts/"' in html
    assert "Check my payout account" not in html


def test_the_page_shows_the_known_state_and_asks_for_the_check_without_paying(client):
    milestone = _waiting_milestone()
    student = milestone.contract.student

    html = _page(client, student)

    assert "still being checked" in html
    assert "This is the state we last recorded" in html
    assert 'hx-post="/payouts/return/"' in html
    assert 'hx-trigger="load, submit"' in html
    assert 'hx-target="#payout-state"' in html
    assert '<div id="payout-state" aria-live="polite">' in html
    assert "csrfmiddlewaretoken" in html
    assert ">Check my payout account</button>" in html
    assert Escrow.objects.get(pk=milestone.escrow_id).status == Escrow.Status.RELEASE_PENDING
    assert PayoutAccount.objects.get(user=student).payouts_enabled is False


def test_the_refresh_url_shows_the_same_page_read_only(client):
    milestone = _waiting_milestone()
    client.force_login(milestone.contract.student)
    res = client.get("/payouts/refresh/")
    assert res.status_code == 200
    assert "Check my payout account" in res.content.decode()
    assert Escrow.objects.get(pk=milestone.escrow_id).status == Escrow.Status.RELEASE_PENDING


def test_the_check_reads_the_account_again_and_pays_what_waited(client):
    milestone = _waiting_milestone()
    student = milestone.contract.student

    html = _page(client, student, method="post")

    assert "<h1>Payout account</h1>" in html
    assert "Your payout account is ready" in html
    assert "This is the state we last recorded" not in html
    assert "hx-trigger" not in html
    assert Escrow.objects.get(pk=milestone.escrow_id).status == Escrow.Status.RELEASED
    assert Notification.objects.filter(user=student, key=f"money-released:{milestone.pk}").exists()
    assert Contract.objects.get(pk=milestone.contract_id).status == Contract.Status.COMPLETED


def test_htmx_gets_the_checked_state_alone(client):
    milestone = _waiting_milestone()

    html = _page(client, milestone.contract.student, method="post", **HTMX)

    assert "<h1>" not in html and 'id="payout-state"' not in html
    assert "Your payout account is ready" in html
    assert 'hx-post="/payouts/return/"' in html and "hx-trigger" not in html
    assert Escrow.objects.get(pk=milestone.escrow_id).status == Escrow.Status.RELEASED


def test_the_check_needs_the_csrf_token():
    milestone = _waiting_milestone()
    client = Client(enforce_csrf_checks=True)
    client.force_login(milestone.contract.student)
    assert client.post(URL).status_code == 403
    assert Escrow.objects.get(pk=milestone.escrow_id).status == Escrow.Status.RELEASE_PENDING


def test_anonymous_visitors_who_post_are_asked_to_sign_in(client):
    assert "Sign in to see whether your payout account is ready" in _page(client, method="post")


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

    assert "still being checked" in _page(client, student)
    assert recorder.requests == []

    html = _page(client, student, method="post")

    assert "still being checked" in html
    assert [(r.method, r.path) for r in recorder.requests] == [("GET", "/v1/accounts/acct_1")]
    assert PayoutAccount.objects.get(user=student).payouts_enabled is False


def test_when_stripe_cannot_answer_the_last_known_state_is_shown(client, recorder):
    student = StudentFactory()
    PayoutAccount.objects.create(
        user=student, gateway="stripe", account_id="acct_1", payouts_enabled=True
    )
    recorder.fail_connection("GET", "/v1/accounts/acct_1", times=3)

    html = _page(client, student, method="post", **HTMX)

    assert "Your payout account is ready" in html
    assert "could not be reached just now" in html
