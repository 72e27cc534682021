from __future__ import annotations

import pytest

from projects.briefs.models import Project
from tests.factories import (
    CompanyMemberFactory,
    ProjectFactory,
    SchoolFactory,
    SkillFactory,
    VerifiedStudentFactory,
)

pytestmark = pytest.mark.django_db


def _bad(res, field: str) -> None:  # type: ignore[no-untyped-def]
    assert res.status_code == 400, res.content
    body = res.json()
    assert body["code"] == "invalid"
    assert field in body["errors"], body
    assert body["errors"][field]


@pytest.fixture
def company(as_user):  # type: ignore[no-untyped-def]
    SkillFactory(name="Python", slug="python")
    return as_user(CompanyMemberFactory())


BRIEF = {"title": "Shop", "description": "A shop", "budget_cents": 100_000}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"budget_cents": 0}, "budget_cents"),
        ({"budget_cents": -100}, "budget_cents"),
        ({"budget_cents": "abc"}, "budget_cents"),
        ({"budget_cents": 10**13}, "budget_cents"),
        ({"skills": ["python", "cobol"]}, "skills"),
        ({"allowed_schools": [999_999]}, "allowed_schools"),
        ({"allowed_schools": ["abc"]}, "allowed_schools.0"),
        ({"currency": "XXX"}, "currency"),
        ({"category": "bogus"}, "category"),
        ({"visibility": "friends"}, "visibility"),
        ({"deadline": "soon"}, "deadline"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"description": "a\x00b"}, "description"),
    ],
)
def test_brief_creation_refuses_bad_input_naming_the_field(company, changes, field):  # type: ignore[no-untyped-def]
    res = company.post("/api/v1/projects/", {**BRIEF, **changes}, format="json")
    _bad(res, field)
    assert not Project.objects.exists()


def test_a_brief_patch_refuses_bad_input_and_changes_nothing(company):  # type: ignore[no-untyped-def]
    project_id = company.post("/api/v1/projects/", BRIEF, format="json").json()["id"]
    before = company.get(f"/api/v1/projects/{project_id}/").json()
    url = f"/api/v1/projects/{project_id}/"
    _bad(company.patch(url, {"budget_cents": 0}, format="json"), "budget_cents")
    _bad(company.patch(url, {"title": "New", "skills": ["cobol"]}, format="json"), "skills")
    _bad(company.patch(url, {"allowed_schools": [999_999]}, format="json"), "allowed_schools")
    assert company.get(url).json() == before


def test_publishing_a_restricted_brief_without_schools_is_refused(company):  # type: ignore[no-untyped-def]
    res = company.post("/api/v1/projects/", {**BRIEF, "visibility": "schools"}, format="json")
    project_id = res.json()["id"]
    _bad(company.post(f"/api/v1/projects/{project_id}/publish/"), "allowed_schools")
    assert Project.objects.get(pk=project_id).status == Project.Status.DRAFT
    school = SchoolFactory()
    res = company.patch(
        f"/api/v1/projects/{project_id}/", {"allowed_schools": [school.pk]}, format="json"
    )
    assert res.json()["allowed_schools"] == [school.pk]
    assert company.post(f"/api/v1/projects/{project_id}/publish/").json()["status"] == "open"


def test_a_brief_due_in_the_past_is_refused(company):  # type: ignore[no-untyped-def]
    _bad(
        company.post("/api/v1/projects/", {**BRIEF, "deadline": "2000-01-01"}, format="json"),
        "deadline",
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount_cents": 0}, "amount_cents"),
        ({"amount_cents": -1}, "amount_cents"),
        ({"amount_cents": "abc"}, "amount_cents"),
        ({"estimated_days": 0}, "estimated_days"),
        ({"estimated_days": 3651}, "estimated_days"),
        ({"cover_letter": ""}, "cover_letter"),
    ],
)
def test_bids_refuse_bad_input_naming_the_field(as_user, changes, field):  # type: ignore[no-untyped-def]
    project = ProjectFactory()
    body = {"amount_cents": 1000, "estimated_days": 3, "cover_letter": "Hi", **changes}
    res = as_user(VerifiedStudentFactory()).post(
        f"/api/v1/projects/{project.pk}/bids/", body, format="json"
    )
    _bad(res, field)
    assert not project.bids.exists()


def test_malformed_json_is_a_400(as_user):  # type: ignore[no-untyped-def]
    client = as_user(CompanyMemberFactory())
    res = client.post("/api/v1/projects/", "{not json", content_type="application/json")
    assert res.status_code == 400
    assert res.json()["code"] == "parse_error"
    res = client.post("/api/v1/projects/", [1, 2], format="json")
    assert res.status_code == 400
    assert "non_field_errors" in res.json()["errors"]


@pytest.mark.parametrize(
    ("milestones", "field"),
    [
        ([], "milestones"),
        ([{"title": "All", "amount_cents": 100_000, "due_date": "2000-01-01"}], "milestones"),
        (
            [{"title": "A", "amount_cents": 99_960}, {"title": "B", "amount_cents": 40}],
            "milestones",
        ),
    ],
)
def test_accepting_with_bad_milestones_is_refused(as_user, milestones, field):  # type: ignore[no-untyped-def]
    from projects.briefs.models import Bid
    from projects.contracts.models import Contract
    from tests.factories import ProjectFactory, VerifiedStudentFactory

    project = ProjectFactory()
    student = as_user(VerifiedStudentFactory())
    bid = student.post(
        f"/api/v1/projects/{project.pk}/bids/",
        {"amount_cents": 100_000, "estimated_days": 5, "cover_letter": "hi"},
        format="json",
    ).json()["id"]
    res = as_user(project.created_by).post(
        f"/api/v1/bids/{bid}/accept/", {"milestones": milestones}, format="json"
    )
    _bad(res, field)
    assert Bid.objects.get(pk=bid).status == "submitted"
    assert not Contract.objects.exists()


@pytest.mark.parametrize(("amount", "ok"), [(49, False), (50, True)])
def test_a_bid_below_the_smallest_card_payment_is_refused(as_user, amount, ok):  # type: ignore[no-untyped-def]
    from tests.factories import ProjectFactory, VerifiedStudentFactory

    project = ProjectFactory()
    res = as_user(VerifiedStudentFactory()).post(
        f"/api/v1/projects/{project.pk}/bids/",
        {"amount_cents": amount, "estimated_days": 5, "cover_letter": "hi"},
        format="json",
    )
    if ok:
        assert res.status_code == 201
    else:
        _bad(res, "amount_cents")


def test_funding_with_an_unknown_payment_method_is_a_400_and_changes_nothing(as_user):  # type: ignore[no-untyped-def]
    from payments.models import Escrow, LedgerEntry
    from tests.factories import ProjectFactory, VerifiedStudentFactory

    project = ProjectFactory()
    company = as_user(project.created_by)
    bid = (
        as_user(VerifiedStudentFactory())
        .post(
            f"/api/v1/projects/{project.pk}/bids/",
            {"amount_cents": 10_000, "estimated_days": 5, "cover_letter": "hi"},
            format="json",
        )
        .json()["id"]
    )
    milestone = company.post(f"/api/v1/bids/{bid}/accept/", {}, format="json").json()
    milestone_id = milestone["milestones"][0]["id"]
    res = company.post(
        f"/api/v1/milestones/{milestone_id}/fund/", {"payment_method": "pm_bogus"}, format="json"
    )
    _bad(res, "payment_method")
    escrow = Escrow.objects.get()
    assert (escrow.status, escrow.funding_attempts, escrow.payment_intent_id) == (
        "awaiting_funding",
        0,
        "",
    )
    assert not LedgerEntry.objects.exists()
