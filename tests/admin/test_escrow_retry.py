from __future__ import annotations

import pytest
from django.urls import reverse

from marketplace.errors import TransientError
from payments.gateways.dummy import DummyGateway
from payments.models import Escrow, LedgerTransaction
from projects.contracts.models import Contract
from projects.contracts.services import milestone_approve
from tests.factories.milestones import submitted_milestone

pytestmark = pytest.mark.django_db

URL = reverse("admin:payments_escrow_changelist")


@pytest.fixture
def waiting(monkeypatch):  # type: ignore[no-untyped-def]
    """Two approved milestones whose transfer failed at the gateway: release_pending."""

    def down(self, **kwargs):  # type: ignore[no-untyped-def]
        raise TransientError("Stripe is down")

    milestones = [submitted_milestone(), submitted_milestone()]
    with monkeypatch.context() as patch:
        patch.setattr(DummyGateway, "create_transfer", down)
        for milestone in milestones:
            milestone_approve(milestone_id=milestone.pk, by=milestone.contract.project.created_by)
    for milestone in milestones:
        milestone.escrow.refresh_from_db()
        assert milestone.escrow.status == Escrow.Status.RELEASE_PENDING
        assert milestone.escrow.last_error == "Stripe is down"
    return milestones


def test_retrying_a_failed_transfer_pays_and_completes_the_contract(staff_client, waiting):
    first, second = waiting

    res = staff_client.post(
        URL, {"action": "retry_transfer", "_selected_action": [first.escrow_id]}, follow=True
    )

    assert res.status_code == 200
    assert "1 transfer(s) sent." in res.content.decode()
    escrow = Escrow.objects.get(pk=first.escrow_id)
    assert escrow.status == Escrow.Status.RELEASED
    assert escrow.transfer_id
    assert escrow.last_error == ""
    assert LedgerTransaction.objects.filter(escrow=escrow, kind="release").count() == 1
    assert Contract.objects.get(pk=first.contract_id).status == Contract.Status.COMPLETED
    # Only what was selected.
    assert Escrow.objects.get(pk=second.escrow_id).status == Escrow.Status.RELEASE_PENDING


def test_a_transfer_failing_again_stays_waiting_with_its_error(staff_client, waiting, monkeypatch):
    first, _ = waiting

    def down(self, **kwargs):  # type: ignore[no-untyped-def]
        raise TransientError("still down")

    monkeypatch.setattr(DummyGateway, "create_transfer", down)
    res = staff_client.post(
        URL, {"action": "retry_transfer", "_selected_action": [first.escrow_id]}, follow=True
    )

    assert "1 still waiting" in res.content.decode()
    escrow = Escrow.objects.get(pk=first.escrow_id)
    assert escrow.status == Escrow.Status.RELEASE_PENDING
    assert escrow.last_error == "still down"
    assert escrow.transfer_attempts == 2


def test_escrows_not_waiting_are_left_alone(staff_client, waiting):
    first, _ = waiting
    staff_client.post(URL, {"action": "retry_transfer", "_selected_action": [first.escrow_id]})

    res = staff_client.post(
        URL, {"action": "retry_transfer", "_selected_action": [first.escrow_id]}, follow=True
    )

    assert "0 transfer(s) sent. 1 selected escrow(s) were not waiting" in res.content.decode()
    assert LedgerTransaction.objects.filter(escrow_id=first.escrow_id, kind="release").count() == 1


def test_the_waiting_filter_lists_failed_transfers(staff_client, waiting):
    res = staff_client.get(URL, {"status__exact": "release_pending", "last_error__isempty": "0"})
    assert res.status_code == 200
    assert res.context["cl"].result_count == 2
