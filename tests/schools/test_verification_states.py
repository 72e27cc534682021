from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from marketplace.errors import StateConflict
from schools.models import EnrolmentVerification, VerificationEvent
from schools.services import (
    EXPIRY_REASON,
    verification_approve,
    verification_confirm_email,
    verification_reject,
    verification_revoke,
    verification_token_make,
    verifications_expire,
)
from schools.states import VERIFICATION_STATES
from tests.factories import CoordinatorFactory, SchoolFactory, VerificationFactory

pytestmark = pytest.mark.django_db

V = EnrolmentVerification.Status
NOW = dt.datetime(2025, 3, 3, 9, 30, tzinfo=dt.UTC)

TABLE = {
    V.PENDING_EMAIL: {V.PENDING_REVIEW, V.REJECTED},
    V.PENDING_REVIEW: {V.VERIFIED, V.REJECTED},
    V.VERIFIED: {V.EXPIRED, V.REVOKED},
    V.REJECTED: set(),
    V.EXPIRED: set(),
    V.REVOKED: set(),
}
# The coordinator's API routes and the state each one moves a verification to.
ACTIONS = {
    "approve": (V.VERIFIED, {}),
    "reject": (V.REJECTED, {"reason": "Not on our register."}),
    "revoke": (V.REVOKED, {"reason": "Left the school."}),
}


@pytest.fixture
def school():
    return SchoolFactory()


@pytest.fixture
def coordinator(school):
    return CoordinatorFactory(school=school).user


def _verification(school, status: str, **kw) -> EnrolmentVerification:
    return VerificationFactory(school=school, status=status, decided_at=None, **kw)


def _snapshot(verification: EnrolmentVerification) -> tuple:
    return EnrolmentVerification.objects.filter(pk=verification.pk).values_list(
        "status", "reason", "decided_by", "decided_at", "email_confirmed_at"
    )[0]


def test_the_table_is_the_documented_lifecycle():
    assert {state: set(VERIFICATION_STATES.allowed(state)) for state in V.values} == TABLE


def _confirm(verification, coordinator):
    return verification_confirm_email(token=verification_token_make(verification=verification))


def _approve(verification, coordinator):
    return verification_approve(verification_id=verification.pk, by=coordinator)


def _reject(verification, coordinator):
    return verification_reject(verification_id=verification.pk, by=coordinator, reason=" No. ")


def _revoke(verification, coordinator):
    return verification_revoke(verification_id=verification.pk, by=coordinator, reason="Left.")


def _expire(verification, coordinator):
    verifications_expire(today=verification.graduation_date + dt.timedelta(days=1))
    verification.refresh_from_db()
    return verification


@pytest.mark.parametrize(
    ("start", "move", "to", "actor", "reason"),
    [
        (V.PENDING_EMAIL, _confirm, V.PENDING_REVIEW, "student", ""),
        (V.PENDING_EMAIL, _reject, V.REJECTED, "coordinator", "No."),
        (V.PENDING_REVIEW, _approve, V.VERIFIED, "coordinator", ""),
        (V.PENDING_REVIEW, _reject, V.REJECTED, "coordinator", "No."),
        (V.VERIFIED, _revoke, V.REVOKED, "coordinator", "Left."),
        (V.VERIFIED, _expire, V.EXPIRED, None, EXPIRY_REASON),
    ],
)
def test_each_allowed_move_through_its_service_writes_one_event(
    school, coordinator, start, move, to, actor, reason
):
    assert to in VERIFICATION_STATES.allowed(start)
    verification = _verification(school, start)

    moved = move(verification, coordinator)

    assert moved.status == to
    assert EnrolmentVerification.objects.get(pk=verification.pk).status == to
    actors = {"student": verification.student_id, "coordinator": coordinator.pk, None: None}
    assert list(
        VerificationEvent.objects.filter(verification=verification).values_list(
            "from_status", "to_status", "actor_id", "reason"
        )
    ) == [(start, to, actors[actor], reason)]


def test_confirming_saves_the_confirmation_time_with_the_status(school):
    verification = _verification(school, V.PENDING_EMAIL, email_confirmed_at=None)
    token = verification_token_make(verification=verification)
    with time_machine.travel(NOW, tick=False):
        verification_confirm_email(token=token)
    _, _, _, _, confirmed_at = _snapshot(verification)
    assert confirmed_at == NOW


def test_a_decision_saves_who_when_and_why_with_the_status(school, coordinator):
    verification = _verification(school, V.PENDING_REVIEW)
    with time_machine.travel(NOW, tick=False):
        verification_reject(verification_id=verification.pk, by=coordinator, reason="Not enrolled.")
    status, reason, decided_by, decided_at, _ = _snapshot(verification)
    assert (status, reason, decided_by, decided_at) == (
        V.REJECTED,
        "Not enrolled.",
        coordinator.pk,
        NOW,
    )


DISALLOWED = [
    (start, action)
    for start in V.values
    for action, (to, _) in ACTIONS.items()
    if to not in TABLE[start]
]


@pytest.mark.parametrize(("start", "action"), DISALLOWED)
def test_a_disallowed_move_is_a_409_and_changes_nothing(
    school, coordinator, as_user, start, action
):
    verification = _verification(school, start)
    before = _snapshot(verification)
    to, body = ACTIONS[action]

    res = as_user(coordinator).post(
        f"/api/v1/verifications/{verification.pk}/{action}/", body, format="json"
    )

    assert res.status_code == 409, res.content
    assert res.json()["code"] == "state_conflict"
    assert res.json()["detail"] == f"A verification cannot go from {start} to {to}."
    assert _snapshot(verification) == before
    assert not VerificationEvent.objects.exists()


def test_a_stale_copy_cannot_be_moved(school, coordinator):
    verification = _verification(school, V.PENDING_REVIEW)
    stale = EnrolmentVerification.objects.get(pk=verification.pk)
    verification_approve(verification_id=verification.pk, by=coordinator)

    with pytest.raises(StateConflict, match="now verified"), transaction.atomic():
        VERIFICATION_STATES.transition(stale, V.REJECTED, actor=coordinator)

    assert EnrolmentVerification.objects.get(pk=verification.pk).status == V.VERIFIED
    assert VerificationEvent.objects.filter(verification=verification).count() == 1


# --- bulk expiry ----------------------------------------------------------------------------

GRADUATION = dt.date(2025, 6, 30)


def _verification_queries(captured: CaptureQueriesContext) -> list[str]:
    tables = ("schools_enrolmentverification", "schools_verificationevent")
    return [q["sql"] for q in captured.captured_queries if any(t in q["sql"] for t in tables)]


@pytest.mark.parametrize("count", [1, 6])
def test_bulk_expiry_writes_one_event_each_in_a_bounded_number_of_queries(school, count):
    due = [VerificationFactory(school=school, graduation_date=GRADUATION) for _ in range(count)]
    VerificationFactory(school=school, graduation_date=GRADUATION + dt.timedelta(days=1))

    with CaptureQueriesContext(connection) as captured:
        student_ids = verifications_expire(today=GRADUATION + dt.timedelta(days=1))

    assert student_ids == sorted(v.student_id for v in due)
    # Select (locked), re-read under the lock, one UPDATE, one INSERT: whatever the count.
    assert len(_verification_queries(captured)) == 4
    assert sorted(
        VerificationEvent.objects.values_list("verification_id", "from_status", "to_status")
    ) == [(v.pk, V.VERIFIED, V.EXPIRED) for v in due]
    assert set(
        EnrolmentVerification.objects.filter(pk__in=[v.pk for v in due]).values_list(
            "status", flat=True
        )
    ) == {V.EXPIRED}


def test_a_bulk_move_refused_for_one_row_writes_nothing(school):
    verified = VerificationFactory(school=school)
    rejected = _verification(school, V.REJECTED)

    with pytest.raises(StateConflict), transaction.atomic():
        VERIFICATION_STATES.transition_many([verified, rejected], V.EXPIRED)

    assert EnrolmentVerification.objects.get(pk=verified.pk).status == V.VERIFIED
    assert not VerificationEvent.objects.exists()


def test_a_bulk_move_of_a_stale_copy_writes_nothing(school, coordinator):
    verification = VerificationFactory(school=school)
    stale = EnrolmentVerification.objects.get(pk=verification.pk)
    verification_revoke(verification_id=verification.pk, by=coordinator, reason="Left.")

    with pytest.raises(StateConflict, match="now revoked"), transaction.atomic():
        VERIFICATION_STATES.transition_many([stale], V.EXPIRED)

    assert EnrolmentVerification.objects.get(pk=verification.pk).status == V.REVOKED
    assert list(VerificationEvent.objects.values_list("to_status", flat=True)) == [V.REVOKED]
