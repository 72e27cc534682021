from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from marketplace.models import Notification, OutboundEmail, User
from projects.briefs.models import Project
from projects.briefs.services import bid_submit
from projects.contracts.disputes import milestone_dispute
from projects.contracts.models import Dispute
from projects.contracts.services import bid_accept
from projects.messaging.models import Message, Thread
from projects.messaging.services import contact_details_found
from tests.factories import (
    CompanyMemberFactory,
    CompanyMembershipFactory,
    CoordinatorFactory,
    UserFactory,
    VerifiedStudentFactory,
)
from tests.factories.contracts import active_contract, open_brief

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("Write to lea.martin@gmail.com", ["contact_email"]),
        ("lea dot martin at gmail dot com", ["contact_email"]),
        ("Call me on 06 12 34 56 78", ["contact_phone"]),
        ("or 06.12.34.56.78", ["contact_phone"]),
        ("+33 6 12 34 56 78 works", ["contact_phone"]),
        ("+33612345678", ["contact_phone"]),
        ("0033 6 12 34 56 78", ["contact_phone"]),
        ("+1 415 555 0100", ["contact_phone"]),
        ("find me @lea_codes", ["contact_handle"]),
        ("add me on WhatsApp", ["contact_handle"]),
        ("t.me/lea_codes", ["contact_handle"]),
        ("mail lea@x.fr or 0612345678", ["contact_email", "contact_phone"]),
        ("Budget 1 500 000 EUR, 12 pages, deliver 2031-03-04", []),
        ("I can do it in 10 days for 1200 EUR", []),
        ("Version 2.0.1 of the site", []),
    ],
)
def test_contact_details_are_spotted(text, codes):  # type: ignore[no-untyped-def]
    assert contact_details_found(text) == codes


@pytest.fixture
def conversations(as_user):  # type: ignore[no-untyped-def]
    owner = CompanyMemberFactory()
    colleague = CompanyMembershipFactory(company=owner.company_membership.company).user
    brief = open_brief(owner=owner)
    asker = VerifiedStudentFactory()
    other_student = VerifiedStudentFactory()
    contract = active_contract(amounts=(10_000,))
    staff = UserFactory(role=User.Role.ADMIN, is_staff=True)
    return SimpleNamespace(
        owner=owner,
        colleague=colleague,
        brief=brief,
        asker=asker,
        contract=contract,
        company=as_user(owner),
        me=as_user(asker),
        other_student=as_user(other_student),
        rival=as_user(CompanyMemberFactory()),
        coordinator=as_user(CoordinatorFactory().user),
        staff=as_user(staff),
        c_company=as_user(contract.project.created_by),
        c_student=as_user(contract.student),
        questions=f"/api/v1/projects/{brief.pk}/questions/",
        messages=f"/api/v1/contracts/{contract.pk}/messages/",
    )


def test_a_question_with_contact_details_is_kept_as_typed_with_a_warning(conversations):  # type: ignore[no-untyped-def]
    body = "Can we talk? lea@gmail.com / 06 12 34 56 78"
    res = conversations.me.post(conversations.questions, {"body": body}, format="json")
    assert res.status_code == 201, res.content
    assert res.json()["body"] == body
    assert [x["code"] for x in res.json()["warnings"]] == ["contact_email", "contact_phone"]
    assert Message.objects.get().body == body
    thread = res.json()["thread"]
    answer = conversations.company.post(
        f"{conversations.questions}{thread}/messages/", {"body": "Sure: Tuesday?"}, format="json"
    )
    assert answer.status_code == 201 and answer.json()["warnings"] == []


def test_no_warning_once_a_contract_exists(conversations):  # type: ignore[no-untyped-def]
    res = conversations.c_student.post(
        conversations.messages, {"body": "My number: 06 12 34 56 78"}, format="json"
    )
    assert res.status_code == 201
    assert res.json()["warnings"] == []


def test_the_company_sees_every_thread_a_student_only_theirs(conversations, as_user):  # type: ignore[no-untyped-def]
    conversations.me.post(conversations.questions, {"body": "Is the budget firm?"}, format="json")
    conversations.other_student.post(conversations.questions, {"body": "Which CMS?"}, format="json")
    assert len(conversations.company.get(conversations.questions).json()["results"]) == 2
    assert len(as_user(conversations.colleague).get(conversations.questions).json()["results"]) == 2
    mine = conversations.me.get(conversations.questions).json()["results"]
    assert [t["student"]["id"] for t in mine] == [conversations.asker.pk]
    other_thread = Thread.objects.exclude(student=conversations.asker).get().pk
    url = f"{conversations.questions}{other_thread}/messages/"
    assert conversations.me.get(url).status_code == 404
    assert conversations.me.post(url, {"body": "hi"}, format="json").status_code == 404
    assert (
        conversations.me.post(f"{conversations.questions}{other_thread}/read/").status_code == 404
    )


def test_questions_route_refusals(conversations):  # type: ignore[no-untyped-def]
    assert conversations.rival.get(conversations.questions).status_code == 403
    assert conversations.coordinator.get(conversations.questions).status_code == 403
    assert (
        conversations.company.post(
            conversations.questions, {"body": "?"}, format="json"
        ).status_code
        == 403
    )
    assert (
        conversations.me.post(conversations.questions, {"body": "  "}, format="json").status_code
        == 400
    )
    conversations.brief.status = Project.Status.CANCELLED
    conversations.brief.save()
    assert conversations.me.get(conversations.questions).status_code == 404


def test_a_student_thread_becomes_the_contract_thread(conversations):  # type: ignore[no-untyped-def]
    thread = conversations.me.post(
        conversations.questions, {"body": "Can I start Monday?"}, format="json"
    ).json()["thread"]
    bid = bid_submit(
        project_id=conversations.brief.pk,
        by=conversations.asker,
        amount_cents=90_000,
        estimated_days=3,
        cover_letter="x",
    )
    contract = bid_accept(bid_id=bid.pk, by=conversations.owner)
    res = conversations.company.get(f"/api/v1/contracts/{contract.pk}/messages/")
    assert res.json()["thread"] == thread
    assert [m["body"] for m in res.json()["results"]] == ["Can I start Monday?"]


def test_unread_counts_and_read_marks(conversations, as_user):  # type: ignore[no-untyped-def]
    for text in ("one", "two", "three"):
        assert (
            conversations.c_student.post(
                conversations.messages, {"body": text}, format="json"
            ).status_code
            == 201
        )
    res = conversations.c_company.get(conversations.messages)
    assert res.json()["unread_count"] == 3
    assert [m["body"] for m in res.json()["results"]] == ["three", "two", "one"]
    assert conversations.c_student.get(conversations.messages).json()["unread_count"] == 0
    assert conversations.c_company.post(f"{conversations.messages}read/").status_code == 200
    assert conversations.c_company.get(conversations.messages).json()["unread_count"] == 0
    conversations.c_student.post(conversations.messages, {"body": "four"}, format="json")
    assert conversations.c_company.get(conversations.messages).json()["unread_count"] == 1
    conversations.c_company.post(conversations.messages, {"body": "answer"}, format="json")
    assert conversations.c_company.get(conversations.messages).json()["unread_count"] == 0
    assert conversations.c_student.get(conversations.messages).json()["unread_count"] == 1


def test_the_other_side_is_told_with_one_email_per_unread_run(conversations):  # type: ignore[no-untyped-def]
    company_user = conversations.contract.project.created_by
    for text in ("one", "two"):
        conversations.c_student.post(conversations.messages, {"body": text}, format="json")
    assert Notification.objects.filter(user=company_user, kind="message_received").count() == 2
    assert (
        OutboundEmail.objects.filter(to=company_user.email, template="message_received").count()
        == 1
    )
    conversations.c_company.post(f"{conversations.messages}read/")
    conversations.c_student.post(conversations.messages, {"body": "three"}, format="json")
    assert (
        OutboundEmail.objects.filter(to=company_user.email, template="message_received").count()
        == 2
    )
    assert not Notification.objects.filter(
        user=conversations.contract.student, kind="message_received"
    )
    conversations.me.post(conversations.questions, {"body": "Question"}, format="json")
    assert Notification.objects.filter(kind="question_received").count() == 2  # two members
    thread = Thread.objects.get(project=conversations.brief).pk
    conversations.company.post(
        f"{conversations.questions}{thread}/messages/", {"body": "Answer"}, format="json"
    )
    assert Notification.objects.get(kind="question_answered").user == conversations.asker


@pytest.mark.parametrize("who", ["rival", "other_student", "coordinator", "me"])
def test_third_parties_get_404_on_a_contract_thread(conversations, who):  # type: ignore[no-untyped-def]
    conversations.c_student.post(conversations.messages, {"body": "hello"}, format="json")
    client = getattr(conversations, who)
    assert client.get(conversations.messages).status_code == 404
    assert client.post(conversations.messages, {"body": "x"}, format="json").status_code == 404
    assert client.post(f"{conversations.messages}read/").status_code == 404
    thread = Thread.objects.get(project=conversations.contract.project).pk
    url = f"/api/v1/projects/{conversations.contract.project_id}/questions/{thread}/messages/"
    assert client.get(url).status_code == 404


def test_staff_read_a_contract_thread_only_during_a_dispute(conversations):  # type: ignore[no-untyped-def]
    conversations.c_student.post(conversations.messages, {"body": "hello"}, format="json")
    assert conversations.staff.get(conversations.messages).status_code == 403
    milestone = conversations.contract.milestones.get()
    milestone_dispute(milestone_id=milestone.pk, by=conversations.contract.student, reason="Unpaid")
    res = conversations.staff.get(conversations.messages)
    assert res.status_code == 200 and res.json()["results"][0]["body"] == "hello"
    assert (
        conversations.staff.post(
            conversations.messages, {"body": "staff"}, format="json"
        ).status_code
        == 403
    )
    Dispute.objects.update(status=Dispute.Status.RESOLVED)
    assert conversations.staff.get(conversations.messages).status_code == 403


def test_attachments_and_bad_input(conversations, settings):  # type: ignore[no-untyped-def]
    settings.MAX_UPLOAD_BYTES = 100
    ok = SimpleUploadedFile("spec.txt", b"the spec", content_type="text/plain")
    res = conversations.c_company.post(conversations.messages, {"files": [ok]}, format="multipart")
    assert res.status_code == 201, res.content
    assert res.json()["attachments"][0]["name"] == "spec.txt"
    exe = SimpleUploadedFile("spec.pdf", b"MZ" + b"\x00" * 50)
    res = conversations.c_company.post(
        conversations.messages, {"body": "x", "files": [exe]}, format="multipart"
    )
    assert res.status_code == 400 and "files" in res.json()["errors"]
    res = conversations.c_company.post(
        conversations.messages, {"body": "x" * 10_001}, format="json"
    )
    assert res.status_code == 400 and "body" in res.json()["errors"]
    assert (
        conversations.c_company.post(
            conversations.messages, {"body": ""}, format="json"
        ).status_code
        == 400
    )
    assert (
        conversations.c_company.post(
            conversations.messages, "[1]", content_type="application/json"
        ).status_code
        == 400
    )


def test_anonymous_gets_401(conversations, api):  # type: ignore[no-untyped-def]
    assert api.get(conversations.messages).status_code == 401
    assert api.post(conversations.questions, {"body": "x"}, format="json").status_code == 401


def test_refused_questions_leave_no_empty_thread_and_unverified_students_cannot_ask(as_user):
    from projects.messaging.models import Thread
    from tests.factories import ProjectFactory, StudentFactory, VerifiedStudentFactory

    brief = ProjectFactory()
    verified = as_user(VerifiedStudentFactory())
    res = verified.post(f"/api/v1/projects/{brief.pk}/questions/", {"body": ""}, format="json")
    assert res.status_code == 400
    assert not Thread.objects.exists()
    res = as_user(StudentFactory()).post(
        f"/api/v1/projects/{brief.pk}/questions/", {"body": "Hello"}, format="json"
    )
    assert res.status_code == 403
    assert not Thread.objects.exists()
