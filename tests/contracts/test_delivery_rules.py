"""A delivery carries something, and a change request says what to change."""

from __future__ import annotations

import pytest

from projects.contracts.models import Delivery, Milestone
from tests.factories.contracts import active_contract

pytestmark = pytest.mark.django_db


@pytest.fixture
def contract():  # type: ignore[no-untyped-def]
    return active_contract()


@pytest.mark.parametrize("body", [{}, {"note": "   "}, {"note": "", "url": ""}])
def test_an_empty_delivery_is_a_400_and_starts_nothing(as_user, contract, body):  # type: ignore[no-untyped-def]
    (milestone,) = contract.milestones.all()
    res = as_user(contract.student).post(
        f"/api/v1/milestones/{milestone.pk}/submit/", body, format="json"
    )
    assert res.status_code == 400
    assert list(res.json()["errors"]) == ["note"]
    milestone.refresh_from_db()
    assert milestone.work_status == Milestone.WorkStatus.PENDING
    assert milestone.submitted_at is None
    assert not Delivery.objects.exists()


@pytest.mark.parametrize("body", [{"url": "https://example.com/site"}, {"note": "Mock-ups"}])
def test_a_link_or_a_note_is_a_delivery(as_user, contract, body):  # type: ignore[no-untyped-def]
    (milestone,) = contract.milestones.all()
    res = as_user(contract.student).post(
        f"/api/v1/milestones/{milestone.pk}/submit/", body, format="json"
    )
    assert res.status_code == 200, res.content
    assert Delivery.objects.filter(milestone=milestone).count() == 1


def test_changes_are_asked_with_a_note(as_user, contract):  # type: ignore[no-untyped-def]
    (milestone,) = contract.milestones.all()
    as_user(contract.student).post(
        f"/api/v1/milestones/{milestone.pk}/submit/", {"note": "Done"}, format="json"
    )
    company = as_user(contract.project.created_by)
    url = f"/api/v1/milestones/{milestone.pk}/request-changes/"
    for body in ({}, {"note": "  "}):
        res = company.post(url, body, format="json")
        assert res.status_code == 400
        assert list(res.json()["errors"]) == ["note"]
        milestone.refresh_from_db()
        assert milestone.work_status == Milestone.WorkStatus.SUBMITTED
        assert not milestone.events.filter(to_status="changes_requested").exists()
    assert company.post(url, {"note": "Darker header"}, format="json").status_code == 200
