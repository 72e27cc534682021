from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.admin.conftest import add_world

pytestmark = pytest.mark.django_db

OUR_APPS = ("marketplace", "schools", "payments", "briefs", "contracts", "reviews", "messaging")


def _url(model, view: str, *args) -> str:  # type: ignore[no-untyped-def]
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_every_model_of_the_apps_is_in_the_admin():
    models = [m for label in OUR_APPS for m in apps.get_app_config(label).get_models()]
    missing = [m._meta.label for m in models if not admin.site.is_registered(m)]
    assert missing == []


def test_every_changelist_and_change_page_opens_for_a_superuser(staff_client):
    add_world()
    without_rows = []
    for model in admin.site._registry:
        listing = staff_client.get(_url(model, "changelist"))
        assert listing.status_code == 200, model._meta.label
        obj = model._default_manager.order_by("pk").first()
        if obj is None:
            without_rows.append(model._meta.label)
            continue
        page = staff_client.get(_url(model, "change", obj.pk))
        assert page.status_code == 200, model._meta.label
    assert without_rows == []


def test_changelists_search_and_filter_without_errors(staff_client):
    add_world()
    for model, model_admin in admin.site._registry.items():
        if model_admin.search_fields:
            res = staff_client.get(_url(model, "changelist"), {"q": "a"})
            assert res.status_code == 200, model._meta.label


MAIN_CHANGELISTS = [
    "marketplace.User",
    "marketplace.StudentProfile",
    "marketplace.CompanyMembership",
    "marketplace.Notification",
    "schools.EnrolmentVerification",
    "schools.VerificationEvent",
    "schools.Coordinator",
    "payments.Escrow",
    "payments.EscrowEvent",
    "payments.LedgerTransaction",
    "payments.LedgerEntry",
    "payments.PayoutAccount",
    "payments.Chargeback",
    "payments.StripeEvent",
    "briefs.Project",
    "briefs.ProjectEvent",
    "briefs.Bid",
    "briefs.BidEvent",
    "contracts.Contract",
    "contracts.ContractEvent",
    "contracts.Milestone",
    "contracts.MilestoneEvent",
    "contracts.Delivery",
    "contracts.Dispute",
    "contracts.DisputeEvent",
    "reviews.Review",
    "messaging.Message",
    "messaging.Thread",
    "messaging.Attachment",
]


@pytest.mark.parametrize("label", MAIN_CHANGELISTS)
def test_a_changelist_runs_the_same_queries_for_more_rows(staff_client, label):
    model = apps.get_model(label)
    url = _url(model, "changelist")
    add_world()
    staff_client.get(url)  # warm the caches (content types, sessions)
    with CaptureQueriesContext(connection) as few:
        assert staff_client.get(url).status_code == 200
    rows = model._default_manager.count()
    add_world()
    add_world()
    assert model._default_manager.count() > rows
    with CaptureQueriesContext(connection) as more:
        assert staff_client.get(url).status_code == 200
    assert len(more) == len(few), [q["sql"] for q in more.captured_queries]


def test_money_columns_show_the_amount_with_its_currency(staff_client):
    world = add_world()
    escrow = world.done.milestones.get().escrow
    page = staff_client.get(_url(escrow.__class__, "changelist")).content.decode()
    assert "100.00 EUR" in page
    assert "105.00 EUR" in page
