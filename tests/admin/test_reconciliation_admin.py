from __future__ import annotations

import pytest
from django.urls import reverse

from payments.models import DummyGatewayObject, ReconciliationRun
from tests.factories.contracts import completed_contract
from tests.twofactor import login_with_second_factor

pytestmark = pytest.mark.django_db

RUN = reverse("admin:payments_reconciliationrun_run")
LIST = reverse("admin:payments_reconciliationrun_changelist")


def test_the_list_offers_to_run_one_now(staff_client):
    page = staff_client.get(LIST).content.decode()
    assert RUN in page
    assert "Run reconciliation now" in page


def test_running_now_stores_a_run_and_shows_it(staff_client):
    completed_contract()

    res = staff_client.post(RUN)

    [run] = ReconciliationRun.objects.all()
    assert res.status_code == 302
    assert res["Location"] == reverse("admin:payments_reconciliationrun_change", args=[run.pk])
    assert (run.checked, run.ok, run.day) == (1, True, None)
    page = staff_client.get(res["Location"]).content.decode()
    assert "none" in page


def test_differences_are_shown_as_a_table(staff_client):
    contract = completed_contract()
    escrow = contract.milestones.get().escrow
    DummyGatewayObject.objects.filter(object_id=escrow.payment_intent_id).update(amount=9_999)

    res = staff_client.post(RUN, follow=True)

    [run] = ReconciliationRun.objects.all()
    assert not run.ok
    page = res.content.decode()
    assert "1 escrows checked, 1 differences." in page
    assert f"<td>{escrow.reference}</td>" in page
    assert "<td>9999</td>" in page


def test_a_day_narrows_the_run(staff_client):
    staff_client.post(RUN, {"day": "2024-02-29"})
    assert ReconciliationRun.objects.get().day.isoformat() == "2024-02-29"


def test_a_malformed_day_runs_nothing(staff_client):
    res = staff_client.post(RUN, {"day": "29/02/2024"}, follow=True)
    assert "Give the day as YYYY-MM-DD." in res.content.decode()
    assert not ReconciliationRun.objects.exists()


def test_running_needs_a_post(staff_client):
    assert staff_client.get(RUN).status_code == 405
    assert not ReconciliationRun.objects.exists()


def test_staff_without_the_permission_cannot_run_one(client):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_reconciliationrun"))
    login_with_second_factor(client, viewer)

    assert RUN not in client.get(LIST).content.decode()
    assert client.post(RUN).status_code == 403
    assert not ReconciliationRun.objects.exists()
