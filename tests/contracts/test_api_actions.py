"""The API's `actions` field: what the requesting user may do with a brief, a bid, a contract and
a milestone, read from the policies (an addition: every other field stays)."""

from __future__ import annotations

import pytest

from projects.briefs.services import bid_submit
from projects.contracts.services import milestone_submit
from tests.factories import VerifiedStudentFactory
from tests.factories.contracts import active_contract, open_brief

pytestmark = pytest.mark.django_db


def _by_name(actions: list[dict]) -> dict[str, dict]:
    assert all(set(a) == {"name", "allowed", "reason"} for a in actions)
    return {a["name"]: a for a in actions}


def _milestone_actions(client, contract_id: int) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    res = client.get(f"/api/v1/contracts/{contract_id}/")
    assert res.status_code == 200
    [milestone] = res.json()["milestones"]
    assert milestone["status"] == "funded"  # the existing fields stay
    return _by_name(milestone["actions"])


def test_a_funded_milestone_tells_the_company_and_the_student_what_each_may_do(as_user):
    contract = active_contract()
    company = _milestone_actions(as_user(contract.project.created_by), contract.pk)
    student = _milestone_actions(as_user(contract.student), contract.pk)

    assert list(company) == ["fund", "submit", "approve", "request_changes", "dispute"]
    assert {n for n, a in company.items() if a["allowed"]} == {"dispute"}
    assert company["fund"]["reason"] == "This milestone is already paid into escrow."
    assert company["submit"]["reason"] == "Only the student of this contract delivers."
    assert company["approve"]["reason"] == "Nothing was delivered yet."
    assert company["dispute"]["reason"] == ""

    assert {n for n, a in student.items() if a["allowed"]} == {"submit", "dispute"}
    assert student["fund"]["reason"] == "Only the company of this contract funds its milestones."
    assert student["submit"]["reason"] == ""


def test_after_a_delivery_the_company_may_approve_and_the_student_waits(as_user):
    contract = active_contract()
    milestone = contract.milestones.get()
    milestone_submit(milestone_id=milestone.pk, by=contract.student, note="done")
    res = as_user(contract.project.created_by).post(f"/api/v1/milestones/{milestone.pk}/approve/")
    assert res.status_code == 200
    # The answer of a POST carries the actions after the move.
    after = _by_name(res.json()["actions"])
    assert not after["approve"]["allowed"]
    assert after["approve"]["reason"] == "This delivery was approved."


def test_the_contract_tells_each_party_its_actions(as_user):
    contract = active_contract()
    company = as_user(contract.project.created_by).get(f"/api/v1/contracts/{contract.pk}/")
    student = as_user(contract.student).get("/api/v1/contracts/")
    company_actions = _by_name(company.json()["actions"])
    [row] = student.json()["results"]
    student_actions = _by_name(row["actions"])
    assert company_actions["cancel"]["allowed"] is True
    assert student_actions["cancel"] == {
        "name": "cancel",
        "allowed": False,
        "reason": "Only the company of this contract can cancel it.",
    }
    assert student_actions["message"]["allowed"] and company_actions["message"]["allowed"]
    assert company_actions["review"]["reason"] == "Reviews open when the contract ends."


def test_briefs_and_bids_carry_their_actions(as_user):
    project = open_brief()
    student = VerifiedStudentFactory()
    listed = as_user(student).get("/api/v1/projects/").json()["results"]
    [brief] = [b for b in listed if b["id"] == project.pk]
    assert {a["name"] for a in brief["actions"] if a["allowed"]} == {"bid"}

    res = as_user(student).post(
        f"/api/v1/projects/{project.pk}/bids/",
        {"amount_cents": 10_000, "estimated_days": 3, "cover_letter": "Hi"},
        format="json",
    )
    assert res.status_code == 201
    assert {a["name"] for a in res.json()["actions"] if a["allowed"]} == {"withdraw"}
    brief = as_user(student).get(f"/api/v1/projects/{project.pk}/").json()
    assert _by_name(brief["actions"])["bid"]["reason"] == "You already bid on this brief."

    owner_view = as_user(project.created_by).get(f"/api/v1/projects/{project.pk}/bids/").json()
    [bid] = owner_view["results"]
    assert {a["name"] for a in bid["actions"] if a["allowed"]} == {"shortlist", "reject", "accept"}


def test_the_reasons_follow_the_users_language(as_user):
    project = open_brief()
    bid_submit(
        project_id=project.pk,
        by=VerifiedStudentFactory(),
        amount_cents=10_000,
        estimated_days=3,
        cover_letter="Hi",
    )
    res = as_user(VerifiedStudentFactory()).get(
        f"/api/v1/projects/{project.pk}/", HTTP_ACCEPT_LANGUAGE="fr"
    )
    edit = _by_name(res.json()["actions"])["edit"]
    assert edit["allowed"] is False
    assert edit["reason"] and edit["reason"] != (
        "Only the company that posted this brief can edit it."
    )
