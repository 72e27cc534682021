from __future__ import annotations

from types import SimpleNamespace

import pytest

from marketplace.errors import TransientError
from marketplace.models import Notification, User
from payments.gateways.dummy import DummyGateway
from payments.models import Escrow, LedgerEntry
from payments.selectors import ledger_unbalanced_transactions
from projects.contracts.models import Contract, Dispute, Milestone
from tests.factories import (
    CompanyMemberFactory,
    ProjectFactory,
    SchoolFactory,
    UserFactory,
    VerifiedStudentFactory,
)

pytestmark = pytest.mark.django_db

VISA = {"payment_method": "pm_card_visa"}


@pytest.fixture
def funded_contract(as_user):  # type: ignore[no-untyped-def]
    school = SchoolFactory()
    owner = CompanyMemberFactory()
    student = VerifiedStudentFactory(verification__school=school)
    project = ProjectFactory(company=owner.company_membership.company, created_by=owner)
    staff = UserFactory(role=User.Role.ADMIN, is_staff=True)
    company, me = as_user(owner), as_user(student)
    bid = me.post(
        f"/api/v1/projects/{project.pk}/bids/",
        {"amount_cents": 100_000, "estimated_days": 5, "cover_letter": "hello"},
        format="json",
    ).json()["id"]
    contract = company.post(f"/api/v1/bids/{bid}/accept/", {}, format="json").json()
    milestone = contract["milestones"][0]["id"]
    res = company.post(f"/api/v1/milestones/{milestone}/fund/", VISA, format="json")
    assert res.status_code == 200
    me.post("/api/v1/students/me/payouts/onboard/")
    return SimpleNamespace(
        owner=owner,
        student=student,
        staff=staff,
        company=company,
        me=me,
        admin=as_user(staff),
        stranger=as_user(VerifiedStudentFactory(verification__school=school)),
        contract_id=contract["id"],
        milestone=milestone,
    )


def _ledger(contract_id: int, account_prefix: str) -> int:
    entries = LedgerEntry.objects.filter(
        transaction__escrow__milestone__contract_id=contract_id, account__startswith=account_prefix
    )
    return sum(entries.values_list("amount_cents", flat=True))


@pytest.mark.parametrize("opener", ["company", "me"])
def test_either_party_opens_a_dispute_that_freezes_the_money(funded_contract, opener):  # type: ignore[no-untyped-def]
    res = getattr(funded_contract, opener).post(
        f"/api/v1/milestones/{funded_contract.milestone}/dispute/",
        {"reason": "Not as agreed"},
        format="json",
    )
    assert res.status_code == 201, res.content
    assert res.json()["status"] == "open"
    milestone = funded_contract.company.get(
        f"/api/v1/contracts/{funded_contract.contract_id}/"
    ).json()["milestones"][0]
    assert milestone["status"] == "disputed"
    assert milestone["disputes"][0]["reason"] == "Not as agreed"
    assert Contract.objects.get(pk=funded_contract.contract_id).status == "disputed"
    assert (
        funded_contract.company.post(
            f"/api/v1/milestones/{funded_contract.milestone}/approve/"
        ).status_code
        == 409
    )
    assert (
        funded_contract.me.post(
            f"/api/v1/milestones/{funded_contract.milestone}/submit/",
            {"note": "Done"},
            format="json",
        ).status_code
        == 409
    )
    kinds = Notification.objects.filter(kind="dispute_opened").values_list("user_id", flat=True)
    assert set(kinds) == {funded_contract.owner.pk, funded_contract.student.pk}


def test_a_third_party_cannot_see_or_dispute(funded_contract):  # type: ignore[no-untyped-def]
    res = funded_contract.stranger.post(
        f"/api/v1/milestones/{funded_contract.milestone}/dispute/", {"reason": "x"}, format="json"
    )
    assert res.status_code == 404
    assert not Dispute.objects.exists()


def test_a_dispute_needs_a_reason_and_money_in_escrow(funded_contract):  # type: ignore[no-untyped-def]
    res = funded_contract.me.post(
        f"/api/v1/milestones/{funded_contract.milestone}/dispute/", {"reason": "  "}, format="json"
    )
    assert res.status_code == 400
    assert "reason" in res.json()["errors"]
    funded_contract.me.post(
        f"/api/v1/milestones/{funded_contract.milestone}/submit/", {"note": "Done"}, format="json"
    )
    funded_contract.company.post(f"/api/v1/milestones/{funded_contract.milestone}/approve/")
    res = funded_contract.me.post(
        f"/api/v1/milestones/{funded_contract.milestone}/dispute/",
        {"reason": "late"},
        format="json",
    )
    assert res.status_code == 409
    assert not Dispute.objects.exists()


def test_only_one_open_dispute_per_milestone(funded_contract):  # type: ignore[no-untyped-def]
    url = f"/api/v1/milestones/{funded_contract.milestone}/dispute/"
    assert funded_contract.me.post(url, {"reason": "a"}, format="json").status_code == 201
    assert funded_contract.company.post(url, {"reason": "b"}, format="json").status_code == 409
    assert Dispute.objects.count() == 1


@pytest.mark.parametrize(
    "release,refund,student,revenue,company",
    [
        (100_000, 5_000, 90_000, 10_000, 5_000),
        (0, 105_000, 0, 0, 105_000),
        (40_000, 65_000, 36_000, 4_000, 65_000),
        (33_333, 71_667, 30_000, 3_333, 71_667),
    ],
)
def test_staff_settle_with_a_split_and_the_books_balance(  # type: ignore[no-untyped-def]
    funded_contract, release, refund, student, revenue, company
):
    dispute = funded_contract.me.post(
        f"/api/v1/milestones/{funded_contract.milestone}/dispute/",
        {"reason": "scope"},
        format="json",
    ).json()["id"]
    res = funded_contract.admin.post(
        f"/api/v1/admin/disputes/{dispute}/resolve/",
        {"release_cents": release, "refund_cents": refund, "note": "Half the pages were delivered"},
        format="json",
    )
    assert res.status_code == 200, res.content
    assert res.json()["status"] == "resolved"
    assert _ledger(funded_contract.contract_id, "student:") == student
    assert _ledger(funded_contract.contract_id, "platform:revenue") == revenue
    assert _ledger(funded_contract.contract_id, "company:") == -105_000 + company
    assert _ledger(funded_contract.contract_id, "escrow") == 0
    assert student + revenue + company == 105_000
    assert ledger_unbalanced_transactions() == []
    assert Contract.objects.get(pk=funded_contract.contract_id).status == "completed"
    milestone = funded_contract.me.get(f"/api/v1/contracts/{funded_contract.contract_id}/").json()[
        "milestones"
    ][0]
    assert milestone["status"] == ("released" if release else "refunded")
    assert milestone["disputes"][0]["resolution_note"] == "Half the pages were delivered"
    told = Notification.objects.filter(kind="dispute_resolved").values_list("user_id", flat=True)
    assert set(told) == {funded_contract.owner.pk, funded_contract.student.pk}


@pytest.mark.parametrize(
    "body,field",
    [
        ({"release_cents": 100_000, "refund_cents": 4_999, "note": "x"}, "refund_cents"),
        ({"release_cents": 100_001, "refund_cents": 4_999, "note": "x"}, "release_cents"),
        ({"release_cents": -1, "refund_cents": 105_001, "note": "x"}, "release_cents"),
        ({"release_cents": 0, "refund_cents": 105_000, "note": " "}, "note"),
    ],
)
def test_bad_splits_answer_400_and_change_nothing(funded_contract, body, field):  # type: ignore[no-untyped-def]
    dispute = funded_contract.me.post(
        f"/api/v1/milestones/{funded_contract.milestone}/dispute/",
        {"reason": "scope"},
        format="json",
    ).json()["id"]
    res = funded_contract.admin.post(
        f"/api/v1/admin/disputes/{dispute}/resolve/", body, format="json"
    )
    assert res.status_code == 400, res.content
    assert field in res.json()["errors"]
    assert Escrow.objects.get(milestone__pk=funded_contract.milestone).status == "frozen"
    assert Dispute.objects.get(pk=dispute).status == "open"


def test_only_staff_resolve_and_only_once(funded_contract):  # type: ignore[no-untyped-def]
    dispute = funded_contract.me.post(
        f"/api/v1/milestones/{funded_contract.milestone}/dispute/",
        {"reason": "scope"},
        format="json",
    ).json()["id"]
    body = {"release_cents": 0, "refund_cents": 105_000, "note": "Refunded"}
    url = f"/api/v1/admin/disputes/{dispute}/resolve/"
    assert funded_contract.company.post(url, body, format="json").status_code == 403
    assert funded_contract.company.get("/api/v1/admin/disputes/").status_code == 403
    assert [
        d["id"] for d in funded_contract.admin.get("/api/v1/admin/disputes/").json()["results"]
    ] == [dispute]
    assert funded_contract.admin.post(url, body, format="json").status_code == 200
    assert funded_contract.admin.post(url, body, format="json").status_code == 409
    assert funded_contract.admin.get("/api/v1/admin/disputes/").json()["count"] == 0


def test_a_failed_transfer_waits_is_retried_and_told_once(funded_contract, monkeypatch):  # type: ignore[no-untyped-def]
    from projects.contracts.services import milestone_releases_retry

    def down(self, **kwargs):  # type: ignore[no-untyped-def]
        raise TransientError("Stripe is unreachable")

    funded_contract.me.post(
        f"/api/v1/milestones/{funded_contract.milestone}/submit/", {"note": "Done"}, format="json"
    )
    monkeypatch.setattr(DummyGateway, "create_transfer", down)
    res = funded_contract.company.post(f"/api/v1/milestones/{funded_contract.milestone}/approve/")
    assert res.status_code == 200
    assert res.json()["escrow_status"] == "release_pending"
    escrow = Escrow.objects.get(milestone__pk=funded_contract.milestone)
    assert escrow.last_error == "Stripe is unreachable"
    assert milestone_releases_retry() == 0
    assert milestone_releases_retry() == 0
    escrow.refresh_from_db()
    assert escrow.transfer_attempts == 3
    alerts = Notification.objects.filter(kind="transfer_failed")
    assert list(alerts.values_list("user_id", flat=True)) == [funded_contract.staff.pk]
    assert not Notification.objects.filter(kind="money_released").exists()
    monkeypatch.undo()
    assert milestone_releases_retry() == 1
    escrow.refresh_from_db()
    assert (escrow.status, escrow.last_error) == ("released", "")
    assert Contract.objects.get(pk=funded_contract.contract_id).status == "completed"
    assert (
        Notification.objects.filter(kind="money_released", user=funded_contract.student).count()
        == 1
    )
    assert _ledger(funded_contract.contract_id, "student:") == 90_000
    assert milestone_releases_retry() == 0


@pytest.mark.parametrize(("release", "refund"), [(50_000, 55_000), (0, 105_000)])
def test_a_delivery_settled_by_a_split_can_no_longer_be_reviewed(  # type: ignore[no-untyped-def]
    funded_contract, release, refund
):
    # Delivered, disputed, settled by staff: the work stays "submitted" but the money is gone
    # and the contract completed, so neither party may move the work again (409).
    base = f"/api/v1/milestones/{funded_contract.milestone}"
    res = funded_contract.me.post(f"{base}/submit/", {"note": "Done"}, format="json")
    assert res.status_code == 200
    dispute = funded_contract.company.post(
        f"{base}/dispute/", {"reason": "scope"}, format="json"
    ).json()["id"]
    changes = {"note": "Darker header"}
    # While frozen: the company cannot send it back or approve it either.
    assert funded_contract.company.post(f"{base}/request-changes/", changes).status_code == 409
    assert funded_contract.company.post(f"{base}/approve/").status_code == 409
    funded_contract.admin.post(
        f"/api/v1/admin/disputes/{dispute}/resolve/",
        {"release_cents": release, "refund_cents": refund, "note": "Settled"},
        format="json",
    )
    assert Contract.objects.get(pk=funded_contract.contract_id).status == "completed"

    res = funded_contract.company.post(f"{base}/request-changes/", changes, format="json")
    assert res.status_code == 409, res.content
    assert funded_contract.company.post(f"{base}/approve/").status_code == 409
    milestone = Milestone.objects.get(pk=funded_contract.milestone)
    assert milestone.work_status == Milestone.WorkStatus.SUBMITTED
    assert not milestone.events.filter(to_status="changes_requested").exists()
    assert Escrow.objects.get(milestone=milestone).status == ("released" if release else "refunded")
    contract = funded_contract.company.get(f"/api/v1/contracts/{funded_contract.contract_id}/")
    actions = contract.json()["milestones"][0]["actions"]
    refused = {a["name"]: a["reason"] for a in actions if not a["allowed"]}
    assert refused["request_changes"] == "The contract is completed."
    assert refused["approve"] == "The contract is completed."


def test_a_delivery_sent_back_then_settled_cannot_be_delivered_again(funded_contract):  # type: ignore[no-untyped-def]
    base = f"/api/v1/milestones/{funded_contract.milestone}"
    funded_contract.me.post(f"{base}/submit/", {"note": "Done"}, format="json")
    funded_contract.company.post(f"{base}/request-changes/", {"note": "More"}, format="json")
    dispute = funded_contract.me.post(f"{base}/dispute/", {"reason": "x"}, format="json").json()
    assert funded_contract.me.post(f"{base}/submit/", {"note": "Again"}).status_code == 409
    funded_contract.admin.post(
        f"/api/v1/admin/disputes/{dispute['id']}/resolve/",
        {"release_cents": 0, "refund_cents": 105_000, "note": "Refunded"},
        format="json",
    )
    res = funded_contract.me.post(f"{base}/submit/", {"note": "Again"}, format="json")
    assert res.status_code == 409, res.content
    assert Milestone.objects.get(pk=funded_contract.milestone).deliveries.count() == 1
