from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from marketplace.audit import audit_record
from marketplace.errors import PermissionDenied, StateConflict, TransientError, ValidationFailed
from marketplace.models import AppendOnlyError, AuditEntry, User
from marketplace.services import user_deactivate, user_reactivate
from payments.gateways.dummy import DummyGateway
from payments.models import Escrow
from payments.services.chargebacks import escrow_record_external_refund
from payments.services.payouts import payout_account_onboard
from payments.services.refunds import escrow_refund
from payments.services.releases import escrow_retry_pending_releases
from projects.contracts import disputes
from projects.contracts.disputes import dispute_resolve, milestone_dispute
from projects.contracts.models import Dispute
from projects.contracts.services import contract_cancel, milestone_approve, milestone_releases_retry
from schools.models import EnrolmentVerification
from schools.services import coordinator_create, verification_approve, verification_revoke
from tests.factories import (
    CoordinatorFactory,
    SchoolFactory,
    StudentFactory,
    UserFactory,
    VerificationFactory,
)
from tests.factories.contracts import active_contract
from tests.factories.escrows import make_escrow
from tests.factories.milestones import submitted_milestone

pytestmark = pytest.mark.django_db

V = EnrolmentVerification.Status


@pytest.fixture
def staff() -> User:
    return UserFactory(role=User.Role.ADMIN, is_staff=True)


@pytest.fixture
def entry(staff) -> AuditEntry:  # type: ignore[no-untyped-def]
    return audit_record(actor=staff, action="test.action", detail={"n": 1}, reason="why")


def _raw(sql: str, pk: int) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [pk])


def _down(self, **kwargs):  # type: ignore[no-untyped-def]
    raise TransientError("Stripe is down")


# Append-only


def test_an_entry_keeps_who_what_and_why(staff, entry):
    stored = AuditEntry.objects.get(pk=entry.pk)
    assert (stored.actor_id, stored.actor_email) == (staff.pk, staff.email)
    assert (stored.action, stored.detail, stored.reason) == ("test.action", {"n": 1}, "why")


def test_saving_an_entry_again_is_refused(entry):
    entry.reason = "rewritten"
    with pytest.raises(AppendOnlyError):
        entry.save()
    assert AuditEntry.objects.get(pk=entry.pk).reason == "why"


def test_deleting_an_entry_is_refused(entry):
    with pytest.raises(AppendOnlyError):
        entry.delete()
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


@pytest.mark.parametrize(
    "bulk",
    [
        lambda qs: qs.update(reason="rewritten"),
        lambda qs: qs.delete(),
        lambda qs: AuditEntry.objects.bulk_update(
            [AuditEntry(pk=e.pk, reason="x") for e in qs], ["reason"]
        ),
    ],
    ids=["update", "delete", "bulk_update"],
)
def test_the_queryset_refuses_bulk_writes(entry, bulk):
    with pytest.raises(AppendOnlyError):
        bulk(AuditEntry.objects.filter(pk=entry.pk))
    assert AuditEntry.objects.get(pk=entry.pk).reason == "why"


def test_the_database_refuses_a_raw_update(entry):
    with pytest.raises(DatabaseError, match="append-only"):
        _raw("UPDATE marketplace_auditentry SET reason = 'rewritten' WHERE id = %s", entry.pk)
    assert AuditEntry.objects.get(pk=entry.pk).reason == "why"


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite has no DELETE trigger: Django's flush between transactional tests deletes "
    "every row there (migration 0006); the model and its QuerySet refuse deletes",
)
def test_the_database_refuses_a_raw_delete(entry):
    with pytest.raises(DatabaseError, match="append-only"):
        _raw("DELETE FROM marketplace_auditentry WHERE id = %s", entry.pk)
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_entries_written_in_a_transactional_test_do_not_block_the_flush_after_it():
    staff = UserFactory(role=User.Role.ADMIN, is_staff=True)
    user_deactivate(user_id=StudentFactory().pk, by=staff, reason="spam")
    assert AuditEntry.objects.count() == 1


def test_deleting_a_user_keeps_their_entries_unchanged(staff, entry):
    staff.delete()

    stored = AuditEntry.objects.get(pk=entry.pk)
    assert (stored.actor_id, stored.actor_email) == (entry.actor_id, entry.actor_email)
    assert not User.objects.filter(pk=entry.actor_id).exists()


def test_an_entry_without_actor_is_the_system(entry):
    system = audit_record(actor=None, action="test.system")
    assert (system.actor_id, system.actor_email) == (None, "")
    assert "system" in str(system)


# Dispute resolutions


@pytest.fixture
def dispute() -> Dispute:
    contract = active_contract()
    payout_account_onboard(user=contract.student)
    return milestone_dispute(
        milestone_id=contract.milestones.get().pk,
        by=contract.project.created_by,
        reason="Not what we asked",
    )


def _resolve(dispute: Dispute, by: User, **amounts: int) -> Dispute:
    held = dispute.milestone.escrow.charge_cents
    return dispute_resolve(
        dispute_id=dispute.pk,
        by=by,
        release_cents=amounts.get("release", held // 2),
        refund_cents=amounts.get("refund", held - held // 2),
        note="Half was delivered",
    )


def test_a_dispute_resolution_is_audited_once(dispute, staff):
    _resolve(dispute, staff)

    entry = AuditEntry.objects.get(action="dispute.resolve")
    escrow = Escrow.objects.get(pk=dispute.milestone.escrow_id)
    assert entry.actor == staff
    assert (entry.subject_type, entry.subject_id) == ("contracts.dispute", str(dispute.pk))
    assert entry.reason == "Half was delivered"
    assert entry.detail["release_cents"] + entry.detail["refund_cents"] == escrow.charge_cents
    assert entry.detail["currency"] == escrow.currency
    assert entry.detail["status"] == ["open", "resolved"]
    assert AuditEntry.objects.count() == 1


@pytest.mark.parametrize(
    "case",
    ["not staff", "amounts do not add up", "gateway down", "fails after the audit"],
)
def test_a_dispute_resolution_that_fails_leaves_no_entry(dispute, staff, monkeypatch, case):
    by, amounts = staff, {}
    if case == "not staff":
        by = dispute.opened_by
    elif case == "amounts do not add up":
        amounts = {"release": 1, "refund": 1}
    elif case == "gateway down":
        monkeypatch.setattr(DummyGateway, "create_refund", _down)
    else:

        def boom(dispute: Dispute) -> None:
            raise RuntimeError("mail server exploded")

        monkeypatch.setattr(disputes.notices, "dispute_resolved", boom)

    with pytest.raises((PermissionDenied, ValidationFailed, TransientError, RuntimeError)):
        _resolve(dispute, by, **amounts)

    assert Dispute.objects.get(pk=dispute.pk).status == Dispute.Status.OPEN
    assert not AuditEntry.objects.exists()


# Transfer retries


@pytest.fixture
def waiting(monkeypatch):  # type: ignore[no-untyped-def]
    milestone = submitted_milestone()
    with monkeypatch.context() as patch:
        patch.setattr(DummyGateway, "create_transfer", _down)
        milestone_approve(milestone_id=milestone.pk, by=milestone.contract.project.created_by)
    return Escrow.objects.get(pk=milestone.escrow_id)


def test_a_staff_transfer_retry_is_audited_with_what_was_paid(waiting, staff):
    assert milestone_releases_retry(escrow_ids=[waiting.pk], by=staff) == 1

    entry = AuditEntry.objects.get()
    waiting.refresh_from_db()
    assert (entry.actor, entry.action) == (staff, "transfer.retry")
    assert (entry.subject_type, entry.subject_id) == ("payments.escrow", str(waiting.pk))
    assert entry.detail["amount_cents"] == waiting.payee_cents
    assert entry.detail["currency"] == waiting.currency
    assert entry.detail["transfer_id"] == waiting.transfer_id
    assert entry.detail["status"] == ["release_pending", "released"]


def test_the_scheduled_retry_is_not_audited(waiting):
    assert milestone_releases_retry() == 1
    assert not AuditEntry.objects.exists()


def test_a_staff_retry_failing_again_leaves_no_entry(waiting, staff, monkeypatch):
    monkeypatch.setattr(DummyGateway, "create_transfer", _down)
    assert escrow_retry_pending_releases(escrow_ids=[waiting.pk], actor=staff) == []
    assert not AuditEntry.objects.exists()


def test_only_staff_retry_transfers_by_hand(waiting):
    with pytest.raises(PermissionDenied):
        milestone_releases_retry(escrow_ids=[waiting.pk], by=waiting.payee)
    assert not AuditEntry.objects.exists()


# Refunds


def test_a_refund_by_staff_is_audited(staff):
    escrow = make_escrow(status=Escrow.Status.FUNDED)

    escrow_refund(escrow_id=escrow.pk, actor=staff, note="Goodwill")

    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.reason) == (staff, "refund.create", "Goodwill")
    assert entry.subject_id == str(escrow.pk)
    assert (entry.detail["amount_cents"], entry.detail["currency"]) == (
        escrow.charge_cents,
        escrow.currency,
    )
    assert entry.detail["status"] == ["funded", "refund_pending"]


def test_a_refund_refused_by_its_state_leaves_no_entry(staff):
    escrow = make_escrow(status=Escrow.Status.AWAITING_FUNDING)
    with pytest.raises(StateConflict):
        escrow_refund(escrow_id=escrow.pk, actor=staff)
    assert not AuditEntry.objects.exists()


def test_a_company_cancelling_its_contract_is_not_a_staff_action():
    contract = active_contract()
    contract_cancel(contract_id=contract.pk, by=contract.project.created_by, reason="Changed plans")
    assert not AuditEntry.objects.exists()


def test_a_refund_made_in_the_stripe_dashboard_is_audited_without_actor():
    escrow = make_escrow(status=Escrow.Status.FUNDED)

    assert escrow_record_external_refund(
        escrow_id=escrow.pk,
        amount_refunded=escrow.charge_cents,
        currency=escrow.currency,
        refund_id="re_dashboard",
    )

    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.subject_id) == (None, "refund.outside", str(escrow.pk))
    assert entry.detail["refund_id"] == "re_dashboard"
    assert entry.detail["amount_cents"] == escrow.charge_cents


# Deactivation


def test_deactivating_revokes_access_and_is_audited(staff, monkeypatch):
    from marketplace import services

    revoked = []
    monkeypatch.setattr(services, "user_tokens_revoke", lambda *, user: revoked.append(user) or 2)
    student = StudentFactory()

    user_deactivate(user_id=student.pk, by=staff, reason="Fraud")

    student.refresh_from_db()
    assert not student.is_active
    assert revoked == [student]
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.reason) == (staff, "user.deactivate", "Fraud")
    assert (entry.subject_type, entry.subject_id) == ("marketplace.user", str(student.pk))
    assert entry.detail["tokens_revoked"] == 2

    user_reactivate(user_id=student.pk, by=staff, reason="Cleared")

    student.refresh_from_db()
    assert student.is_active
    assert list(AuditEntry.objects.values_list("action", flat=True)) == [
        "user.reactivate",
        "user.deactivate",
    ]


@pytest.mark.parametrize("case", ["no reason", "oneself", "not staff", "superuser", "inactive"])
def test_a_refused_deactivation_changes_nothing(staff, case):
    target, by, reason = StudentFactory(), staff, "Fraud"
    if case == "no reason":
        reason = "  "
    elif case == "oneself":
        target = staff
    elif case == "not staff":
        by = StudentFactory()
    elif case == "superuser":
        target = User.objects.create_superuser(email="root@example.com", password="x" * 12)
    else:
        target.is_active = False
        target.save()
    active = target.is_active

    with pytest.raises((ValidationFailed, PermissionDenied, StateConflict)):
        user_deactivate(user_id=target.pk, by=by, reason=reason)

    target.refresh_from_db()
    assert target.is_active == active
    assert not AuditEntry.objects.exists()


# Coordinators and verifications


def test_a_coordinator_invited_by_staff_is_audited(staff):
    school = SchoolFactory()

    coordinator = coordinator_create(
        email="Coord@School.example", school=school, first_name="C", last_name="D", by=staff
    )

    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action) == (staff, "coordinator.invite")
    assert (entry.subject_type, entry.subject_id) == ("schools.coordinator", str(coordinator.pk))
    assert entry.detail == {
        "user_id": coordinator.user_id,
        "email": "coord@school.example",
        "school_id": school.pk,
        "invited": True,
    }


def test_a_coordinator_invitation_refused_leaves_no_entry(staff):
    taken = UserFactory()
    with pytest.raises(ValidationFailed):
        coordinator_create(
            email=taken.email, school=SchoolFactory(), first_name="C", last_name="D", by=staff
        )
    with pytest.raises(PermissionDenied):
        coordinator_create(
            email="x@school.example",
            school=SchoolFactory(),
            first_name="C",
            last_name="D",
            by=taken,
        )
    assert not AuditEntry.objects.exists()


def test_set_up_scripts_creating_coordinators_are_not_audited():
    coordinator_create(
        email="c@school.example", school=SchoolFactory(), first_name="C", last_name="D"
    )
    assert not AuditEntry.objects.exists()


def test_staff_overriding_a_coordinator_is_audited_as_an_override(staff):
    verification = VerificationFactory(status=V.PENDING_REVIEW, decided_at=None)

    verification_approve(verification_id=verification.pk, by=staff)

    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action) == (staff, "verification.approve")
    assert (entry.subject_type, entry.subject_id) == (
        "schools.enrolmentverification",
        str(verification.pk),
    )
    assert entry.detail["override"] is True
    assert entry.detail["status"] == [V.PENDING_REVIEW, V.VERIFIED]


def test_a_coordinator_approving_is_routine_but_revoking_is_audited():
    verification = VerificationFactory(status=V.PENDING_REVIEW, decided_at=None)
    coordinator = CoordinatorFactory(school=verification.school).user

    verification_approve(verification_id=verification.pk, by=coordinator)
    assert not AuditEntry.objects.exists()

    verification_revoke(verification_id=verification.pk, by=coordinator, reason="Left the school")

    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.reason) == (
        coordinator,
        "verification.revoke",
        "Left the school",
    )
    assert entry.detail["override"] is False


def test_a_refused_decision_leaves_no_entry(staff):
    verification = VerificationFactory(status=V.VERIFIED)
    with pytest.raises(StateConflict):
        verification_approve(verification_id=verification.pk, by=staff)
    with pytest.raises(PermissionDenied):
        verification_revoke(verification_id=verification.pk, by=StudentFactory(), reason="x")
    assert not AuditEntry.objects.exists()
