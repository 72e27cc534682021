"""Both parties' contract pages show how a dispute was settled, not a full payment."""

from __future__ import annotations

import pytest
from django.urls import reverse

from frontend.money import format_money
from marketplace.models import User
from payments.services.payouts import payout_account_onboard
from projects.contracts.disputes import dispute_resolve, milestone_dispute
from projects.contracts.services import milestone_submit
from tests.factories import UserFactory
from tests.factories.contracts import active_contract

pytestmark = pytest.mark.django_db


@pytest.fixture
def settled():  # type: ignore[no-untyped-def]
    contract = active_contract(amounts=(100_000,))
    (milestone,) = contract.milestones.all()
    payout_account_onboard(user=contract.student)
    milestone_submit(milestone_id=milestone.pk, by=contract.student, note="Done")
    dispute = milestone_dispute(
        milestone_id=milestone.pk, by=contract.project.created_by, reason="Half of it is missing"
    )
    staff = UserFactory(is_staff=True, role=User.Role.ADMIN)
    held = milestone.escrow.charge_cents
    dispute_resolve(
        dispute_id=dispute.pk,
        by=staff,
        release_cents=50_000,
        refund_cents=held - 50_000,
        note="Half was delivered.",
    )
    return contract, held - 50_000


@pytest.mark.parametrize(
    ("side", "url_name"),
    [("company", "frontend:company-contract"), ("student", "frontend:student-contract")],
)
def test_the_split_is_on_the_contract_page(client, settled, side, url_name):  # type: ignore[no-untyped-def]
    contract, refunded = settled
    client.force_login(contract.project.created_by if side == "company" else contract.student)
    page = client.get(reverse(url_name, args=[contract.pk])).content.decode()
    assert "Settled after a dispute" in page
    assert "€500.00 released towards the student" in page
    assert f"{format_money(refunded, 'EUR')} refunded to the company" in page
    assert "Half was delivered." in page


def test_the_split_reads_in_french(client, settled):  # type: ignore[no-untyped-def]
    contract, _ = settled
    client.force_login(contract.project.created_by)
    url = reverse("frontend:company-contract", args=[contract.pk])
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Réglée après un litige" in page
    assert "500,00\xa0€ versés côté étudiant" in page
