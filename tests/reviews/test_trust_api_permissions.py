from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from marketplace.models import User
from projects.messaging.files import delivery_submit_with_files
from projects.messaging.models import Attachment, Message, Thread
from projects.messaging.services import contract_message_post, question_ask
from projects.reviews.models import Review, ReviewReply
from projects.reviews.services import review_submit
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
NOW = T0 + dt.timedelta(days=1)
STARS = {"rating": 4, "quality": 4, "communication": 4, "deadlines": 4}
PDF = b"%PDF-1.4\n%%EOF\n"


@pytest.fixture
def trust_setup():  # type: ignore[no-untyped-def]
    school = SchoolFactory()
    with time_machine.travel(T0, tick=False):
        owner = CompanyMemberFactory()
        student = VerifiedStudentFactory(verification__school=school)
        done = completed_contract(owner=owner, student=student)
        running = active_contract(owner=owner, student=student, amounts=(10_000, 20_000))
        first, second = running.milestones.order_by("position")
        delivery_submit_with_files(
            milestone_id=first.pk, by=student, files=[SimpleUploadedFile("a.pdf", PDF)]
        )
        contract_message_post(
            contract_id=running.pk,
            by=student,
            body="hello",
            files=[SimpleUploadedFile("b.pdf", PDF)],
        )
        brief = open_brief(owner=owner)
        question = question_ask(project_id=brief.pk, by=student, body="Is it remote?")
        other_student = VerifiedStudentFactory(verification__school=school)
    with time_machine.travel(NOW, tick=False):
        review = review_submit(contract_id=done.pk, by=owner, **STARS)
    users = {
        "owner": owner,
        "student": student,
        "rival": CompanyMemberFactory(),
        "other_student": other_student,
        "coordinator": CoordinatorFactory(school=school).user,
        "staff": UserFactory(role=User.Role.ADMIN, is_staff=True),
    }
    ids = {
        "done": done.pk,
        "running": running.pk,
        "second": second.pk,
        "brief": brief.pk,
        "thread": question.message.thread_id,
        "review": review.pk,
        "student": student.pk,
        "company": owner.company_membership.company_id,
        "delivery_file": Attachment.objects.get(delivery__isnull=False).uuid,
        "message_file": Attachment.objects.get(message__isnull=False).uuid,
    }
    return SimpleNamespace(users=users, ids=ids)


ROUTES: dict[str, tuple[str, str, dict]] = {
    "reviews": ("get", "/api/v1/contracts/{done}/reviews/", {}),
    "review-create": ("post", "/api/v1/contracts/{done}/reviews/", STARS),
    "review-detail": ("get", "/api/v1/reviews/{review}/", {}),
    "review-reply": ("post", "/api/v1/reviews/{review}/reply/", {"body": "Thanks"}),
    "admin-reviews": ("get", "/api/v1/admin/reviews/", {}),
    "student-profile": ("get", "/api/v1/students/{student}/", {}),
    "student-reviews": ("get", "/api/v1/students/{student}/reviews/", {}),
    "company-page": ("get", "/api/v1/companies/{company}/", {}),
    "company-reviews": ("get", "/api/v1/companies/{company}/reviews/", {}),
    "messages": ("get", "/api/v1/contracts/{running}/messages/", {}),
    "message-create": ("post", "/api/v1/contracts/{running}/messages/", {"body": "hi"}),
    "messages-read": ("post", "/api/v1/contracts/{running}/messages/read/", {}),
    "questions": ("get", "/api/v1/projects/{brief}/questions/", {}),
    "question-create": ("post", "/api/v1/projects/{brief}/questions/", {"body": "Why?"}),
    "thread": ("get", "/api/v1/projects/{brief}/questions/{thread}/messages/", {}),
    "thread-post": (
        "post",
        "/api/v1/projects/{brief}/questions/{thread}/messages/",
        {"body": "Yes"},
    ),
    "thread-read": ("post", "/api/v1/projects/{brief}/questions/{thread}/read/", {}),
    "deliver": ("post", "/api/v1/milestones/{second}/deliveries/", {"note": "done"}),
    "delivery-file": ("get", "/api/v1/files/{delivery_file}/", {}),
    "message-file": ("get", "/api/v1/files/{message_file}/", {}),
}


def _snapshot() -> tuple:
    return (
        Review.objects.count(),
        ReviewReply.objects.count(),
        Message.objects.count(),
        Thread.objects.count(),
        Attachment.objects.count(),
    )


def _call(client, route: str, ids: dict):  # type: ignore[no-untyped-def]
    method, template, body = ROUTES[route]
    url = template.format(**ids)
    with time_machine.travel(NOW, tick=False):
        if method == "get":
            return client.get(url)
        return client.post(url, body, format="multipart" if route == "deliver" else "json")


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_anonymous_gets_401_everywhere(trust_setup, api, route):  # type: ignore[no-untyped-def]
    before = _snapshot()
    res = _call(api, route, trust_setup.ids)
    assert res.status_code == 401, res.content
    assert _snapshot() == before


CONTRACT_ROUTES = [
    "reviews",
    "review-create",
    "review-detail",
    "review-reply",
    "messages",
    "message-create",
    "messages-read",
    "thread",
    "thread-post",
    "thread-read",
    "deliver",
    "delivery-file",
    "message-file",
]


@pytest.mark.parametrize("persona", ["rival", "other_student", "coordinator"])
@pytest.mark.parametrize("route", CONTRACT_ROUTES)
def test_third_parties_get_404_and_nothing_changes(trust_setup, as_user, route, persona):  # type: ignore[no-untyped-def]
    before = _snapshot()
    res = _call(as_user(trust_setup.users[persona]), route, trust_setup.ids)
    assert res.status_code == 404, res.content
    assert res.json()["code"] == "not_found"
    assert _snapshot() == before


REFUSED = [
    ("review-create", "staff", 403),
    ("review-reply", "owner", 403),
    ("review-detail", "student", 404),  # hidden until the student writes theirs
    ("admin-reviews", "owner", 403),
    ("admin-reviews", "student", 403),
    ("student-profile", "other_student", 404),
    ("messages", "staff", 403),
    ("message-create", "staff", 403),
    ("messages-read", "staff", 403),
    ("questions", "rival", 403),
    ("questions", "coordinator", 403),
    ("question-create", "owner", 403),
    ("question-create", "rival", 403),
    ("question-create", "coordinator", 403),
    ("deliver", "owner", 403),
    ("thread", "staff", 404),
]


@pytest.mark.parametrize(("route", "persona", "code"), REFUSED)
def test_wrong_role_is_refused_and_nothing_changes(trust_setup, as_user, route, persona, code):  # type: ignore[no-untyped-def]
    before = _snapshot()
    res = _call(as_user(trust_setup.users[persona]), route, trust_setup.ids)
    assert res.status_code == code, res.content
    assert _snapshot() == before


ALLOWED = [
    ("reviews", "owner", 200),
    ("reviews", "student", 200),
    ("reviews", "staff", 200),
    ("review-create", "student", 201),
    ("review-detail", "owner", 200),
    ("review-detail", "staff", 200),
    ("admin-reviews", "staff", 200),
    ("student-profile", "rival", 200),
    ("student-reviews", "coordinator", 200),
    ("company-page", "other_student", 200),
    ("company-reviews", "coordinator", 200),
    ("messages", "owner", 200),
    ("message-create", "owner", 201),
    ("messages-read", "student", 200),
    ("questions", "owner", 200),
    ("questions", "other_student", 200),
    ("question-create", "other_student", 201),
    ("thread", "owner", 200),
    ("thread-post", "owner", 201),
    ("thread-read", "student", 200),
    ("deliver", "student", 201),
    ("delivery-file", "staff", 200),
    ("message-file", "owner", 200),
]


@pytest.mark.parametrize(("route", "persona", "code"), ALLOWED)
def test_the_parties_get_through(trust_setup, as_user, route, persona, code):  # type: ignore[no-untyped-def]
    res = _call(as_user(trust_setup.users[persona]), route, trust_setup.ids)
    assert res.status_code == code, res.content


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        ("review-create", {**STARS, "rating": 9}, "rating"),
        ("review-create", {"rating": 4}, "quality"),
        ("review-create", {**STARS, "comment": "x" * 5001}, "comment"),
        ("message-create", {"body": ["a", "b"]}, "body"),
        ("message-create", {"body": ""}, "body"),
        ("thread-post", {"body": "x" * 10_001}, "body"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(trust_setup, as_user, route, body, field):  # type: ignore[no-untyped-def]
    method, template, _ = ROUTES[route]
    with time_machine.travel(NOW, tick=False):
        res = as_user(trust_setup.users["student"]).post(
            template.format(**trust_setup.ids), body, format="json"
        )
    assert res.status_code == 400, res.content
    assert field in res.json()["errors"]
