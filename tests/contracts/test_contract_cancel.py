from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import pytest
from django.db.models import Sum

from marketplace.errors import TransientError
from marketplace.models import CompanyMembership, Notification, OutboundEmail, User
from payments.gateways.dummy import DummyGateway
from payments.models import DummyGatewayObject, Escrow, EscrowEvent, LedgerEntry, LedgerTransaction
from payments.selectors import ledger_unbalanced_transactions
from payments.services.refunds import escrow_refund
from projects.briefs.models import Project
from projects.briefs.services import bid_submit
from projects.contracts import services
from projects.contracts.disputes import milestone_dispute
from projects.contracts.models import Contract
from projects.contracts.services import (
    MilestoneSpec,
    bid_accept,
    contract_cancel,
    milestone_approve,
    milestone_fund,
    milestone_request_changes,
    milestone_submit,
)
from tests.concurrency import postgresql_only, run_at_once, tally
from tests.factories import (
    CompanyMemberFactory,
    CoordinatorFactory,
    ProjectFactory,
    UserFactory,
    VerifiedStudentFactory,
)

S = Escrow.Status
K = LedgerTransaction.Kind
VISA = "pm_card_visa"
REASON = "Our budget was cut for this quarter."


@pytest.fixture
def fees(settings):
    settings.COMPANY_FEE_BPS = 500
    settings.STUDENT_COMMISSION_BPS = 1000
    settings.SITE_URL = "https://market.example"


def _contract(owner, student, amounts=(10_000, 10_000, 10_000)) -> Contract:
    project = ProjectFactory(
        company=owner.company_membership.company, created_by=owner, budget_cents=sum(amounts)
    )
    bid = bid_submit(
        project_id=project.pk,
        by=student,
        amount_cents=sum(amounts),
        estimated_days=10,
        cover_letter="Hi",
    )
    return bid_accept(
        bid_id=bid.pk,
        by=owner,
        milestones=[
            MilestoneSpec(title=f"Part {n}", amount_cents=amount)
            for n, amount in enumerate(amounts, 1)
        ],
    )


@pytest.fixture
def part_funded(db, fees, as_user):  # type: ignore[no-untyped-def]
    owner = CompanyMemberFactory(first_name="Hugo")
    company = owner.company_membership.company
    colleague = CompanyMemberFactory(
        membership__company=company, membership__role=CompanyMembership.Role.MEMBER
    )
    student = VerifiedStudentFactory(first_name="Élodie")
    contract = _contract(owner, student)
    m1, m2, m3 = contract.milestones.order_by("position")
    for milestone in (m1, m2):
        milestone_fund(milestone_id=milestone.pk, by=owner, payment_method=VISA)
    return SimpleNamespace(
        owner=owner,
        colleague=colleague,
        student=student,
        contract=contract,
        milestones=(m1, m2, m3),
        url=f"/api/v1/contracts/{contract.pk}/cancel/",
        as_user=as_user,
    )


def _cancel(part_funded, user=None, reason: str = REASON):  # type: ignore[no-untyped-def]
    return part_funded.as_user(user or part_funded.owner).post(
        part_funded.url, {"reason": reason}, format="json"
    )


def _world() -> dict:
    return {
        "contracts": sorted(Contract.objects.values_list("pk", "status")),
        "projects": sorted(Project.objects.values_list("pk", "status")),
        "escrows": sorted(Escrow.objects.values_list("pk", "status", "refund_id")),
        "escrow_events": EscrowEvent.objects.count(),
        "ledger": LedgerEntry.objects.count(),
        "gateway": DummyGatewayObject.objects.count(),
        "notifications": Notification.objects.count(),
    }


def _refunds(contract: Contract) -> list[LedgerTransaction]:
    return list(
        LedgerTransaction.objects.filter(escrow__milestone__contract=contract, kind=K.REFUND)
    )


def _contract_total(contract: Contract) -> int:
    total = LedgerEntry.objects.filter(transaction__escrow__milestone__contract=contract).aggregate(
        total=Sum("amount_cents")
    )["total"]
    return total or 0


def test_cancelling_refunds_every_funded_milestone_in_full(
    part_funded, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        res = _cancel(part_funded)

    assert res.status_code == 200, res.content
    body = res.json()
    assert body["status"] == "cancelled"
    assert [m["status"] for m in body["milestones"]] == ["refunded", "refunded", "pending"]
    assert [m["escrow_status"] for m in body["milestones"]] == [
        "refunded",
        "refunded",
        "awaiting_funding",
    ]
    assert (
        Project.objects.get(pk=part_funded.contract.project_id).status == Project.Status.CANCELLED
    )
    company = f"company:{part_funded.contract.company_id}"
    refunds = _refunds(part_funded.contract)
    assert [dict(t.entries.values_list("account", "amount_cents")) for t in refunds] == [
        {"escrow": -10_500, company: 10_500},
        {"escrow": -10_500, company: 10_500},
    ]
    m1, m2, _ = part_funded.milestones
    refunded = DummyGatewayObject.objects.filter(kind="refund").order_by("pk")
    assert list(refunded.values_list("idempotency_key", "amount")) == [
        (f"escrow-{m1.escrow_id}-refund", 10_500),
        (f"escrow-{m2.escrow_id}-refund", 10_500),
    ]
    notes = EscrowEvent.objects.filter(to_status=S.REFUNDED).values_list("note", "actor_id")
    assert list(notes) == [(f"Contract cancelled: {REASON}", part_funded.owner.pk)] * 2

    ledger = (
        part_funded.as_user(part_funded.owner)
        .get(f"/api/v1/contracts/{part_funded.contract.pk}/ledger/")
        .json()
    )
    assert sum(entry["amount_cents"] for entry in ledger["results"]) == 0
    assert ledger_unbalanced_transactions() == []
    assert LedgerEntry.objects.filter(account=company).aggregate(t=Sum("amount_cents"))["t"] == 0

    notice = Notification.objects.get(user=part_funded.student, kind="contract_cancelled")
    assert notice.key == f"contract-cancelled:{part_funded.contract.pk}"
    assert notice.url == f"/api/v1/contracts/{part_funded.contract.pk}/"
    email = OutboundEmail.objects.get(key=notice.key)
    assert email.to == part_funded.student.email
    assert REASON in email.body_text
    assert "210.00 EUR" in email.body_text
    assert not Notification.objects.filter(kind="contract_cancelled").exclude(
        user=part_funded.student
    )


def test_a_colleague_of_the_same_company_may_cancel(part_funded):
    assert _cancel(part_funded, part_funded.colleague).status_code == 200


def test_a_contract_with_nothing_funded_is_cancelled_without_refunds(db, fees, as_user):
    owner, student = CompanyMemberFactory(), VerifiedStudentFactory()
    contract = _contract(owner, student, amounts=(5_000,))
    before = DummyGatewayObject.objects.count()

    res = as_user(owner).post(
        f"/api/v1/contracts/{contract.pk}/cancel/", {"reason": "Changed plans"}, format="json"
    )

    assert res.status_code == 200, res.content
    assert res.json()["status"] == "cancelled"
    assert DummyGatewayObject.objects.count() == before
    assert _refunds(contract) == []
    email = OutboundEmail.objects.get(key=f"contract-cancelled:{contract.pk}")
    assert "0.00 EUR" in email.body_text


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("student", 403),
        ("staff", 403),
        ("rival", 404),
        ("other_student", 404),
        ("coordinator", 404),
    ],
)
def test_only_the_companys_members_cancel(part_funded, who, code):
    user = {
        "student": lambda: part_funded.student,
        "staff": lambda: UserFactory(role=User.Role.ADMIN, is_staff=True),
        "rival": CompanyMemberFactory,
        "other_student": VerifiedStudentFactory,
        "coordinator": lambda: CoordinatorFactory().user,
    }[who]()
    before = _world()

    res = _cancel(part_funded, user)

    assert res.status_code == code, res.content
    assert _world() == before


def test_anonymous_is_refused(part_funded, api):
    before = _world()
    assert api.post(part_funded.url, {"reason": REASON}, format="json").status_code == 401
    assert _world() == before


def test_an_unknown_contract_is_404(part_funded):
    res = part_funded.as_user(part_funded.owner).post(
        "/api/v1/contracts/999999/cancel/", {"reason": "x"}
    )
    assert res.status_code == 404


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_reason_is_required(part_funded, reason):
    before = _world()
    res = _cancel(part_funded, reason=reason)
    assert res.status_code == 400
    assert "reason" in res.json()["errors"]
    assert _world() == before


def _submitted(part_funded):  # type: ignore[no-untyped-def]
    milestone_submit(milestone_id=part_funded.milestones[0].pk, by=part_funded.student, note="done")


def _changes_requested(part_funded):  # type: ignore[no-untyped-def]
    _submitted(part_funded)
    milestone_request_changes(
        milestone_id=part_funded.milestones[0].pk, by=part_funded.owner, note="more"
    )


def _approved(part_funded):  # type: ignore[no-untyped-def]
    # The student has no payout account yet: the money waits (release_pending).
    _submitted(part_funded)
    milestone_approve(milestone_id=part_funded.milestones[0].pk, by=part_funded.owner)
    assert Escrow.objects.get(pk=part_funded.milestones[0].escrow_id).status == S.RELEASE_PENDING


def _disputed(part_funded):  # type: ignore[no-untyped-def]
    milestone_dispute(
        milestone_id=part_funded.milestones[1].pk, by=part_funded.student, reason="Never paid"
    )


def _cancelled(part_funded):  # type: ignore[no-untyped-def]
    contract_cancel(contract_id=part_funded.contract.pk, by=part_funded.owner, reason="First time")


def _completed(part_funded):  # type: ignore[no-untyped-def]
    Contract.objects.filter(pk=part_funded.contract.pk).update(status=Contract.Status.COMPLETED)


@pytest.mark.parametrize(
    "setup",
    [_submitted, _changes_requested, _approved, _disputed, _cancelled, _completed],
    ids=["submitted", "changes-requested", "approved", "disputed", "cancelled", "completed"],
)
def test_too_late_to_cancel_is_a_conflict(part_funded, setup):
    setup(part_funded)
    before = _world()

    res = _cancel(part_funded)

    assert res.status_code == 409, res.content
    assert res.json()["code"] == "state_conflict"
    assert _world() == before


def test_released_money_is_a_conflict_even_for_an_undelivered_milestone(part_funded):
    # A dispute settled in the student's favour released a milestone never delivered.
    m2 = part_funded.milestones[1]
    Escrow.objects.filter(pk=m2.escrow_id).update(status=S.RELEASED)
    before = _world()
    assert _cancel(part_funded).status_code == 409
    assert _world() == before


def test_a_cancelled_contract_takes_no_more_work_or_money(part_funded):
    assert _cancel(part_funded).status_code == 200
    client = part_funded.as_user(part_funded.owner)
    m1, _, m3 = part_funded.milestones
    before = _world()

    assert (
        client.post(f"/api/v1/milestones/{m3.pk}/fund/", {"payment_method": VISA}).status_code
        == 409
    )
    student = part_funded.as_user(part_funded.student)
    assert student.post(f"/api/v1/milestones/{m1.pk}/submit/", {"note": "x"}).status_code == 409
    assert student.post(f"/api/v1/milestones/{m1.pk}/dispute/", {"reason": "x"}).status_code == 409
    assert (
        client.post(f"/api/v1/projects/{part_funded.contract.project_id}/cancel/").status_code
        == 409
    )
    assert _world() == before


def test_a_brief_in_progress_is_cancelled_only_through_its_contract(part_funded):
    res = part_funded.as_user(part_funded.owner).post(
        f"/api/v1/projects/{part_funded.contract.project_id}/cancel/"
    )
    assert res.status_code == 409
    assert "contract" in res.json()["detail"]
    assert Escrow.objects.filter(status=S.FUNDED).count() == 2


def test_a_gateway_failure_leaves_the_refund_pending_and_the_retry_completes(
    part_funded, monkeypatch
):
    # Refunds are asked of Stripe after the cancellation committed (never inside its
    # transaction): one failing for now waits, refund_pending, for the retry.
    from payments.services.refunds import escrow_retry_pending_refunds

    real = DummyGateway.create_refund
    calls: list[str] = []

    def flaky(self, **kwargs):
        calls.append(kwargs["idempotency_key"])
        if len(calls) == 2:
            raise TransientError("Stripe failed to answer; try again later.")
        return real(self, **kwargs)

    monkeypatch.setattr(DummyGateway, "create_refund", flaky)

    res = _cancel(part_funded)

    assert res.status_code == 200, res.content
    assert res.json()["status"] == "cancelled"
    m1, m2, _ = part_funded.milestones
    assert [m["escrow_status"] for m in res.json()["milestones"]] == [
        "refunded",
        "refund_pending",
        "awaiting_funding",
    ]
    waiting = Escrow.objects.get(pk=m2.escrow_id)
    assert waiting.last_error == "Stripe failed to answer; try again later."
    assert len(_refunds(part_funded.contract)) == 1

    assert escrow_retry_pending_refunds() == [m2.escrow_id]
    assert escrow_retry_pending_refunds() == []

    assert calls == [
        f"escrow-{m1.escrow_id}-refund",
        f"escrow-{m2.escrow_id}-refund",
        f"escrow-{m2.escrow_id}-refund",
    ]
    assert len(_refunds(part_funded.contract)) == 2
    assert _contract_total(part_funded.contract) == 0
    assert Escrow.objects.get(pk=m2.escrow_id).last_error == ""


def test_a_payment_waiting_for_the_escrow_lock_sees_the_cancellation(part_funded, monkeypatch):
    # The interleaving a race produces: the contract is cancelled after milestone_fund
    # checked it and before escrow_fund locked the escrow. The check under the lock refuses.
    real = services.escrow_fund

    def cancelled_meanwhile(**kwargs):  # type: ignore[no-untyped-def]
        contract_cancel(
            contract_id=part_funded.contract.pk, by=part_funded.colleague, reason="Meanwhile"
        )
        return real(**kwargs)

    monkeypatch.setattr(services, "escrow_fund", cancelled_meanwhile)
    m3 = part_funded.milestones[2]
    intents = DummyGatewayObject.objects.filter(kind="payment_intent").count()

    res = part_funded.as_user(part_funded.owner).post(
        f"/api/v1/milestones/{m3.pk}/fund/", {"payment_method": VISA}
    )

    assert res.status_code == 409
    assert "cancelled" in res.json()["detail"]
    assert DummyGatewayObject.objects.filter(kind="payment_intent").count() == intents
    escrow = Escrow.objects.get(pk=m3.escrow_id)
    assert (escrow.status, escrow.payment_intent_id, escrow.funding_attempts) == (
        S.AWAITING_FUNDING,
        "",
        0,
    )


# Concurrency (PostgreSQL): refunds never exceed what was charged.


def _check_refunds_capped(contract: Contract) -> None:
    assert ledger_unbalanced_transactions() == []
    for escrow in Escrow.objects.filter(milestone__contract=contract):
        refunds = LedgerTransaction.objects.filter(escrow=escrow, kind=K.REFUND)
        assert refunds.count() <= 1
        refunded = (
            LedgerEntry.objects.filter(
                transaction__in=refunds, account__startswith="company:"
            ).aggregate(total=Sum("amount_cents"))["total"]
            or 0
        )
        assert refunded <= escrow.charge_cents
        gateway_refunds = DummyGatewayObject.objects.filter(
            kind="refund", source=escrow.payment_intent_id or "-"
        )
        assert sum(gateway_refunds.values_list("amount", flat=True)) == refunded
    assert Escrow.objects.filter(milestone__contract=contract, status=S.FUNDED).count() == 0


@pytest.fixture
def raced(transactional_db, fees):  # type: ignore[no-untyped-def]
    owner, student = CompanyMemberFactory(), VerifiedStudentFactory()
    contract = _contract(owner, student, amounts=(10_000, 10_000))
    m1, m2 = contract.milestones.order_by("position")
    milestone_fund(milestone_id=m1.pk, by=owner, payment_method=VISA)
    return SimpleNamespace(owner=owner, contract=contract, m1=m1, m2=m2)


@postgresql_only
def test_two_concurrent_refunds_of_one_escrow_refund_once(raced):
    staff_a = UserFactory(role=User.Role.ADMIN, is_staff=True)
    staff_b = UserFactory(role=User.Role.ADMIN, is_staff=True)
    escrow_id = raced.m1.escrow_id

    outcomes = tally(
        run_at_once(
            lambda: escrow_refund(escrow_id=escrow_id, actor=staff_a),
            lambda: escrow_refund(escrow_id=escrow_id, actor=staff_b),
        )
    )

    assert outcomes == Counter({"ok": 1, "conflict": 1})
    assert LedgerTransaction.objects.filter(escrow_id=escrow_id, kind=K.REFUND).count() == 1
    _check_refunds_capped(raced.contract)


@postgresql_only
def test_a_cancel_racing_a_refund_refunds_once(raced):
    staff = UserFactory(role=User.Role.ADMIN, is_staff=True)
    escrow_id = raced.m1.escrow_id

    outcomes = tally(
        run_at_once(
            lambda: contract_cancel(contract_id=raced.contract.pk, by=raced.owner, reason="Stop"),
            lambda: escrow_refund(escrow_id=escrow_id, actor=staff),
        )
    )

    # Whichever locks the escrow first refunds it; the cancel completes either way.
    assert outcomes in (Counter({"ok": 2}), Counter({"ok": 1, "conflict": 1}))
    assert Contract.objects.get(pk=raced.contract.pk).status == Contract.Status.CANCELLED
    assert LedgerTransaction.objects.filter(escrow_id=escrow_id, kind=K.REFUND).count() == 1
    _check_refunds_capped(raced.contract)


@postgresql_only
def test_two_concurrent_cancels_refund_once(raced):
    colleague = CompanyMemberFactory(
        membership__company=raced.contract.company, membership__role=CompanyMembership.Role.MEMBER
    )

    outcomes = tally(
        run_at_once(
            lambda: contract_cancel(contract_id=raced.contract.pk, by=raced.owner, reason="Stop"),
            lambda: contract_cancel(contract_id=raced.contract.pk, by=colleague, reason="Stop too"),
        )
    )

    assert outcomes == Counter({"ok": 1, "conflict": 1})
    assert len(_refunds(raced.contract)) == 1
    assert Notification.objects.filter(kind="contract_cancelled").count() == 1
    _check_refunds_capped(raced.contract)


@postgresql_only
def test_a_payment_racing_a_cancel_never_leaves_money_in_a_cancelled_contract(raced):
    outcomes = tally(
        run_at_once(
            lambda: contract_cancel(contract_id=raced.contract.pk, by=raced.owner, reason="Stop"),
            lambda: milestone_fund(milestone_id=raced.m2.pk, by=raced.owner, payment_method=VISA),
        )
    )

    assert outcomes["ok"] >= 1
    assert sum(outcomes.values()) == 2
    assert set(outcomes) <= {"ok", "conflict"}
    assert Contract.objects.get(pk=raced.contract.pk).status == Contract.Status.CANCELLED
    # Paid first, then refunded by the cancel; or refused once the contract was cancelled.
    escrow = Escrow.objects.get(pk=raced.m2.escrow_id)
    assert escrow.status in (S.REFUNDED, S.AWAITING_FUNDING)
    assert _contract_total(raced.contract) == 0
    _check_refunds_capped(raced.contract)
