"""The pages show a button when the policy allows the action, and, when it refuses it for a
reason worth telling, a disabled button with that reason (never the working control)."""

from __future__ import annotations

import pytest

from projects.briefs.models import Project
from projects.briefs.services import bid_submit
from projects.contracts.disputes import milestone_dispute
from projects.contracts.models import Dispute
from projects.contracts.services import contract_cancel, milestone_submit
from tests.factories import (
    CompanyMemberFactory,
    ProjectFactory,
    StudentFactory,
    VerifiedStudentFactory,
)
from tests.factories.contracts import active_contract

pytestmark = pytest.mark.django_db


def _page(client, user, url: str) -> str:  # type: ignore[no-untyped-def]
    client.force_login(user)
    res = client.get(url)
    assert res.status_code == 200
    return res.content.decode()


def test_a_cancelled_contract_shows_a_disabled_fund_with_the_reason(client):
    contract = active_contract(funded=False)
    owner = contract.project.created_by
    contract_cancel(contract_id=contract.pk, by=owner, reason="Plans changed")
    milestone = contract.milestones.get()
    html = _page(client, owner, f"/company/contracts/{contract.pk}/")
    assert f"/company/milestones/{milestone.pk}/fund/" not in html
    assert "Fund this milestone" in html and "disabled" in html
    assert "The contract is cancelled." in html


def test_an_active_contract_links_to_funding(client):
    contract = active_contract(funded=False)
    milestone = contract.milestones.get()
    html = _page(client, contract.project.created_by, f"/company/contracts/{contract.pk}/")
    assert f"/company/milestones/{milestone.pk}/fund/" in html
    assert "disabled" not in html


def test_the_student_waits_for_funding_and_is_told_why(client):
    contract = active_contract(funded=False)
    milestone = contract.milestones.get()
    html = _page(client, contract.student, f"/student/contracts/{contract.pk}/")
    assert f"/student/milestones/{milestone.pk}/deliver/" not in html
    assert "The company has not paid this milestone into escrow yet: wait before you start." in html


def test_a_dispute_replaces_approval_and_changes_with_its_reason(client):
    contract = active_contract()
    milestone = contract.milestones.get()
    milestone_submit(milestone_id=milestone.pk, by=contract.student, note="done")
    milestone_dispute(milestone_id=milestone.pk, by=contract.student, reason="Unpaid extra work")
    assert Dispute.objects.filter(milestone=milestone, status=Dispute.Status.OPEN).exists()
    html = _page(client, contract.project.created_by, f"/company/contracts/{contract.pk}/")
    assert f"/company/milestones/{milestone.pk}/approve/" not in html
    assert f"/company/milestones/{milestone.pk}/changes/" not in html
    assert f"/company/milestones/{milestone.pk}/dispute/" not in html
    assert "A dispute is open" in html


def test_a_disputed_milestone_is_not_offered_for_funding_and_says_the_dispute_once(client):
    contract = active_contract()
    milestone = contract.milestones.get()
    milestone_submit(milestone_id=milestone.pk, by=contract.student, note="done")
    milestone_dispute(milestone_id=milestone.pk, by=contract.student, reason="Unpaid extra work")
    html = _page(client, contract.project.created_by, f"/company/contracts/{contract.pk}/")
    assert "Fund this milestone" not in html  # its money is paid in (and frozen)
    assert "disabled" not in html
    assert html.count("A dispute is open") == 1
    assert "the platform&#x27;s staff settle it first" not in html


def test_publishing_a_restricted_brief_without_schools_is_disabled_with_why(client):
    owner = CompanyMemberFactory()
    project = ProjectFactory(
        company=owner.company_membership.company,
        created_by=owner,
        status=Project.Status.DRAFT,
        visibility=Project.Visibility.SCHOOLS,
    )
    html = _page(client, owner, f"/company/briefs/{project.pk}/")
    assert f"/company/briefs/{project.pk}/publish/" not in html
    assert "Choose at least one school for a restricted brief." in html
    assert f"/company/briefs/{project.pk}/edit/" in html  # allowed: shown


def test_an_unverified_student_sees_why_and_no_bid_form(client):
    project = ProjectFactory()
    html = _page(client, StudentFactory(), f"/student/briefs/{project.pk}/")
    assert 'name="cover_letter"' not in html
    assert "Only verified students can bid. Verify your student status first." in html


def test_a_bid_whose_student_is_no_longer_verified_cannot_be_accepted(client):
    project = ProjectFactory()
    student = VerifiedStudentFactory()
    bid = bid_submit(
        project_id=project.pk, by=student, amount_cents=10_000, estimated_days=3, cover_letter="Hi"
    )
    student.enrolment_verifications.update(status="revoked")
    html = _page(client, project.created_by, f"/company/briefs/{project.pk}/bids/")
    assert f"/company/bids/{bid.pk}/accept/" not in html
    assert "verification is no longer in force" in html
    assert f"/company/bids/{bid.pk}/reject/" in html


def test_the_french_page_gives_the_reason_in_french(client):
    contract = active_contract(funded=False)
    owner = contract.project.created_by
    contract_cancel(contract_id=contract.pk, by=owner, reason="Plans changed")
    client.force_login(owner)
    res = client.get(f"/company/contracts/{contract.pk}/", HTTP_ACCEPT_LANGUAGE="fr")
    assert "Le contrat est annulé." in res.content.decode()
