from __future__ import annotations

import pytest
from django.urls import reverse

from payments.models import Escrow, LedgerEntry, LedgerTransaction
from projects.contracts.models import Contract, Dispute
from tests.admin.conftest import disputed_contract

pytestmark = pytest.mark.django_db


@pytest.fixture
def dispute() -> Dispute:
    return disputed_contract()


def _url(dispute: Dispute) -> str:
    return reverse("admin:contracts_dispute_resolve", args=[dispute.pk])


def _books(dispute: Dispute) -> dict[str, int]:
    escrow = dispute.milestone.escrow
    entries = LedgerEntry.objects.filter(
        transaction__escrow=escrow, transaction__kind=LedgerTransaction.Kind.SETTLEMENT
    )
    return {
        e.account: e.amount_cents
        for e in entries
        if not e.account.startswith(("student:", "company:"))
    } | {
        e.account.split(":")[0]: e.amount_cents
        for e in entries
        if e.account.startswith(("student:", "company:"))
    }


def test_the_page_shows_what_is_held_and_the_list_links_to_it(staff_client, dispute):
    page = staff_client.get(_url(dispute))
    assert page.status_code == 200
    assert "105.00 EUR" in page.content.decode()
    listing = staff_client.get(reverse("admin:contracts_dispute_changelist")).content.decode()
    assert _url(dispute) in listing
    change = staff_client.get(reverse("admin:contracts_dispute_change", args=[dispute.pk]))
    assert _url(dispute) in change.content.decode()


def test_a_valid_split_settles_the_dispute_and_books_it(staff_client, dispute, superuser):
    res = staff_client.post(
        _url(dispute), {"release": "60.00", "refund": "45", "note": "Half of it was delivered"}
    )

    assert res.status_code == 302
    assert res["Location"] == reverse("admin:contracts_dispute_change", args=[dispute.pk])
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.RESOLVED
    assert (dispute.release_cents, dispute.refund_cents) == (6_000, 4_500)
    assert dispute.resolved_by == superuser
    assert dispute.resolution_note == "Half of it was delivered"
    assert Escrow.objects.get(pk=dispute.milestone.escrow_id).status == Escrow.Status.RELEASED
    # 10 % commission on the 60.00 released; no company fee on a disputed charge.
    assert _books(dispute) == {
        "escrow": -10_500,
        "student": 5_400,
        "platform:revenue": 600,
        "company": 4_500,
    }
    assert Contract.objects.get(pk=dispute.milestone.contract_id).status == "completed"


def test_a_split_over_the_held_amount_is_refused_and_changes_nothing(staff_client, dispute):
    entries = LedgerEntry.objects.count()

    res = staff_client.post(_url(dispute), {"release": "100.00", "refund": "10.00", "note": "x"})

    assert res.status_code == 200
    errors = res.context["form"].non_field_errors()
    assert errors == [
        "Release and refund must add up to the 105.00 EUR held; they add up to 110.00 EUR."
    ]
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.OPEN
    assert dispute.milestone.escrow.status == Escrow.Status.FROZEN
    assert LedgerEntry.objects.count() == entries


def test_the_services_refusal_lands_on_its_field_and_changes_nothing(staff_client, dispute):
    entries = LedgerEntry.objects.count()

    # Adds up to what is held, but more than the work's 100.00 cannot go to the student.
    res = staff_client.post(_url(dispute), {"release": "105.00", "refund": "0", "note": "All"})

    assert res.status_code == 200
    assert res.context["form"].errors["release"] == [
        "At most the work's 100.00 EUR can be released."
    ]
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.OPEN
    assert LedgerEntry.objects.count() == entries


@pytest.mark.parametrize("release", ["abc", "-5", "1.005"])
def test_amounts_that_are_not_money_are_refused(staff_client, dispute, release):
    res = staff_client.post(_url(dispute), {"release": release, "refund": "0", "note": "x"})
    assert res.status_code == 200
    assert res.context["form"].errors["release"]
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.OPEN


def test_a_resolved_dispute_cannot_be_resolved_again(staff_client, dispute):
    staff_client.post(_url(dispute), {"release": "0", "refund": "105", "note": "Refund all"})
    entries = LedgerEntry.objects.count()

    res = staff_client.post(_url(dispute), {"release": "105", "refund": "0", "note": "again"})

    assert res.status_code == 302
    assert LedgerEntry.objects.count() == entries
    assert Dispute.objects.get(pk=dispute.pk).refund_cents == 10_500


def test_only_staff_reach_the_page(client, dispute):
    from tests.factories import UserFactory

    client.force_login(UserFactory())
    assert client.get(_url(dispute)).status_code == 302  # to the admin's log-in
    res = client.post(_url(dispute), {"release": "0", "refund": "105", "note": "x"})
    assert res.status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.OPEN
