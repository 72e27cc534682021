"""The contracts admin reads the policies: what each party may do now, and whether a dispute
may still be resolved."""

from __future__ import annotations

import pytest

from projects.contracts.models import Dispute
from tests.admin.conftest import disputed_contract
from tests.factories.contracts import active_contract

pytestmark = pytest.mark.django_db


def test_the_contract_page_says_what_each_party_may_do_now(staff_client):
    contract = active_contract(funded=False)
    html = staff_client.get(f"/admin/contracts/contract/{contract.pk}/change/").content.decode()
    assert "what the parties may do now" in html.lower()
    assert "Step 1: fund" in html  # the company
    assert "The company has not paid this milestone into escrow yet" in html  # the student


def test_a_resolved_dispute_offers_no_resolve_link_and_says_why(staff_client):
    dispute = disputed_contract()
    listing = staff_client.get("/admin/contracts/dispute/").content.decode()
    assert f"/admin/contracts/dispute/{dispute.pk}/resolve/" in listing
    Dispute.objects.filter(pk=dispute.pk).update(status=Dispute.Status.RESOLVED)
    listing = staff_client.get("/admin/contracts/dispute/").content.decode()
    assert f"/admin/contracts/dispute/{dispute.pk}/resolve/" not in listing
    res = staff_client.get(f"/admin/contracts/dispute/{dispute.pk}/resolve/", follow=True)
    assert "This dispute is already resolved." in res.content.decode()
