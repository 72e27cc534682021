from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from marketplace.models import User
from projects.messaging.files import delivery_submit_with_files
from projects.messaging.services import contract_message_post, question_ask, thread_message_post
from projects.reviews.services import review_reply_create, review_submit
from tests.factories import (
    CompanyMemberFactory,
    CoordinatorFactory,
    SchoolFactory,
    UserFactory,
    VerifiedStudentFactory,
)
from tests.factories.contracts import active_contract, completed_contract, open_brief

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2031, 3, 3, 9, 0, tzinfo=dt.UTC)
STARS = {"rating": 4, "quality": 4, "communication": 5, "deadlines": 3}


@dataclass
class Endpoint:
    viewer: User
    url: Callable[[], str]
    grow: Callable[[int], None]
    rows: Callable[[dict], int] = lambda body: len(body["results"])


def _measure(endpoint: Endpoint) -> tuple[int, int]:
    client = APIClient()
    client.force_authenticate(user=User.objects.get(pk=endpoint.viewer.pk))
    with CaptureQueriesContext(connection) as ctx:
        res = client.get(endpoint.url())
    assert res.status_code == 200, res.content
    return len(ctx.captured_queries), endpoint.rows(res.json())


def _pdf(n: int) -> SimpleUploadedFile:
    return SimpleUploadedFile(f"f{n}.pdf", b"%PDF-1.4\n%%EOF\n")


def _reviewed_student_work(student: User) -> None:
    contract = completed_contract(student=student)
    review_submit(contract_id=contract.pk, by=contract.project.created_by, **STARS)
    review_submit(contract_id=contract.pk, by=student, **STARS)
    review = contract.reviews.get(role="company_to_student")
    review_reply_create(review_id=review.pk, by=student, body="Thanks")


def _grow(n: int, one: Callable[[], None]) -> None:
    for _ in range(n):
        one()


def _student_reviews() -> Endpoint:
    student = VerifiedStudentFactory()
    viewer = CompanyMemberFactory()
    return Endpoint(
        viewer,
        lambda: f"/api/v1/students/{student.pk}/reviews/?page_size=100",
        lambda n: _grow(n, lambda: _reviewed_student_work(student)),
    )


def _student_profile() -> Endpoint:
    student = VerifiedStudentFactory()
    viewer = CompanyMemberFactory()
    return Endpoint(
        viewer,
        lambda: f"/api/v1/students/{student.pk}/",
        lambda n: _grow(n, lambda: _reviewed_student_work(student)),
        rows=lambda body: body["reputation"]["review_count"],
    )


def _company_reviews(page: bool) -> Callable[[], Endpoint]:
    def make() -> Endpoint:
        owner = CompanyMemberFactory()
        company_id = owner.company_membership.company_id

        def grow(n: int) -> None:
            for _ in range(n):
                contract = completed_contract(owner=owner)
                review_submit(contract_id=contract.pk, by=contract.student, **STARS)
                review_submit(contract_id=contract.pk, by=owner, **STARS)

        if page:
            return Endpoint(
                owner,
                lambda: f"/api/v1/companies/{company_id}/",
                grow,
                rows=lambda body: body["reputation"]["review_count"],
            )
        return Endpoint(owner, lambda: f"/api/v1/companies/{company_id}/reviews/", grow)

    return make


def _admin_reviews() -> Endpoint:
    staff = UserFactory(role=User.Role.ADMIN, is_staff=True)

    def grow(n: int) -> None:
        for _ in range(n):
            contract = completed_contract()
            review_submit(contract_id=contract.pk, by=contract.student, **STARS)

    return Endpoint(staff, lambda: "/api/v1/admin/reviews/?page_size=100", grow)


def _contract_messages() -> Endpoint:
    contract = active_contract()
    owner = contract.project.created_by

    def grow(n: int) -> None:
        for i in range(n):
            contract_message_post(
                contract_id=contract.pk, by=contract.student, body=f"m{i}", files=[_pdf(i)]
            )
            contract_message_post(contract_id=contract.pk, by=owner, body=f"r{i}")

    return Endpoint(owner, lambda: f"/api/v1/contracts/{contract.pk}/messages/?page_size=100", grow)


def _question_threads() -> Endpoint:
    owner = CompanyMemberFactory()
    brief = open_brief(owner=owner)

    def grow(n: int) -> None:
        for i in range(n):
            posted = question_ask(project_id=brief.pk, by=VerifiedStudentFactory(), body=f"q{i}")
            thread_message_post(thread_id=posted.message.thread_id, by=owner, body="a")

    return Endpoint(owner, lambda: f"/api/v1/projects/{brief.pk}/questions/?page_size=100", grow)


def _question_messages() -> Endpoint:
    owner = CompanyMemberFactory()
    brief = open_brief(owner=owner)
    student = VerifiedStudentFactory()
    thread = question_ask(project_id=brief.pk, by=student, body="first").message.thread_id

    def grow(n: int) -> None:
        for i in range(n):
            thread_message_post(thread_id=thread, by=owner, body=f"a{i}", files=[_pdf(i)])

    return Endpoint(
        student,
        lambda: f"/api/v1/projects/{brief.pk}/questions/{thread}/messages/?page_size=100",
        grow,
    )


def _contracts_with_files() -> Endpoint:
    owner = CompanyMemberFactory()

    def grow(n: int) -> None:
        for _ in range(n):
            contract = active_contract(owner=owner, amounts=(10_000, 20_000))
            for milestone in contract.milestones.all():
                delivery_submit_with_files(
                    milestone_id=milestone.pk, by=contract.student, files=[_pdf(1), _pdf(2)]
                )

    return Endpoint(owner, lambda: "/api/v1/contracts/?page_size=100", grow)


def _school_students() -> Endpoint:
    school = SchoolFactory()
    coordinator = CoordinatorFactory(school=school).user

    def grow(n: int) -> None:
        for _ in range(n):
            _reviewed_student_work(VerifiedStudentFactory(verification__school=school))

    return Endpoint(
        coordinator, lambda: f"/api/v1/schools/{school.pk}/students/?page_size=100", grow
    )


# Exact budgets, the same on SQLite and PostgreSQL.
ENDPOINTS: dict[str, tuple[Callable[[], Endpoint], int]] = {
    "student-reviews": (_student_reviews, 5),
    "student-profile": (_student_profile, 10),
    "company-page": (_company_reviews(page=True), 4),
    "company-reviews": (_company_reviews(page=False), 3),
    "admin-reviews": (_admin_reviews, 2),
    "contract-messages": (_contract_messages, 7),
    "question-threads": (_question_threads, 6),
    "question-messages": (_question_messages, 6),
    # +1: the reviews' sides, prefetched for each contract's `review` action.
    "contracts-with-files": (_contracts_with_files, 9),
    "school-students": (_school_students, 9),
}


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_query_count_does_not_grow_with_the_rows(name):  # type: ignore[no-untyped-def]
    make, budget = ENDPOINTS[name]
    with time_machine.travel(T0, tick=False):
        endpoint = make()
        endpoint.grow(2)
    with time_machine.travel(T0 + dt.timedelta(days=1), tick=False):
        small, small_rows = _measure(endpoint)
    with time_machine.travel(T0, tick=False):
        endpoint.grow(4)
    with time_machine.travel(T0 + dt.timedelta(days=1), tick=False):
        large, large_rows = _measure(endpoint)
    assert large_rows > small_rows >= 2
    assert (small, large) == (budget, budget)


def test_the_contract_reviews_list_is_constant(as_user, django_assert_num_queries):  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False):
        contract = completed_contract()
    with time_machine.travel(T0 + dt.timedelta(days=1), tick=False):
        review_submit(contract_id=contract.pk, by=contract.student, **STARS)
        review_submit(contract_id=contract.pk, by=contract.project.created_by, **STARS)
        client = APIClient()
        client.force_authenticate(user=User.objects.get(pk=contract.student_id))
        with django_assert_num_queries(4):
            res = client.get(f"/api/v1/contracts/{contract.pk}/reviews/")
    assert len(res.json()["results"]) == 2
