"""A GET writes nothing: the main pages and the API's read routes run no INSERT, UPDATE or
DELETE, whoever asks (rows a read would need are made by the first write that needs them,
e.g. a student's profile by `student_profile_update`).

That holds for the links followed from outside too: `/verify/<token>/` (the e-mailed
confirmation, which mail scanners open) and `/payouts/return/` (the gateway's return) only
show a form; the confirmation and the check with the gateway are POSTs.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from marketplace.models import StudentProfile, User
from payments.gateways.dummy import DummyGateway
from payments.models import Escrow, PayoutAccount
from projects.briefs.services import bid_submit
from projects.contracts.services import milestone_approve, milestone_submit
from schools.models import EnrolmentVerification
from schools.services import verification_token_make
from tests.factories import (
    CompanyMemberFactory,
    CoordinatorFactory,
    ProjectFactory,
    UserFactory,
    VerificationFactory,
)
from tests.factories.contracts import active_contract
from tests.factories.milestones import submitted_milestone

pytestmark = pytest.mark.django_db

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def _writes(ctx: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries if q["sql"].lstrip().upper().startswith(WRITES)]


@pytest.fixture
def world():  # type: ignore[no-untyped-def]
    """A company with a brief, a bid, a contract delivered once; a student without a profile."""
    owner = CompanyMemberFactory()
    student = UserFactory(role=User.Role.STUDENT)  # no StudentProfile row
    verification = VerificationFactory(student=student)
    StudentProfile.objects.filter(user=student).delete()
    contract = active_contract(owner=owner, student=student, amounts=(10_000, 20_000))
    milestone = contract.milestones.order_by("position").first()
    milestone_submit(milestone_id=milestone.pk, by=student, note="done")
    StudentProfile.objects.filter(user=student).delete()
    brief = ProjectFactory(company=owner.company_membership.company, created_by=owner)
    bid_submit(
        project_id=brief.pk, by=student, amount_cents=10_000, estimated_days=3, cover_letter="Hi"
    )
    coordinator = CoordinatorFactory(school=verification.school).user
    return {
        "owner": owner,
        "student": student,
        "coordinator": coordinator,
        "contract": contract,
        "milestone": milestone,
        "brief": brief,
    }


def _pages(w) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    c, b, m = w["contract"].pk, w["brief"].pk, w["milestone"].pk
    return {
        "owner": [
            "/",
            "/home/",
            "/company/",
            "/company/briefs/new/",
            f"/company/briefs/{b}/",
            f"/company/briefs/{b}/edit/",
            f"/company/briefs/{b}/bids/",
            f"/company/briefs/{b}/matches/",
            "/company/contracts/",
            f"/company/contracts/{c}/",
            f"/company/contracts/{c}/money/",
            f"/company/contracts/{c}/review/",
            f"/company/milestones/{m}/fund/",
            "/company/spending/",
            "/company/reputation/",
            "/notifications/",
        ],
        "student": [
            "/student/",
            "/student/verification/",
            "/student/profile/",
            "/student/briefs/",
            f"/student/briefs/{b}/",
            "/student/bids/",
            "/student/contracts/",
            f"/student/contracts/{c}/",
            "/student/payouts/",
            "/student/earnings/",
            "/notifications/",
        ],
        "coordinator": ["/school/", "/school/requests/", "/school/students/", "/school/audit/"],
    }


def _api(w) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    c, b = w["contract"].pk, w["brief"].pk
    common = ["/api/v1/me/", "/api/v1/notifications/", "/api/v1/skills/", "/api/v1/schools/"]
    return {
        "owner": [
            *common,
            "/api/v1/projects/",
            f"/api/v1/projects/{b}/",
            f"/api/v1/projects/{b}/bids/",
            f"/api/v1/projects/{b}/matches/",
            f"/api/v1/projects/{b}/questions/",
            "/api/v1/contracts/",
            f"/api/v1/contracts/{c}/",
            f"/api/v1/contracts/{c}/ledger/",
            f"/api/v1/contracts/{c}/messages/",
            f"/api/v1/contracts/{c}/reviews/",
            "/api/v1/students/",
        ],
        "student": [
            *common,
            "/api/v1/students/me/",
            "/api/v1/students/me/recommended-briefs/",
            "/api/v1/projects/",
            f"/api/v1/projects/{b}/",
            f"/api/v1/projects/{b}/bids/",
            "/api/v1/contracts/",
            f"/api/v1/contracts/{c}/",
            f"/api/v1/contracts/{c}/ledger/",
            f"/api/v1/contracts/{c}/messages/",
            "/api/v1/verifications/",
        ],
        "coordinator": [*common, "/api/v1/verifications/", "/api/v1/projects/"],
    }


@pytest.mark.parametrize("role", ["owner", "student", "coordinator"])
def test_the_pages_write_nothing_on_get(world, role):  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(world[role])
    for url in _pages(world)[role]:
        with CaptureQueriesContext(connection) as ctx:
            res = client.get(url)
        assert res.status_code in (200, 302), (url, res.status_code)
        assert _writes(ctx) == [], url
    assert not StudentProfile.objects.filter(user=world["student"]).exists()


@pytest.mark.parametrize("role", ["owner", "student", "coordinator"])
def test_the_api_writes_nothing_on_get(world, role):  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_authenticate(user=User.objects.get(pk=world[role].pk))
    for url in _api(world)[role]:
        with CaptureQueriesContext(connection) as ctx:
            res = client.get(url)
        assert res.status_code == 200, (url, res.status_code, res.content[:300])
        assert _writes(ctx) == [], url
    assert not StudentProfile.objects.filter(user=world["student"]).exists()


def test_a_student_without_a_profile_reads_a_blank_one_and_the_first_save_creates_it(world):
    client = APIClient()
    client.force_authenticate(user=world["student"])
    res = client.get("/api/v1/students/me/")
    assert res.json()["skills"] == [] and res.json()["headline"] == ""
    assert not StudentProfile.objects.filter(user=world["student"]).exists()
    res = client.patch("/api/v1/students/me/", {"headline": "Designer"}, format="json")
    assert res.status_code == 200
    assert StudentProfile.objects.get(user=world["student"]).headline == "Designer"


@pytest.mark.parametrize("signed_in", [False, True])
def test_opening_the_verification_link_writes_nothing(signed_in):  # type: ignore[no-untyped-def]
    verification = VerificationFactory(
        status=EnrolmentVerification.Status.PENDING_EMAIL, email_confirmed_at=None, decided_at=None
    )
    client = Client()
    if signed_in:
        client.force_login(verification.student)
    url = f"/verify/{verification_token_make(verification=verification)}/"
    with CaptureQueriesContext(connection) as ctx:
        res = client.get(url)
    assert res.status_code == 200
    assert "Confirm my school address" in res.content.decode()
    assert _writes(ctx) == []
    verification.refresh_from_db()
    assert verification.status == EnrolmentVerification.Status.PENDING_EMAIL


@pytest.mark.parametrize("url", ["/payouts/return/", "/payouts/refresh/"])
def test_coming_back_from_payout_onboarding_writes_nothing(client, url):  # type: ignore[no-untyped-def]
    milestone = submitted_milestone(payouts_enabled=False)
    student = milestone.contract.student
    milestone_approve(milestone_id=milestone.pk, by=None)
    # Ready at the (dummy) gateway, and money waiting: only the POST check may pay it.
    status = DummyGateway().create_account(
        email=student.email, country="FR", idempotency_key=f"user-{student.pk}-account"
    )
    PayoutAccount.objects.filter(user=student).update(account_id=status.id)
    client.force_login(student)
    with CaptureQueriesContext(connection) as ctx:
        res = client.get(url)
    assert res.status_code == 200
    assert "Check my payout account" in res.content.decode()
    assert _writes(ctx) == []
    assert Escrow.objects.get(pk=milestone.escrow_id).status == Escrow.Status.RELEASE_PENDING
    assert PayoutAccount.objects.get(user=student).payouts_enabled is False
