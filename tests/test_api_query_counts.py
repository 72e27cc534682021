from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from marketplace.models import User
from payments.services.payouts import payout_account_onboard
from projects.briefs.models import Project
from projects.briefs.services import bid_submit
from projects.contracts.services import (
    MilestoneSpec,
    bid_accept,
    milestone_approve,
    milestone_fund,
    milestone_submit,
)
from tests.factories import (
    CompanyMemberFactory,
    CoordinatorFactory,
    ProjectFactory,
    SchoolDomainFactory,
    SchoolFactory,
    SkillFactory,
    VerificationFactory,
    VerifiedStudentFactory,
)

pytestmark = pytest.mark.django_db


@dataclass
class Endpoint:
    viewer: User | None
    url: Callable[[], str]
    grow: Callable[[int], None]


def _client(viewer: User | None) -> APIClient:
    client = APIClient()
    if viewer is not None:
        # A fresh instance each time: no related object cached from an earlier request.
        client.force_authenticate(user=User.objects.get(pk=viewer.pk))
    return client


def _measure(endpoint: Endpoint) -> tuple[int, int]:
    client = _client(endpoint.viewer)
    with CaptureQueriesContext(connection) as ctx:
        res = client.get(endpoint.url())
    assert res.status_code == 200, res.content
    return len(ctx.captured_queries), len(res.json()["results"])


def _bid(project: Project, student: User, amount: int = 90_000) -> None:
    bid_submit(
        project_id=project.pk, by=student, amount_cents=amount, estimated_days=5, cover_letter="Hi"
    )


def _projects() -> Endpoint:
    school = SchoolFactory()
    viewer = VerifiedStudentFactory(verification__school=school)
    skills = [SkillFactory(), SkillFactory()]

    def grow(n: int) -> None:
        for _ in range(n):
            project = ProjectFactory()
            project.skills.set(skills)
            restricted = ProjectFactory(visibility=Project.Visibility.SCHOOLS)
            restricted.allowed_schools.set([school, SchoolFactory()])
            _bid(project, VerifiedStudentFactory())

    return Endpoint(viewer, lambda: "/api/v1/projects/?page_size=100", grow)


def _projects_for_a_company() -> Endpoint:
    viewer = CompanyMemberFactory()
    company = viewer.company_membership.company
    skill = SkillFactory()

    def grow(n: int) -> None:
        for _ in range(n):
            ProjectFactory(
                company=company,
                created_by=viewer,
                status=Project.Status.DRAFT,
                title="Our new website",
            )
            ProjectFactory(title="A website for a bakery").skills.set([skill])

    return Endpoint(viewer, lambda: "/api/v1/projects/?page_size=100&search=website", grow)


def _bids() -> Endpoint:
    owner = CompanyMemberFactory()
    project = ProjectFactory(company=owner.company_membership.company, created_by=owner)

    def grow(n: int) -> None:
        for _ in range(n):
            _bid(project, VerifiedStudentFactory())

    return Endpoint(owner, lambda: f"/api/v1/projects/{project.pk}/bids/?page_size=100", grow)


def _contracts() -> Endpoint:
    owner = CompanyMemberFactory()
    company = owner.company_membership.company

    def grow(n: int) -> None:
        for _ in range(n):
            student = VerifiedStudentFactory()
            project = ProjectFactory(company=company, created_by=owner)
            _bid(project, student, amount=90_000)
            bid = project.bids.get()
            contract = bid_accept(
                bid_id=bid.pk,
                by=owner,
                milestones=[
                    MilestoneSpec(title="One", amount_cents=30_000),
                    MilestoneSpec(title="Two", amount_cents=60_000),
                ],
            )
            first = contract.milestones.order_by("position").first()
            milestone_fund(milestone_id=first.pk, by=owner, payment_method="pm_card_visa")

    return Endpoint(owner, lambda: "/api/v1/contracts/?page_size=100", grow)


def _ledger() -> Endpoint:
    owner = CompanyMemberFactory()
    company = owner.company_membership.company
    student = VerifiedStudentFactory()
    payout_account_onboard(user=student)
    state = {"contract": 0, "milestones": 0}

    def grow(n: int) -> None:
        state["milestones"] += n
        project = ProjectFactory(company=company, created_by=owner)
        amount = 10_000 * state["milestones"]
        _bid(project, student, amount=amount)
        contract = bid_accept(
            bid_id=project.bids.get().pk,
            by=owner,
            milestones=[
                MilestoneSpec(title=f"M{i}", amount_cents=10_000)
                for i in range(state["milestones"])
            ],
        )
        for milestone in contract.milestones.all():
            milestone_fund(milestone_id=milestone.pk, by=owner, payment_method="pm_card_visa")
            milestone_submit(milestone_id=milestone.pk, by=student, note="done")
            milestone_approve(milestone_id=milestone.pk, by=owner)
        state["contract"] = contract.pk

    return Endpoint(
        owner, lambda: f"/api/v1/contracts/{state['contract']}/ledger/?page_size=100", grow
    )


def _schools() -> Endpoint:
    def grow(n: int) -> None:
        for _ in range(n):
            SchoolDomainFactory(school=SchoolFactory())

    return Endpoint(None, lambda: "/api/v1/schools/?page_size=100&country=FR", grow)


def _schools_searched() -> Endpoint:
    def grow(n: int) -> None:
        for _ in range(n):
            school = SchoolFactory()
            SchoolDomainFactory(school=school, domain=f"extra.school{school.pk}.edu")

    return Endpoint(None, lambda: "/api/v1/schools/?page_size=100&search=school", grow)


def _skills() -> Endpoint:
    def grow(n: int) -> None:
        for _ in range(n):
            SkillFactory()

    return Endpoint(None, lambda: "/api/v1/skills/?page_size=100", grow)


def _verifications() -> Endpoint:
    coordinator = CoordinatorFactory()

    def grow(n: int) -> None:
        for _ in range(n):
            VerificationFactory(school=coordinator.school)
            VerificationFactory()

    return Endpoint(coordinator.user, lambda: "/api/v1/verifications/?page_size=100", grow)


def _matches() -> Endpoint:
    owner = CompanyMemberFactory()
    project = ProjectFactory(company=owner.company_membership.company, created_by=owner)
    skills = [SkillFactory(), SkillFactory(), SkillFactory()]
    project.skills.set(skills[:2])

    def grow(n: int) -> None:
        for i in range(n):
            student = VerifiedStudentFactory()
            student.student_profile.skills.set(skills[: i % 3 + 1])

    return Endpoint(owner, lambda: f"/api/v1/projects/{project.pk}/matches/?page_size=100", grow)


def _students() -> Endpoint:
    viewer = CompanyMemberFactory()
    skills = [SkillFactory(), SkillFactory()]

    def grow(n: int) -> None:
        for _ in range(n):
            student = VerifiedStudentFactory()
            student.student_profile.skills.set(skills)

    slugs = ",".join(s.slug for s in skills)
    return Endpoint(
        viewer,
        lambda: f"/api/v1/students/?page_size=100&skills={slugs}&skills_match=all&ordering=rating",
        grow,
    )


def _recommended_briefs() -> Endpoint:
    school = SchoolFactory()
    viewer = VerifiedStudentFactory(verification__school=school)
    skills = [SkillFactory(), SkillFactory()]
    viewer.student_profile.skills.set(skills[:1])

    def grow(n: int) -> None:
        for _ in range(n):
            ProjectFactory().skills.set(skills)
            restricted = ProjectFactory(visibility=Project.Visibility.SCHOOLS)
            restricted.allowed_schools.set([school])
            restricted.skills.set(skills[:1])

    return Endpoint(viewer, lambda: "/api/v1/students/me/recommended-briefs/?page_size=100", grow)


# The exact budget on SQLite and PostgreSQL alike; a change here is a regression or a win to note.
ENDPOINTS: dict[str, tuple[Callable[[], Endpoint], int]] = {
    # +2 for a student (`brief_viewer`: the schools verifying them, the briefs they bid on),
    # read once for the `actions` of every row.
    "projects": (_projects, 8),
    "projects-company": (_projects_for_a_company, 5),
    "bids": (_bids, 6),
    # +1: the reviews' sides, prefetched for the `review` action (`contract_action_prefetches`).
    "contracts": (_contracts, 8),
    "ledger": (_ledger, 5),
    "schools": (_schools, 3),
    "schools-searched": (_schools_searched, 3),
    "skills": (_skills, 2),
    "verifications": (_verifications, 3),
    "matches": (_matches, 11),
    "students": (_students, 6),
    # +2 as for "projects": each brief's `actions` for the student.
    "recommended-briefs": (_recommended_briefs, 13),
}


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_query_count_does_not_grow_with_the_page(name):  # type: ignore[no-untyped-def]
    make, budget = ENDPOINTS[name]
    endpoint = make()
    endpoint.grow(2)
    small, small_rows = _measure(endpoint)
    endpoint.grow(5)
    large, large_rows = _measure(endpoint)
    assert large_rows > small_rows >= 2
    assert large == small
    assert small == budget


def test_an_exact_budget_for_the_brief_list(django_assert_num_queries):  # type: ignore[no-untyped-def]
    endpoint = _projects()
    endpoint.grow(4)
    client = _client(endpoint.viewer)
    with django_assert_num_queries(ENDPOINTS["projects"][1]):
        res = client.get(endpoint.url())
    assert len(res.json()["results"]) == 8
