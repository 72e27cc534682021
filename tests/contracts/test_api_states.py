from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.db.models import Sum
from django.utils import timezone

from payments.models import Escrow, EscrowEvent, LedgerEntry, LedgerTransaction
from payments.selectors import ledger_unbalanced_transactions
from projects.briefs.models import Bid, Project
from projects.contracts.models import Contract, Delivery, Milestone, MilestoneEvent
from schools.models import EnrolmentVerification
from tests.factories import (
    CompanyMemberFactory,
    CoordinatorFactory,
    ProjectFactory,
    SchoolFactory,
    StudentFactory,
    VerificationFactory,
    VerifiedStudentFactory,
)

pytestmark = pytest.mark.django_db

BID = {"amount_cents": 100_000, "estimated_days": 10, "cover_letter": "I can do it"}
VISA = {"payment_method": "pm_card_visa"}
DECLINED = {"payment_method": "pm_card_chargeDeclined"}


@pytest.fixture
def brief_parties(as_user):  # type: ignore[no-untyped-def]
    school = SchoolFactory()
    owner = CompanyMemberFactory()
    student = VerifiedStudentFactory(verification__school=school)
    other = VerifiedStudentFactory(verification__school=school)
    project = ProjectFactory(company=owner.company_membership.company, created_by=owner)
    return SimpleNamespace(
        school=school,
        owner=owner,
        student=student,
        other=other,
        project=project,
        company=as_user(owner),
        me=as_user(student),
        rival=as_user(other),
        coordinator=as_user(CoordinatorFactory(school=school).user),
    )


def _bid(client, project_id: int, **overrides: object) -> int:  # type: ignore[no-untyped-def]
    res = client.post(f"/api/v1/projects/{project_id}/bids/", {**BID, **overrides}, format="json")
    assert res.status_code == 201, res.content
    return res.json()["id"]


def _accept(brief_parties, bid_id: int, milestones: list[dict] | None = None) -> dict:  # type: ignore[no-untyped-def]
    body = {"milestones": milestones} if milestones else {}
    res = brief_parties.company.post(f"/api/v1/bids/{bid_id}/accept/", body, format="json")
    assert res.status_code == 201, res.content
    return res.json()


def _contract(brief_parties, milestones: list[dict] | None = None) -> dict:  # type: ignore[no-untyped-def]
    return _accept(brief_parties, _bid(brief_parties.me, brief_parties.project.pk), milestones)


def _fund(brief_parties, milestone_id: int) -> None:  # type: ignore[no-untyped-def]
    res = brief_parties.company.post(
        f"/api/v1/milestones/{milestone_id}/fund/", VISA, format="json"
    )
    assert res.status_code == 200, res.content
    assert res.json()["status"] == "succeeded"


def _world() -> dict:
    return {
        "projects": sorted(Project.objects.values_list("pk", "status", "published_at")),
        "bids": sorted(Bid.objects.values_list("pk", "status", "decided_at")),
        "contracts": sorted(Contract.objects.values_list("pk", "status")),
        "milestones": sorted(
            Milestone.objects.values_list("pk", "work_status", "submitted_at", "approved_at")
        ),
        "escrows": sorted(
            Escrow.objects.values_list("pk", "status", "funding_attempts", "payment_intent_id")
        ),
        "escrow_events": EscrowEvent.objects.count(),
        "milestone_events": MilestoneEvent.objects.count(),
        "deliveries": Delivery.objects.count(),
        "ledger_transactions": LedgerTransaction.objects.count(),
        "ledger_entries": LedgerEntry.objects.count(),
    }


def _conflict(res) -> None:  # type: ignore[no-untyped-def]
    assert res.status_code == 409, res.content
    body = res.json()
    assert body["code"] == "state_conflict"
    assert body["errors"] == {}
    assert body["detail"]


def _balanced(contract_id: int) -> None:
    assert ledger_unbalanced_transactions() == []
    total = LedgerEntry.objects.filter(
        transaction__escrow__milestone__contract_id=contract_id
    ).aggregate(total=Sum("amount_cents"))["total"]
    assert (total or 0) == 0


def _milestone_status(brief_parties, milestone_id: int) -> str:  # type: ignore[no-untyped-def]
    contract = Milestone.objects.get(pk=milestone_id).contract_id
    res = brief_parties.company.get(f"/api/v1/contracts/{contract}/")
    return next(m["status"] for m in res.json()["milestones"] if m["id"] == milestone_id)


def test_approve_before_funding_or_submission_is_a_conflict(brief_parties):  # type: ignore[no-untyped-def]
    contract = _contract(brief_parties)
    milestone = contract["milestones"][0]["id"]
    before = _world()
    _conflict(brief_parties.company.post(f"/api/v1/milestones/{milestone}/approve/"))
    assert _world() == before
    _fund(brief_parties, milestone)
    before = _world()
    _conflict(brief_parties.company.post(f"/api/v1/milestones/{milestone}/approve/"))
    _conflict(
        brief_parties.company.post(
            f"/api/v1/milestones/{milestone}/request-changes/", {}, format="json"
        )
    )
    assert _world() == before
    assert _milestone_status(brief_parties, milestone) == "funded"
    _balanced(contract["id"])


def test_submit_before_funding_is_a_conflict(brief_parties):  # type: ignore[no-untyped-def]
    contract = _contract(brief_parties)
    milestone = contract["milestones"][0]["id"]
    before = _world()
    _conflict(
        brief_parties.me.post(
            f"/api/v1/milestones/{milestone}/submit/", {"note": "x"}, format="json"
        )
    )
    assert _world() == before
    assert _milestone_status(brief_parties, milestone) == "pending"


def test_funding_twice_is_a_conflict_and_charges_once(brief_parties):  # type: ignore[no-untyped-def]
    contract = _contract(brief_parties)
    milestone = contract["milestones"][0]["id"]
    _fund(brief_parties, milestone)
    _balanced(contract["id"])
    before = _world()
    _conflict(
        brief_parties.company.post(f"/api/v1/milestones/{milestone}/fund/", VISA, format="json")
    )
    _conflict(
        brief_parties.company.post(f"/api/v1/milestones/{milestone}/fund/", {}, format="json")
    )
    assert _world() == before
    assert LedgerTransaction.objects.filter(kind="funding").count() == 1
    _balanced(contract["id"])


def test_approving_twice_releases_once(brief_parties):  # type: ignore[no-untyped-def]
    assert brief_parties.me.post("/api/v1/students/me/payouts/onboard/").status_code == 200
    contract = _contract(brief_parties)
    milestone = contract["milestones"][0]["id"]
    _fund(brief_parties, milestone)
    assert (
        brief_parties.me.post(
            f"/api/v1/milestones/{milestone}/submit/", {"note": "Done"}, format="json"
        ).status_code
        == 200
    )
    res = brief_parties.company.post(f"/api/v1/milestones/{milestone}/approve/")
    assert res.status_code == 200 and res.json()["status"] == "released", res.content
    before = _world()
    _conflict(brief_parties.company.post(f"/api/v1/milestones/{milestone}/approve/"))
    _conflict(
        brief_parties.me.post(
            f"/api/v1/milestones/{milestone}/submit/", {"note": "Done"}, format="json"
        )
    )
    assert _world() == before
    assert LedgerTransaction.objects.filter(kind="release").count() == 1
    _balanced(contract["id"])


def test_accepting_a_second_bid_on_the_same_brief_is_a_conflict(brief_parties):  # type: ignore[no-untyped-def]
    first = _bid(brief_parties.me, brief_parties.project.pk)
    second = _bid(brief_parties.rival, brief_parties.project.pk)
    _accept(brief_parties, first)
    assert Bid.objects.get(pk=second).status == Bid.Status.REJECTED
    before = _world()
    _conflict(brief_parties.company.post(f"/api/v1/bids/{second}/accept/", {}, format="json"))
    assert _world() == before
    assert Contract.objects.count() == 1


def test_accepting_a_withdrawn_bid_is_a_conflict(brief_parties):  # type: ignore[no-untyped-def]
    bid = _bid(brief_parties.me, brief_parties.project.pk)
    res = brief_parties.me.post(f"/api/v1/bids/{bid}/withdraw/")
    assert res.status_code == 200 and res.json()["status"] == "withdrawn"
    before = _world()
    _conflict(brief_parties.company.post(f"/api/v1/bids/{bid}/accept/", {}, format="json"))
    _conflict(brief_parties.company.post(f"/api/v1/bids/{bid}/shortlist/"))
    _conflict(brief_parties.me.post(f"/api/v1/bids/{bid}/withdraw/"))
    assert _world() == before
    assert Project.objects.get(pk=brief_parties.project.pk).status == Project.Status.OPEN
    assert not Contract.objects.exists()
    assert not Escrow.objects.exists()


def test_withdrawing_or_rejecting_an_accepted_bid_is_a_conflict(brief_parties):  # type: ignore[no-untyped-def]
    bid = _bid(brief_parties.me, brief_parties.project.pk)
    _accept(brief_parties, bid)
    before = _world()
    _conflict(brief_parties.me.post(f"/api/v1/bids/{bid}/withdraw/"))
    _conflict(brief_parties.company.post(f"/api/v1/bids/{bid}/reject/"))
    _conflict(brief_parties.company.post(f"/api/v1/bids/{bid}/accept/", {}, format="json"))
    assert _world() == before
    assert Bid.objects.get(pk=bid).status == Bid.Status.ACCEPTED


def test_publishing_twice_is_a_conflict(brief_parties):  # type: ignore[no-untyped-def]
    draft = ProjectFactory(
        company=brief_parties.project.company,
        created_by=brief_parties.owner,
        status=Project.Status.DRAFT,
        published_at=None,
    )
    res = brief_parties.company.post(f"/api/v1/projects/{draft.pk}/publish/")
    assert res.status_code == 200 and res.json()["status"] == "open"
    before = _world()
    _conflict(brief_parties.company.post(f"/api/v1/projects/{draft.pk}/publish/"))
    assert _world() == before


def test_a_brief_in_progress_cannot_be_cancelled_edited_or_published(brief_parties):  # type: ignore[no-untyped-def]
    _contract(brief_parties)
    url = f"/api/v1/projects/{brief_parties.project.pk}/"
    before = _world()
    _conflict(brief_parties.company.post(f"{url}cancel/"))
    _conflict(brief_parties.company.post(f"{url}publish/"))
    _conflict(brief_parties.company.patch(url, {"budget_cents": 1}, format="json"))
    assert _world() == before
    assert (
        Project.objects.get(pk=brief_parties.project.pk).budget_cents
        == brief_parties.project.budget_cents
    )


def test_cancelling_a_brief_rejects_its_pending_bids_and_cannot_be_repeated(brief_parties):  # type: ignore[no-untyped-def]
    bid = _bid(brief_parties.me, brief_parties.project.pk)
    res = brief_parties.company.post(f"/api/v1/projects/{brief_parties.project.pk}/cancel/")
    assert res.status_code == 200 and res.json()["status"] == "cancelled"
    assert Bid.objects.get(pk=bid).status == Bid.Status.REJECTED
    before = _world()
    _conflict(brief_parties.company.post(f"/api/v1/projects/{brief_parties.project.pk}/cancel/"))
    _conflict(brief_parties.company.post(f"/api/v1/bids/{bid}/accept/", {}, format="json"))
    assert _world() == before


def test_bidding_twice_is_a_conflict(brief_parties):  # type: ignore[no-untyped-def]
    _bid(brief_parties.me, brief_parties.project.pk)
    before = _world()
    res = brief_parties.me.post(
        f"/api/v1/projects/{brief_parties.project.pk}/bids/",
        {**BID, "amount_cents": 5_000},
        format="json",
    )
    _conflict(res)
    assert _world() == before
    assert (
        Bid.objects.filter(project=brief_parties.project, student=brief_parties.student).count()
        == 1
    )


def test_bidding_on_a_closed_brief_is_refused(brief_parties):  # type: ignore[no-untyped-def]
    bid = _bid(brief_parties.me, brief_parties.project.pk)
    assert (
        brief_parties.company.post(
            f"/api/v1/projects/{brief_parties.project.pk}/cancel/"
        ).status_code
        == 200
    )
    before = _world()
    res = brief_parties.me.post(
        f"/api/v1/projects/{brief_parties.project.pk}/bids/", BID, format="json"
    )
    _conflict(res)
    assert "cancelled" in res.json()["detail"]
    # A student who never bid no longer sees the brief at all.
    res = brief_parties.rival.post(
        f"/api/v1/projects/{brief_parties.project.pk}/bids/", BID, format="json"
    )
    assert res.status_code == 404, res.content
    assert _world() == before
    assert list(Bid.objects.values_list("pk", flat=True)) == [bid]


def test_bidding_on_a_brief_in_progress_is_refused(brief_parties):  # type: ignore[no-untyped-def]
    _contract(brief_parties)
    before = _world()
    res = brief_parties.me.post(
        f"/api/v1/projects/{brief_parties.project.pk}/bids/", BID, format="json"
    )
    _conflict(res)
    res = brief_parties.rival.post(
        f"/api/v1/projects/{brief_parties.project.pk}/bids/", BID, format="json"
    )
    assert res.status_code == 404, res.content
    assert _world() == before


@pytest.mark.parametrize(
    "verification",
    [None, "pending_email", "pending_review", "rejected", "revoked", "expired", "graduated"],
)
def test_only_verified_students_bid(brief_parties, as_user, verification):  # type: ignore[no-untyped-def]
    student = StudentFactory()
    if verification == "graduated":
        VerificationFactory(
            student=student,
            school=brief_parties.school,
            graduation_date=timezone.localdate() - dt.timedelta(days=1),
        )
    elif verification is not None:
        VerificationFactory(student=student, school=brief_parties.school, status=verification)
    before = _world()
    res = as_user(student).post(
        f"/api/v1/projects/{brief_parties.project.pk}/bids/", BID, format="json"
    )
    assert res.status_code == 403, res.content
    assert res.json()["code"] == "permission_denied"
    assert _world() == before


def test_a_student_revoked_after_bidding_cannot_be_accepted(brief_parties):  # type: ignore[no-untyped-def]
    bid = _bid(brief_parties.me, brief_parties.project.pk)
    verification = EnrolmentVerification.objects.get(student=brief_parties.student)
    res = brief_parties.coordinator.post(
        f"/api/v1/verifications/{verification.pk}/revoke/", {"reason": "Left"}, format="json"
    )
    assert res.status_code == 200 and res.json()["status"] == "revoked", res.content
    before = _world()
    _conflict(brief_parties.company.post(f"/api/v1/bids/{bid}/accept/", {}, format="json"))
    assert _world() == before
    assert Project.objects.get(pk=brief_parties.project.pk).status == Project.Status.OPEN
    assert Bid.objects.get(pk=bid).status == Bid.Status.WITHDRAWN


@pytest.mark.parametrize("how", ["status", "graduation_date"])
def test_a_student_whose_verification_expired_cannot_be_accepted(brief_parties, how):  # type: ignore[no-untyped-def]
    bid = _bid(brief_parties.me, brief_parties.project.pk)
    verification = EnrolmentVerification.objects.filter(student=brief_parties.student)
    if how == "status":
        verification.update(status=EnrolmentVerification.Status.EXPIRED)
    else:
        verification.update(graduation_date=timezone.localdate() - dt.timedelta(days=1))
    before = _world()
    _conflict(brief_parties.company.post(f"/api/v1/bids/{bid}/accept/", {}, format="json"))
    assert _world() == before
    assert not Contract.objects.exists()


def test_a_declined_card_answers_402_and_a_good_card_then_funds(brief_parties):  # type: ignore[no-untyped-def]
    contract = _contract(brief_parties)
    milestone = contract["milestones"][0]["id"]
    before = _world()
    res = brief_parties.company.post(
        f"/api/v1/milestones/{milestone}/fund/", DECLINED, format="json"
    )
    assert res.status_code == 402, res.content
    body = res.json()
    assert body["code"] == "payment_failed"
    assert body["decline_code"] == "card_declined"
    assert "payment_method" in body["errors"]
    assert _milestone_status(brief_parties, milestone) == "pending"
    after = _world()
    assert after["ledger_entries"] == before["ledger_entries"]
    assert after["escrow_events"] == before["escrow_events"]
    assert Escrow.objects.get(milestone__pk=milestone).status == Escrow.Status.AWAITING_FUNDING
    _balanced(contract["id"])

    res = brief_parties.company.post(f"/api/v1/milestones/{milestone}/fund/", VISA, format="json")
    assert res.status_code == 200, res.content
    assert res.json()["status"] == "succeeded"
    assert res.json()["milestone"]["status"] == "funded"
    assert LedgerTransaction.objects.filter(kind="funding").count() == 1
    _balanced(contract["id"])


@pytest.mark.parametrize(
    "milestones",
    [
        [{"title": "A", "amount_cents": 50_000}],
        [{"title": "A", "amount_cents": 50_000}, {"title": "B", "amount_cents": 60_000}],
    ],
)
def test_milestones_that_do_not_add_up_are_refused(brief_parties, milestones):  # type: ignore[no-untyped-def]
    bid = _bid(brief_parties.me, brief_parties.project.pk)
    before = _world()
    res = brief_parties.company.post(
        f"/api/v1/bids/{bid}/accept/", {"milestones": milestones}, format="json"
    )
    assert res.status_code == 400, res.content
    assert res.json()["code"] == "invalid"
    assert "milestones" in res.json()["errors"]
    assert _world() == before


@pytest.mark.parametrize("amount", [0, -5])
def test_a_milestone_without_a_positive_amount_is_refused(brief_parties, amount):  # type: ignore[no-untyped-def]
    bid = _bid(brief_parties.me, brief_parties.project.pk)
    milestones = [
        {"title": "A", "amount_cents": amount},
        {"title": "B", "amount_cents": 100_000 - amount},
    ]
    before = _world()
    res = brief_parties.company.post(
        f"/api/v1/bids/{bid}/accept/", {"milestones": milestones}, format="json"
    )
    assert res.status_code == 400, res.content
    assert any(key.startswith("milestones") for key in res.json()["errors"])
    assert _world() == before


def test_the_ledger_balances_after_every_money_step(brief_parties):  # type: ignore[no-untyped-def]
    contract = _contract(
        brief_parties,
        [
            {"title": "Design", "amount_cents": 40_000},
            {"title": "Build", "amount_cents": 60_000},
        ],
    )
    first, second = (m["id"] for m in contract["milestones"])
    _balanced(contract["id"])
    for milestone in (first, second):
        _fund(brief_parties, milestone)
        _balanced(contract["id"])

    assert (
        brief_parties.me.post(
            f"/api/v1/milestones/{first}/submit/", {"note": "Done"}, format="json"
        ).status_code
        == 200
    )
    res = brief_parties.company.post(
        f"/api/v1/milestones/{first}/request-changes/", {"note": "more"}, format="json"
    )
    assert res.json()["status"] == "changes_requested", res.content
    _conflict(brief_parties.company.post(f"/api/v1/milestones/{first}/approve/"))
    assert (
        brief_parties.me.post(
            f"/api/v1/milestones/{first}/submit/", {"note": "Done"}, format="json"
        ).status_code
        == 200
    )
    res = brief_parties.company.post(f"/api/v1/milestones/{first}/approve/")
    assert res.status_code == 200, res.content
    assert res.json()["status"] == "submitted"
    assert res.json()["escrow_status"] == "release_pending"
    assert LedgerTransaction.objects.filter(kind="release").count() == 0
    _balanced(contract["id"])

    assert brief_parties.me.post("/api/v1/students/me/payouts/onboard/").status_code == 200
    assert _milestone_status(brief_parties, first) == "released"
    _balanced(contract["id"])

    assert (
        brief_parties.me.post(
            f"/api/v1/milestones/{second}/submit/", {"note": "Done"}, format="json"
        ).status_code
        == 200
    )
    res = brief_parties.company.post(f"/api/v1/milestones/{second}/approve/")
    assert res.json()["status"] == "released", res.content
    _balanced(contract["id"])

    res = brief_parties.company.get(f"/api/v1/contracts/{contract['id']}/ledger/?page_size=100")
    entries = res.json()["results"]
    assert sum(e["amount_cents"] for e in entries) == 0
    assert len({e["transaction"] for e in entries}) == 4
    assert Contract.objects.get(pk=contract["id"]).status == Contract.Status.COMPLETED
    assert Project.objects.get(pk=brief_parties.project.pk).status == Project.Status.COMPLETED
    before = _world()
    _conflict(brief_parties.company.post(f"/api/v1/milestones/{second}/fund/", VISA, format="json"))
    _conflict(brief_parties.company.post(f"/api/v1/milestones/{second}/approve/"))
    assert _world() == before


def test_open_brief_cannot_be_restricted_to_no_school(as_user):
    project = ProjectFactory()
    owner = project.created_by
    res = as_user(owner).patch(
        f"/api/v1/projects/{project.pk}/", {"visibility": "schools"}, format="json"
    )
    assert res.status_code == 400
    assert "allowed_schools" in res.json()["errors"]
    project.refresh_from_db()
    assert project.visibility == "all"


def test_currency_cannot_change_under_existing_bids(as_user):
    project = ProjectFactory()
    student = VerifiedStudentFactory()
    as_user(student).post(
        f"/api/v1/projects/{project.pk}/bids/",
        {"amount_cents": 1000, "estimated_days": 3, "cover_letter": "hi"},
        format="json",
    )
    res = as_user(project.created_by).patch(
        f"/api/v1/projects/{project.pk}/", {"currency": "USD"}, format="json"
    )
    assert res.status_code == 409
    project.refresh_from_db()
    assert project.currency == "EUR"
