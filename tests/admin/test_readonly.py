from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from tests.admin.conftest import add_world

pytestmark = pytest.mark.django_db

# Money, ledger and audit rows: written by services only, never edited or deleted by hand.
READ_ONLY = [
    "payments.LedgerEntry",
    "payments.LedgerTransaction",
    "payments.Escrow",
    "payments.EscrowEvent",
    "payments.StripeEvent",
    "payments.Chargeback",
    "payments.PayoutAccount",
    "payments.ReconciliationRun",
    "payments.DummyGatewayObject",
    "schools.VerificationEvent",
    "contracts.MilestoneEvent",
    "contracts.Milestone",
    "contracts.Contract",
    "contracts.ContractEvent",
    "briefs.Bid",
    "briefs.BidEvent",
    "briefs.ProjectEvent",
    "contracts.Dispute",
    "contracts.DisputeEvent",
]


@pytest.mark.parametrize("label", READ_ONLY)
def test_money_and_audit_rows_cannot_be_added_changed_or_deleted(staff_client, label):
    add_world()
    model = apps.get_model(label)
    model_admin = admin.site._registry[model]
    obj = model._default_manager.order_by("pk").first()
    opts = model._meta
    before = model._default_manager.count()

    change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    delete = reverse(f"admin:{opts.app_label}_{opts.model_name}_delete", args=[obj.pk])
    add = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")

    page = staff_client.get(change)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert staff_client.post(change, {}).status_code == 403
    assert staff_client.post(delete, {"post": "yes"}).status_code == 403
    assert staff_client.get(add).status_code == 403
    assert model._default_manager.count() == before
    assert "delete_selected" not in model_admin.get_actions(page.wsgi_request)


def test_a_ledger_entry_posted_back_keeps_its_amount(staff_client):
    from payments.models import LedgerEntry

    add_world()
    entry = LedgerEntry.objects.order_by("pk").first()
    url = reverse("admin:payments_ledgerentry_change", args=[entry.pk])

    staff_client.post(url, {"account": "student:1", "amount_cents": 1, "currency": "EUR"})

    entry_after = LedgerEntry.objects.get(pk=entry.pk)
    assert (entry_after.account, entry_after.amount_cents) == (entry.account, entry.amount_cents)
