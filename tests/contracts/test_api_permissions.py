from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.utils import timezone

from marketplace.models import User
from payments.models import Escrow, EscrowEvent, LedgerEntry
from projects.briefs.models import Bid, Project
from projects.briefs.services import bid_submit
from projects.contracts.models import Contract, Milestone, MilestoneEvent
from projects.contracts.services import MilestoneSpec, bid_accept, milestone_fund, milestone_submit
from schools.models import Coordinator, EnrolmentVerification
from tests.factories import (
    PASSWORD,
    CompanyMemberFactory,
    CoordinatorFactory,
    ProjectFactory,
    SchoolFactory,
    StudentFactory,
    UserFactory,
    VerificationFactory,
    VerifiedStudentFactory,
)

pytestmark = pytest.mark.django_db

V = EnrolmentVerification.Status


def _bid(project: Project, student: User, amount: int = 100_000) -> Bid:
    return bid_submit(
        project_id=project.pk, by=student, amount_cents=amount, estimated_days=10, cover_letter="Hi"
    )


@pytest.fixture
def marketplace_setup():  # type: ignore[no-untyped-def]
    school_a = SchoolFactory()
    school_b = SchoolFactory()
    owner = CompanyMemberFactory()
    company_a = owner.company_membership.company
    rival = CompanyMemberFactory()
    company_b = rival.company_membership.company
    bidder = VerifiedStudentFactory(verification__school=school_a)
    outsider = VerifiedStudentFactory(verification__school=school_a)
    b_student = VerifiedStudentFactory(verification__school=school_b)
    unverified = StudentFactory()
    applicant = StudentFactory()
    coordinator = CoordinatorFactory(school=school_a).user
    rival_coordinator = CoordinatorFactory(school=school_b).user
    staff = UserFactory(role=User.Role.ADMIN, is_staff=True)

    draft = ProjectFactory(
        company=company_a, created_by=owner, status=Project.Status.DRAFT, published_at=None
    )
    open_ = ProjectFactory(company=company_a, created_by=owner)
    restricted = ProjectFactory(
        company=company_a, created_by=owner, visibility=Project.Visibility.SCHOOLS
    )
    restricted.allowed_schools.set([school_b])
    bid = _bid(open_, bidder)
    outsider_bid = _bid(open_, outsider)

    won = ProjectFactory(company=company_a, created_by=owner)
    won_bid = _bid(won, bidder, amount=300_000)
    contract = bid_accept(
        bid_id=won_bid.pk,
        by=owner,
        milestones=[
            MilestoneSpec(title="One", amount_cents=100_000),
            MilestoneSpec(title="Two", amount_cents=100_000),
            MilestoneSpec(title="Three", amount_cents=100_000),
        ],
    )
    m_pending, m_funded, m_submitted = contract.milestones.order_by("position")
    for m in (m_funded, m_submitted):
        milestone_fund(milestone_id=m.pk, by=owner, payment_method="pm_card_visa")
    milestone_submit(milestone_id=m_submitted.pk, by=bidder, note="done")

    rival_project = ProjectFactory(company=company_b, created_by=rival)
    rival_bid = _bid(rival_project, outsider, amount=50_000)
    rival_contract = bid_accept(bid_id=rival_bid.pk, by=rival)

    pending_review = VerificationFactory(
        student=applicant,
        school=school_a,
        status=V.PENDING_REVIEW,
        decided_at=None,
    )
    b_pending = VerificationFactory(school=school_b, status=V.PENDING_REVIEW, decided_at=None)
    return SimpleNamespace(
        users={
            "owner": owner,
            "rival": rival,
            "bidder": bidder,
            "outsider": outsider,
            "b_student": b_student,
            "unverified": unverified,
            "applicant": applicant,
            "coordinator": coordinator,
            "rival_coordinator": rival_coordinator,
            "staff": staff,
        },
        ids={
            "draft": draft.pk,
            "open": open_.pk,
            "restricted": restricted.pk,
            "won": won.pk,
            "bid": bid.pk,
            "outsider_bid": outsider_bid.pk,
            "contract": contract.pk,
            "rival_contract": rival_contract.pk,
            "m_pending": m_pending.pk,
            "m_funded": m_funded.pk,
            "m_submitted": m_submitted.pk,
            "verification": pending_review.pk,
            "b_verification": b_pending.pk,
            "school_a": school_a.pk,
            "school_a_domain": school_a.domains.first().domain,
        },
    )


def _body(route: str, ids: dict) -> dict:
    route = route.removeprefix("b-")
    for prefix in ("draft-", "open-", "restricted-"):
        if route.startswith(prefix):
            route = "project-" + route.removeprefix(prefix)
    return {
        "project-create": {"title": "Shop", "description": "A shop", "budget_cents": 1000},
        "project-patch": {"title": "Renamed"},
        "project-bid-create": {"amount_cents": 1000, "estimated_days": 3, "cover_letter": "Me"},
        "verification-create": {
            "school": ids["school_a"],
            "school_email": f"someone@{ids['school_a_domain']}",
            "program": "MSc",
            "graduation_date": (timezone.localdate() + dt.timedelta(days=365)).isoformat(),
        },
        "verification-reject": {"reason": "Not enrolled"},
        "verification-revoke": {"reason": "Left the school"},
        "coordinator-create": {
            "email": "new.coordinator@school.test",
            "school": ids["school_a"],
            "first_name": "New",
            "last_name": "Coordinator",
            "password": PASSWORD,
        },
        "milestone-fund": {"payment_method": "pm_card_visa"},
        "milestone-submit": {"note": "done"},
        "milestone-request-changes": {"note": "more"},
        "verification-confirm": {"token": "not-a-token"},
        "student-me-patch": {"headline": "Hello"},
    }.get(route, {})


ROUTES: dict[str, tuple[str, str]] = {
    "me": ("get", "/api/v1/me/"),
    "student-me": ("get", "/api/v1/students/me/"),
    "student-me-patch": ("patch", "/api/v1/students/me/"),
    "payout-onboard": ("post", "/api/v1/students/me/payouts/onboard/"),
    "verification-list": ("get", "/api/v1/verifications/"),
    "verification-create": ("post", "/api/v1/verifications/"),
    "verification-confirm": ("post", "/api/v1/verifications/confirm/"),
    "verification-approve": ("post", "/api/v1/verifications/{verification}/approve/"),
    "verification-reject": ("post", "/api/v1/verifications/{verification}/reject/"),
    "verification-revoke": ("post", "/api/v1/verifications/{verification}/revoke/"),
    "b-verification-approve": ("post", "/api/v1/verifications/{b_verification}/approve/"),
    "coordinator-create": ("post", "/api/v1/admin/coordinators/"),
    "project-list": ("get", "/api/v1/projects/"),
    "project-create": ("post", "/api/v1/projects/"),
    "draft-detail": ("get", "/api/v1/projects/{draft}/"),
    "draft-patch": ("patch", "/api/v1/projects/{draft}/"),
    "draft-publish": ("post", "/api/v1/projects/{draft}/publish/"),
    "draft-cancel": ("post", "/api/v1/projects/{draft}/cancel/"),
    "draft-matches": ("get", "/api/v1/projects/{draft}/matches/"),
    "draft-bids": ("get", "/api/v1/projects/{draft}/bids/"),
    "draft-bid-create": ("post", "/api/v1/projects/{draft}/bids/"),
    "open-detail": ("get", "/api/v1/projects/{open}/"),
    "open-patch": ("patch", "/api/v1/projects/{open}/"),
    "open-publish": ("post", "/api/v1/projects/{open}/publish/"),
    "open-cancel": ("post", "/api/v1/projects/{open}/cancel/"),
    "open-matches": ("get", "/api/v1/projects/{open}/matches/"),
    "open-bids": ("get", "/api/v1/projects/{open}/bids/"),
    "open-bid-create": ("post", "/api/v1/projects/{open}/bids/"),
    "restricted-detail": ("get", "/api/v1/projects/{restricted}/"),
    "restricted-bids": ("get", "/api/v1/projects/{restricted}/bids/"),
    "restricted-bid-create": ("post", "/api/v1/projects/{restricted}/bids/"),
    "won-detail": ("get", "/api/v1/projects/{won}/"),
    "bid-withdraw": ("post", "/api/v1/bids/{bid}/withdraw/"),
    "bid-shortlist": ("post", "/api/v1/bids/{bid}/shortlist/"),
    "bid-reject": ("post", "/api/v1/bids/{bid}/reject/"),
    "bid-accept": ("post", "/api/v1/bids/{bid}/accept/"),
    "contract-list": ("get", "/api/v1/contracts/"),
    "contract-detail": ("get", "/api/v1/contracts/{contract}/"),
    "contract-ledger": ("get", "/api/v1/contracts/{contract}/ledger/"),
    "milestone-fund": ("post", "/api/v1/milestones/{m_pending}/fund/"),
    "milestone-submit": ("post", "/api/v1/milestones/{m_funded}/submit/"),
    "milestone-approve": ("post", "/api/v1/milestones/{m_submitted}/approve/"),
    "milestone-request-changes": ("post", "/api/v1/milestones/{m_submitted}/request-changes/"),
}
PUBLIC_ROUTES = {
    "skills": ("get", "/api/v1/skills/"),
    "schools": ("get", "/api/v1/schools/"),
    "school-detail": ("get", "/api/v1/schools/{school_a}/"),
}


def _call(client, route: str, ids: dict):  # type: ignore[no-untyped-def]
    method, template = {**ROUTES, **PUBLIC_ROUTES}[route]
    url = template.format(**ids)
    if method == "get":
        return client.get(url)
    return getattr(client, method)(url, _body(route, ids), format="json")


def _snapshot() -> dict:
    return {
        "projects": sorted(Project.objects.values_list("pk", "status", "title")),
        "bids": sorted(Bid.objects.values_list("pk", "status")),
        "contracts": sorted(Contract.objects.values_list("pk", "status")),
        "milestones": sorted(Milestone.objects.values_list("pk", "work_status", "escrow__status")),
        "escrows": sorted(Escrow.objects.values_list("pk", "status", "funding_attempts")),
        "escrow_events": EscrowEvent.objects.count(),
        "milestone_events": MilestoneEvent.objects.count(),
        "ledger": LedgerEntry.objects.count(),
        "verifications": sorted(EnrolmentVerification.objects.values_list("pk", "status")),
        "users": User.objects.count(),
        "coordinators": Coordinator.objects.count(),
        "profiles": sorted(User.objects.values_list("pk", "student_profile__headline")),
    }


ERROR_CODES = {401: "not_authenticated", 403: "permission_denied", 404: "not_found"}


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_anonymous_is_refused_everywhere_but_the_public_routes(marketplace_setup, api, route):  # type: ignore[no-untyped-def]
    before = _snapshot()
    res = _call(api, route, marketplace_setup.ids)
    assert res.status_code == 401, res.content
    assert res.json()["code"] == "not_authenticated"
    assert _snapshot() == before


@pytest.mark.parametrize("route", sorted(PUBLIC_ROUTES))
def test_anonymous_reads_the_public_catalogue(marketplace_setup, api, route):  # type: ignore[no-untyped-def]
    res = _call(api, route, marketplace_setup.ids)
    assert res.status_code == 200, res.content


REFUSED = [
    # Wrong role on the caller's own account.
    ("student-me", "owner", 403),
    ("student-me", "coordinator", 403),
    ("student-me-patch", "owner", 403),
    ("student-me-patch", "coordinator", 403),
    ("payout-onboard", "owner", 403),
    ("payout-onboard", "coordinator", 403),
    ("verification-create", "owner", 403),
    ("verification-create", "coordinator", 403),
    ("coordinator-create", "owner", 403),
    ("coordinator-create", "bidder", 403),
    ("coordinator-create", "coordinator", 403),
    ("project-create", "bidder", 403),
    ("project-create", "coordinator", 403),
    # Verifications: another school's request is out of sight, one's own is not one's to decide.
    ("verification-approve", "rival_coordinator", 404),
    ("verification-reject", "rival_coordinator", 404),
    ("verification-revoke", "rival_coordinator", 404),
    ("b-verification-approve", "coordinator", 404),
    ("verification-approve", "owner", 404),
    ("verification-approve", "bidder", 404),
    ("verification-approve", "applicant", 403),
    ("verification-reject", "applicant", 403),
    ("verification-revoke", "applicant", 403),
    # A draft is visible to its company only.
    ("draft-detail", "rival", 404),
    ("draft-detail", "bidder", 404),
    ("draft-detail", "coordinator", 404),
    ("draft-patch", "rival", 404),
    ("draft-patch", "bidder", 404),
    ("draft-publish", "rival", 404),
    ("draft-publish", "bidder", 404),
    ("draft-publish", "coordinator", 404),
    ("draft-cancel", "rival", 404),
    ("draft-cancel", "bidder", 404),
    ("draft-matches", "rival", 404),
    ("draft-bids", "rival", 404),
    ("draft-bids", "bidder", 404),
    ("draft-bid-create", "bidder", 404),
    # An open brief is visible, but only its company manages it and only students bid.
    ("open-patch", "rival", 403),
    ("open-patch", "bidder", 403),
    ("open-publish", "bidder", 403),
    ("open-publish", "rival", 403),
    ("open-publish", "coordinator", 403),
    ("open-cancel", "bidder", 403),
    ("open-cancel", "rival", 403),
    ("open-matches", "rival", 403),
    ("open-matches", "bidder", 403),
    ("open-matches", "coordinator", 403),
    ("open-bid-create", "owner", 403),
    ("open-bid-create", "rival", 403),
    ("open-bid-create", "coordinator", 403),
    ("open-bid-create", "unverified", 403),
    # A brief for school B's students only.
    ("restricted-detail", "bidder", 404),
    ("restricted-detail", "rival", 404),
    ("restricted-detail", "coordinator", 404),
    ("restricted-bids", "bidder", 404),
    ("restricted-bid-create", "bidder", 404),
    # A brief in progress is no longer shown to students who did not bid.
    ("won-detail", "outsider", 404),
    ("won-detail", "rival", 404),
    # Bids: another company's or another student's are out of sight.
    ("bid-withdraw", "rival", 404),
    ("bid-withdraw", "outsider", 404),
    ("bid-withdraw", "coordinator", 404),
    ("bid-withdraw", "owner", 403),
    ("bid-shortlist", "rival", 404),
    ("bid-shortlist", "outsider", 404),
    ("bid-shortlist", "bidder", 403),
    ("bid-reject", "rival", 404),
    ("bid-reject", "outsider", 404),
    ("bid-reject", "bidder", 403),
    ("bid-accept", "rival", 404),
    ("bid-accept", "outsider", 404),
    ("bid-accept", "coordinator", 404),
    ("bid-accept", "bidder", 403),
    # Contracts, their ledger and milestones: the two parties only.
    ("contract-detail", "rival", 404),
    ("contract-detail", "outsider", 404),
    ("contract-detail", "coordinator", 404),
    ("contract-ledger", "rival", 404),
    ("contract-ledger", "outsider", 404),
    ("contract-ledger", "coordinator", 404),
    ("milestone-fund", "rival", 404),
    ("milestone-fund", "outsider", 404),
    ("milestone-fund", "coordinator", 404),
    ("milestone-fund", "bidder", 403),
    ("milestone-submit", "rival", 404),
    ("milestone-submit", "outsider", 404),
    ("milestone-submit", "owner", 403),
    ("milestone-approve", "rival", 404),
    ("milestone-approve", "outsider", 404),
    ("milestone-approve", "bidder", 403),
    ("milestone-request-changes", "rival", 404),
    ("milestone-request-changes", "outsider", 404),
    ("milestone-request-changes", "bidder", 403),
]


@pytest.mark.parametrize(("route", "persona", "code"), REFUSED)
def test_wrong_party_or_role_is_refused_and_nothing_changes(  # type: ignore[no-untyped-def]
    marketplace_setup, as_user, route, persona, code
):
    before = _snapshot()
    res = _call(as_user(marketplace_setup.users[persona]), route, marketplace_setup.ids)
    assert res.status_code == code, res.content
    assert res.json()["code"] == ERROR_CODES[code]
    assert _snapshot() == before


ALLOWED = [
    ("me", "owner", 200),
    ("me", "coordinator", 200),
    ("student-me", "bidder", 200),
    ("student-me-patch", "bidder", 200),
    ("payout-onboard", "bidder", 200),
    ("verification-create", "unverified", 201),
    ("verification-approve", "coordinator", 200),
    ("verification-reject", "coordinator", 200),
    ("verification-approve", "staff", 200),
    ("b-verification-approve", "rival_coordinator", 200),
    ("coordinator-create", "staff", 201),
    ("project-create", "owner", 201),
    ("draft-detail", "owner", 200),
    ("draft-detail", "staff", 200),
    ("draft-patch", "owner", 200),
    ("draft-publish", "owner", 200),
    ("draft-cancel", "owner", 200),
    ("draft-matches", "owner", 200),
    ("open-detail", "bidder", 200),
    ("open-detail", "rival", 200),
    ("open-patch", "owner", 200),
    ("open-cancel", "owner", 200),
    ("open-matches", "owner", 200),
    ("restricted-detail", "b_student", 200),
    ("restricted-detail", "rival_coordinator", 200),
    ("restricted-bid-create", "b_student", 201),
    ("won-detail", "bidder", 200),
    ("bid-withdraw", "bidder", 200),
    ("bid-shortlist", "owner", 200),
    ("bid-reject", "owner", 200),
    ("bid-accept", "owner", 201),
    ("contract-detail", "owner", 200),
    ("contract-detail", "bidder", 200),
    ("contract-detail", "staff", 200),
    ("contract-ledger", "owner", 200),
    ("contract-ledger", "bidder", 200),
    ("contract-ledger", "staff", 200),
    ("milestone-fund", "owner", 200),
    ("milestone-submit", "bidder", 200),
    ("milestone-approve", "owner", 200),
    ("milestone-request-changes", "owner", 200),
]


@pytest.mark.parametrize(("route", "persona", "code"), ALLOWED)
def test_the_right_party_gets_through(marketplace_setup, as_user, route, persona, code):  # type: ignore[no-untyped-def]
    res = _call(as_user(marketplace_setup.users[persona]), route, marketplace_setup.ids)
    assert res.status_code == code, res.content


def _ids(res) -> set[int]:  # type: ignore[no-untyped-def]
    assert res.status_code == 200, res.content
    return {row["id"] for row in res.json()["results"]}


def test_contract_lists_show_only_the_callers_contracts(marketplace_setup, as_user):  # type: ignore[no-untyped-def]
    ours, theirs = marketplace_setup.ids["contract"], marketplace_setup.ids["rival_contract"]
    assert _ids(as_user(marketplace_setup.users["owner"]).get("/api/v1/contracts/")) == {ours}
    assert _ids(as_user(marketplace_setup.users["rival"]).get("/api/v1/contracts/")) == {theirs}
    assert _ids(as_user(marketplace_setup.users["bidder"]).get("/api/v1/contracts/")) == {ours}
    assert _ids(as_user(marketplace_setup.users["outsider"]).get("/api/v1/contracts/")) == {theirs}
    assert _ids(as_user(marketplace_setup.users["b_student"]).get("/api/v1/contracts/")) == set()
    assert _ids(as_user(marketplace_setup.users["coordinator"]).get("/api/v1/contracts/")) == set()
    assert _ids(as_user(marketplace_setup.users["staff"]).get("/api/v1/contracts/")) == {
        ours,
        theirs,
    }


def test_bid_lists_show_the_company_every_bid_and_a_student_their_own(marketplace_setup, as_user):  # type: ignore[no-untyped-def]
    url = f"/api/v1/projects/{marketplace_setup.ids['open']}/bids/"
    both = {marketplace_setup.ids["bid"], marketplace_setup.ids["outsider_bid"]}
    assert _ids(as_user(marketplace_setup.users["owner"]).get(url)) == both
    assert _ids(as_user(marketplace_setup.users["staff"]).get(url)) == both
    assert _ids(as_user(marketplace_setup.users["bidder"]).get(url)) == {
        marketplace_setup.ids["bid"]
    }
    assert _ids(as_user(marketplace_setup.users["outsider"]).get(url)) == {
        marketplace_setup.ids["outsider_bid"]
    }
    assert _ids(as_user(marketplace_setup.users["rival"]).get(url)) == set()
    assert _ids(as_user(marketplace_setup.users["b_student"]).get(url)) == set()
    assert _ids(as_user(marketplace_setup.users["coordinator"]).get(url)) == set()


def test_contract_ledger_is_not_reachable_through_the_rival_contract(marketplace_setup, as_user):  # type: ignore[no-untyped-def]
    res = as_user(marketplace_setup.users["rival"]).get(
        f"/api/v1/contracts/{marketplace_setup.ids['rival_contract']}/ledger/"
    )
    assert res.status_code == 200
    assert res.json()["results"] == []
    res = as_user(marketplace_setup.users["owner"]).get(
        f"/api/v1/contracts/{marketplace_setup.ids['contract']}/ledger/"
    )
    accounts = {e["account"] for e in res.json()["results"]}
    rival_company = marketplace_setup.users["rival"].company_membership.company_id
    assert f"company:{rival_company}" not in accounts
    assert sum(e["amount_cents"] for e in res.json()["results"]) == 0


def test_verification_lists_are_scoped_to_the_school_or_the_student(marketplace_setup, as_user):  # type: ignore[no-untyped-def]
    school_a = set(
        EnrolmentVerification.objects.filter(
            school_id=marketplace_setup.ids["school_a"]
        ).values_list("pk", flat=True)
    )
    coordinator_sees = _ids(
        as_user(marketplace_setup.users["coordinator"]).get("/api/v1/verifications/")
    )
    assert coordinator_sees == school_a
    assert marketplace_setup.ids["b_verification"] not in coordinator_sees
    rival_sees = _ids(
        as_user(marketplace_setup.users["rival_coordinator"]).get("/api/v1/verifications/")
    )
    assert marketplace_setup.ids["b_verification"] in rival_sees
    assert rival_sees.isdisjoint(school_a)
    assert _ids(as_user(marketplace_setup.users["applicant"]).get("/api/v1/verifications/")) == {
        marketplace_setup.ids["verification"]
    }
    assert _ids(as_user(marketplace_setup.users["owner"]).get("/api/v1/verifications/")) == set()


@pytest.mark.parametrize(
    ("persona", "sees_restricted"),
    [
        ("bidder", False),
        ("outsider", False),
        ("b_student", True),
        ("coordinator", False),
        ("rival_coordinator", True),
        ("rival", False),
        ("owner", True),
    ],
)
def test_school_restricted_briefs_are_listed_only_for_those_schools(  # type: ignore[no-untyped-def]
    marketplace_setup, as_user, persona, sees_restricted
):
    listed = _ids(as_user(marketplace_setup.users[persona]).get("/api/v1/projects/?page_size=100"))
    assert (marketplace_setup.ids["restricted"] in listed) is sees_restricted
    assert (marketplace_setup.ids["draft"] in listed) is (persona == "owner")


def test_a_student_whose_verification_expired_no_longer_sees_restricted_briefs(
    marketplace_setup, as_user
):  # type: ignore[no-untyped-def]
    student = marketplace_setup.users["b_student"]
    EnrolmentVerification.objects.filter(student=student).update(
        graduation_date=timezone.localdate() - dt.timedelta(days=1)
    )
    client = as_user(student)
    assert marketplace_setup.ids["restricted"] not in _ids(client.get("/api/v1/projects/"))
    assert client.get(f"/api/v1/projects/{marketplace_setup.ids['restricted']}/").status_code == 404


def test_students_list_only_open_briefs_and_those_they_bid_on(marketplace_setup, as_user):  # type: ignore[no-untyped-def]
    listed = _ids(as_user(marketplace_setup.users["bidder"]).get("/api/v1/projects/?page_size=100"))
    assert {marketplace_setup.ids["open"], marketplace_setup.ids["won"]} <= listed
    assert marketplace_setup.ids["draft"] not in listed
    listed = _ids(
        as_user(marketplace_setup.users["b_student"]).get("/api/v1/projects/?page_size=100")
    )
    assert marketplace_setup.ids["won"] not in listed
