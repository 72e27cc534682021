from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.core import mail
from django.utils import timezone

from marketplace.models import User
from schools.models import EnrolmentVerification, VerificationEvent
from schools.services import verification_token_make
from tests.factories import (
    CompanyMemberFactory,
    CoordinatorFactory,
    ProjectFactory,
    SchoolDomainFactory,
    SchoolFactory,
    StudentFactory,
    UserFactory,
    VerificationFactory,
)

pytestmark = pytest.mark.django_db

V = EnrolmentVerification.Status


@pytest.fixture
def two_schools(as_user):  # type: ignore[no-untyped-def]
    school_a = SchoolFactory()
    school_b = SchoolFactory()
    coordinator_a = CoordinatorFactory(school=school_a).user
    coordinator_b = CoordinatorFactory(school=school_b).user
    a_pending = VerificationFactory(school=school_a, status=V.PENDING_REVIEW, decided_at=None)
    a_email = VerificationFactory(school=school_a, status=V.PENDING_EMAIL, decided_at=None)
    a_verified = VerificationFactory(school=school_a)
    b_pending = VerificationFactory(school=school_b, status=V.PENDING_REVIEW, decided_at=None)
    b_verified = VerificationFactory(school=school_b)
    return SimpleNamespace(
        school_a=school_a,
        school_b=school_b,
        domain_a=school_a.domains.first().domain,
        a=as_user(coordinator_a),
        b=as_user(coordinator_b),
        a_user=coordinator_a,
        a_pending=a_pending,
        a_email=a_email,
        a_verified=a_verified,
        b_pending=b_pending,
        b_verified=b_verified,
    )


def _rows() -> list[tuple]:
    return sorted(
        EnrolmentVerification.objects.values_list(
            "pk", "status", "reason", "decided_by", "decided_at"
        )
    )


def _ids(res) -> list[int]:  # type: ignore[no-untyped-def]
    assert res.status_code == 200, res.content
    return [row["id"] for row in res.json()["results"]]


def test_a_coordinator_lists_only_their_schools_requests(two_schools):  # type: ignore[no-untyped-def]
    mine = {two_schools.a_pending.pk, two_schools.a_email.pk, two_schools.a_verified.pk}
    assert set(_ids(two_schools.a.get("/api/v1/verifications/"))) == mine
    assert set(_ids(two_schools.b.get("/api/v1/verifications/"))) == {
        two_schools.b_pending.pk,
        two_schools.b_verified.pk,
    }
    assert _ids(two_schools.a.get("/api/v1/verifications/?status=pending_review")) == [
        two_schools.a_pending.pk
    ]
    assert _ids(two_schools.a.get("/api/v1/verifications/?status=verified")) == [
        two_schools.a_verified.pk
    ]
    assert _ids(two_schools.a.get("/api/v1/verifications/?status=rejected")) == []


def test_the_list_shows_the_student_and_the_school(two_schools):  # type: ignore[no-untyped-def]
    rows = two_schools.a.get("/api/v1/verifications/?status=pending_review").json()["results"]
    assert rows[0]["student"]["id"] == two_schools.a_pending.student_id
    assert rows[0]["school"] == two_schools.school_a.pk
    assert rows[0]["school_name"] == two_schools.school_a.name


@pytest.mark.parametrize(
    ("action", "body"),
    [("approve", {}), ("reject", {"reason": "Unknown"}), ("revoke", {"reason": "Left"})],
)
def test_another_schools_coordinator_gets_404_and_nothing_changes(two_schools, action, body):  # type: ignore[no-untyped-def]
    before = _rows()
    for target in (two_schools.a_pending, two_schools.a_verified):
        res = two_schools.b.post(
            f"/api/v1/verifications/{target.pk}/{action}/", body, format="json"
        )
        assert res.status_code == 404, res.content
        assert res.json()["code"] == "not_found"
    assert _rows() == before
    assert not VerificationEvent.objects.exists()


@pytest.mark.parametrize(
    ("who", "code"), [("company", 404), ("other_student", 404), ("owner", 403), ("anon", 401)]
)
def test_only_a_coordinator_decides(two_schools, as_user, api, who, code):  # type: ignore[no-untyped-def]
    client = {
        "company": lambda: as_user(CompanyMemberFactory()),
        "other_student": lambda: as_user(StudentFactory()),
        "owner": lambda: as_user(two_schools.a_pending.student),
        "anon": lambda: api,
    }[who]()
    before = _rows()
    for action, body in (("approve", {}), ("reject", {"reason": "x"}), ("revoke", {"reason": "y"})):
        res = client.post(
            f"/api/v1/verifications/{two_schools.a_pending.pk}/{action}/", body, format="json"
        )
        assert res.status_code == code, res.content
    assert _rows() == before


def test_the_coordinator_approves_and_the_student_can_then_bid(  # type: ignore[no-untyped-def]
    two_schools, as_user, django_capture_on_commit_callbacks
):
    student = two_schools.a_pending.student
    project = ProjectFactory()
    bid = {"amount_cents": 1000, "estimated_days": 2, "cover_letter": "Hi"}
    url = f"/api/v1/projects/{project.pk}/bids/"
    assert as_user(student).post(url, bid, format="json").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        res = two_schools.a.post(f"/api/v1/verifications/{two_schools.a_pending.pk}/approve/")
    assert res.status_code == 200, res.content
    assert res.json()["status"] == "verified"
    row = EnrolmentVerification.objects.get(pk=two_schools.a_pending.pk)
    assert row.decided_by_id == two_schools.a_user.pk
    assert row.decided_at is not None
    event = VerificationEvent.objects.get(verification=row)
    assert (event.from_status, event.to_status, event.actor_id) == (
        V.PENDING_REVIEW,
        V.VERIFIED,
        two_schools.a_user.pk,
    )
    assert [m.to for m in mail.outbox] == [[student.email]]
    assert as_user(student).post(url, bid, format="json").status_code == 201


def test_rejecting_needs_a_reason_which_the_student_reads(two_schools, as_user):  # type: ignore[no-untyped-def]
    url = f"/api/v1/verifications/{two_schools.a_pending.pk}/reject/"
    before = _rows()
    for body in ({}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 2001}):
        res = two_schools.a.post(url, body, format="json")
        assert res.status_code == 400, res.content
        assert "reason" in res.json()["errors"]
    assert _rows() == before
    res = two_schools.a.post(url, {"reason": "  No such student  "}, format="json")
    assert res.status_code == 200, res.content
    mine = as_user(two_schools.a_pending.student).get("/api/v1/verifications/").json()["results"]
    assert [(v["status"], v["reason"]) for v in mine] == [("rejected", "No such student")]


@pytest.mark.parametrize(
    ("target", "action", "body"),
    [
        ("a_email", "approve", {}),
        ("a_verified", "approve", {}),
        ("a_pending", "revoke", {"reason": "Left"}),
        ("a_verified", "reject", {"reason": "Late"}),
    ],
)
def test_illegal_decisions_are_conflicts(two_schools, target, action, body):  # type: ignore[no-untyped-def]
    before = _rows()
    res = two_schools.a.post(
        f"/api/v1/verifications/{getattr(two_schools, target).pk}/{action}/", body, format="json"
    )
    assert res.status_code == 409, res.content
    assert res.json()["code"] == "state_conflict"
    assert _rows() == before
    assert not VerificationEvent.objects.exists()


def test_deciding_twice_is_a_conflict(two_schools):  # type: ignore[no-untyped-def]
    url = f"/api/v1/verifications/{two_schools.a_pending.pk}/"
    assert two_schools.a.post(url + "approve/").status_code == 200
    before = _rows()
    assert two_schools.a.post(url + "approve/").status_code == 409
    assert two_schools.a.post(url + "reject/", {"reason": "no"}, format="json").status_code == 409
    assert _rows() == before
    assert two_schools.a.post(url + "revoke/", {"reason": "Left"}, format="json").status_code == 200
    assert (
        two_schools.a.post(url + "revoke/", {"reason": "Again"}, format="json").status_code == 409
    )


def test_staff_decide_for_any_school(two_schools, as_user):  # type: ignore[no-untyped-def]
    staff = as_user(UserFactory(role=User.Role.ADMIN, is_staff=True))
    assert len(_ids(staff.get("/api/v1/verifications/?page_size=100"))) == 5
    res = staff.post(f"/api/v1/verifications/{two_schools.b_pending.pk}/approve/")
    assert res.status_code == 200 and res.json()["status"] == "verified"


@pytest.fixture
def applicant() -> User:
    return StudentFactory()


def _request(client, school_id: int, email: str, graduation: str | None = None):  # type: ignore[no-untyped-def]
    graduation = graduation or (timezone.localdate() + dt.timedelta(days=365)).isoformat()
    return client.post(
        "/api/v1/verifications/",
        {
            "school": school_id,
            "school_email": email,
            "program": "MSc",
            "graduation_date": graduation,
        },
        format="json",
    )


@pytest.mark.parametrize(
    ("email", "graduation", "field"),
    [
        ("lea@gmail.com", "2099-06-30", "school_email"),
        ("lea@{domain}.evil.com", "2099-06-30", "school_email"),
        ("lea@evil{domain}", "2099-06-30", "school_email"),
        ("lea@@{domain}", "2099-06-30", "school_email"),
        ("lea@x@{domain}", "2099-06-30", "school_email"),
        ("lea@{domain}.", "2099-06-30", "school_email"),
        ("lea@.{domain}", "2099-06-30", "school_email"),
        ("@{domain}", "2099-06-30", "school_email"),
        ("lea", "2099-06-30", "school_email"),
        ("le a@{domain}", "2099-06-30", "school_email"),
        ("lea@{domain}%00", "2099-06-30", "school_email"),
        ("lea@{domain}", "2000-01-01", "graduation_date"),
        ("lea@{domain}", "{today}", "graduation_date"),
        ("lea@{domain}", "not-a-date", "graduation_date"),
        ("lea@{domain}", "3000-01-01", "graduation_date"),
    ],
)
def test_bad_verification_requests_answer_400_naming_the_field(  # type: ignore[no-untyped-def]
    two_schools, as_user, applicant, email, graduation, field
):
    email = email.format(domain=two_schools.domain_a).replace("%00", "\x00")
    graduation = graduation.format(today=timezone.localdate().isoformat())
    before = _rows()
    res = _request(as_user(applicant), two_schools.school_a.pk, email, graduation)
    assert res.status_code == 400, res.content
    assert res.json()["code"] == "invalid"
    assert field in res.json()["errors"], res.json()
    assert _rows() == before


def test_a_foreign_domain_answer_lists_the_schools_domains(two_schools, as_user, applicant):  # type: ignore[no-untyped-def]
    res = _request(as_user(applicant), two_schools.school_a.pk, "lea@gmail.com")
    assert res.json()["school_domains"] == [two_schools.domain_a]


@pytest.mark.parametrize("school", [0, 999_999, "abc", None])
def test_an_unknown_school_is_refused(two_schools, as_user, applicant, school):  # type: ignore[no-untyped-def]
    res = _request(as_user(applicant), school, f"lea@{two_schools.domain_a}")
    assert res.status_code == 400, res.content
    assert "school" in res.json()["errors"]


@pytest.mark.parametrize("email", ["Lea@{upper}", "lea@etu.{domain}", "lea@ETU.{upper}"])
def test_school_addresses_and_subdomains_are_accepted(two_schools, as_user, applicant, email):  # type: ignore[no-untyped-def]
    email = email.format(domain=two_schools.domain_a, upper=two_schools.domain_a.upper())
    res = _request(as_user(applicant), two_schools.school_a.pk, email)
    assert res.status_code == 201, res.content
    assert res.json()["status"] == "pending_email"
    assert res.json()["school_email"].split("@")[1] == email.split("@")[1].lower()


def test_an_idna_school_domain_accepts_both_spellings(as_user, applicant):  # type: ignore[no-untyped-def]
    school = SchoolFactory(domain=None)
    SchoolDomainFactory(school=school, domain="xn--cole-9oa.fr")
    res = _request(as_user(applicant), school.pk, "lea@ÉCOLE.fr")
    assert res.status_code == 201, res.content
    assert res.json()["school_email"] == "lea@xn--cole-9oa.fr"


def test_a_second_live_request_is_a_conflict(two_schools, as_user, applicant):  # type: ignore[no-untyped-def]
    client = as_user(applicant)
    assert (
        _request(client, two_schools.school_a.pk, f"lea@{two_schools.domain_a}").status_code == 201
    )
    before = _rows()
    res = _request(
        client, two_schools.school_b.pk, f"lea@{two_schools.school_b.domains.first().domain}"
    )
    assert res.status_code == 409, res.content
    assert _rows() == before


def test_an_address_held_by_another_student_is_refused(two_schools, as_user, applicant):  # type: ignore[no-untyped-def]
    before = _rows()
    res = _request(
        as_user(applicant), two_schools.school_a.pk, two_schools.a_verified.school_email.upper()
    )
    assert res.status_code == 400, res.content
    assert "school_email" in res.json()["errors"]
    assert _rows() == before


def test_confirming_the_address_moves_the_request_to_review(two_schools, as_user):  # type: ignore[no-untyped-def]
    student = two_schools.a_email.student
    client = as_user(student)
    token = verification_token_make(verification=two_schools.a_email)
    res = client.post("/api/v1/verifications/confirm/", {"token": token}, format="json")
    assert res.status_code == 200, res.content
    assert res.json()["status"] == "pending_review"
    res = client.post("/api/v1/verifications/confirm/", {"token": token}, format="json")
    assert res.status_code == 200 and res.json()["status"] == "pending_review"
    assert (
        two_schools.a.post(f"/api/v1/verifications/{two_schools.a_email.pk}/approve/").status_code
        == 200
    )


@pytest.mark.parametrize("token", ["", "garbage", "a" * 2001, "x:y:z"])
def test_a_bad_token_is_refused(two_schools, as_user, token):  # type: ignore[no-untyped-def]
    before = _rows()
    res = as_user(two_schools.a_email.student).post(
        "/api/v1/verifications/confirm/", {"token": token}, format="json"
    )
    assert res.status_code == 400, res.content
    assert "token" in res.json()["errors"]
    assert _rows() == before


def test_a_tampered_token_is_refused(two_schools, as_user):  # type: ignore[no-untyped-def]
    token = verification_token_make(verification=two_schools.a_email)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    res = as_user(two_schools.a_email.student).post(
        "/api/v1/verifications/confirm/", {"token": tampered}, format="json"
    )
    assert res.status_code == 400
    assert EnrolmentVerification.objects.get(pk=two_schools.a_email.pk).status == V.PENDING_EMAIL


def test_someone_elses_token_confirms_without_telling_them_the_request(two_schools, as_user):  # type: ignore[no-untyped-def]
    token = verification_token_make(verification=two_schools.a_email)
    res = as_user(StudentFactory()).post(
        "/api/v1/verifications/confirm/", {"token": token}, format="json"
    )
    assert res.status_code == 200
    assert set(res.json()) == {"detail"}


def test_an_expired_verification_no_longer_lets_a_student_bid(two_schools, as_user):  # type: ignore[no-untyped-def]
    student = two_schools.a_verified.student
    project = ProjectFactory()
    EnrolmentVerification.objects.filter(pk=two_schools.a_verified.pk).update(
        graduation_date=timezone.localdate() - dt.timedelta(days=1)
    )
    res = as_user(student).post(
        f"/api/v1/projects/{project.pk}/bids/",
        {"amount_cents": 1000, "estimated_days": 2, "cover_letter": "Hi"},
        format="json",
    )
    assert res.status_code == 403, res.content
