from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail, signing
from django.utils import timezone

from marketplace.errors import NotFound, PermissionDenied, StateConflict, ValidationFailed
from marketplace.models import User
from schools.models import EnrolmentVerification, VerificationEvent
from schools.selectors import verification_active_for, verified_school_ids_of
from schools.services import (
    TOKEN_SALT,
    verification_approve,
    verification_confirm_email,
    verification_reject,
    verification_request,
    verification_revoke,
    verification_token_make,
)
from tests.factories import (
    CompanyMemberFactory,
    CoordinatorFactory,
    SchoolDomainFactory,
    SchoolFactory,
    StudentFactory,
    UserFactory,
    VerificationFactory,
)

pytestmark = pytest.mark.django_db

V = EnrolmentVerification.Status
SITE = "https://market.example"


@pytest.fixture(autouse=True)
def site(settings):
    settings.SITE_URL = SITE


@pytest.fixture
def school():
    school = SchoolFactory(name="École Test", domain=None)
    SchoolDomainFactory(school=school, domain="school.edu")
    return school


@pytest.fixture
def coordinator(school):
    return CoordinatorFactory(school=school).user


@pytest.fixture
def other_coordinator():
    return CoordinatorFactory().user


@pytest.fixture
def student():
    return StudentFactory(email="alice@gmail.test", first_name="Alice")


def _graduation(days: int = 365) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=days)


def _request(student, school, email: str = "alice@school.edu") -> EnrolmentVerification:
    return verification_request(
        student=student,
        school=school,
        school_email=email,
        program="MSc Computer Science",
        graduation_date=_graduation(),
    )


def _confirmed(student, school, email: str = "alice@school.edu") -> EnrolmentVerification:
    verification = _request(student, school, email)
    return verification_confirm_email(token=verification_token_make(verification=verification))


def _verified(student, school, coordinator) -> EnrolmentVerification:
    verification = _confirmed(student, school)
    return verification_approve(verification_id=verification.pk, by=coordinator)


def _events(verification) -> list[tuple[str, str, int | None, str]]:
    return list(
        VerificationEvent.objects.filter(verification=verification)
        .order_by("id")
        .values_list("from_status", "to_status", "actor_id", "reason")
    )


def _snapshot(verification) -> tuple[dict, int]:
    row = EnrolmentVerification.objects.filter(pk=verification.pk).values().get()
    return row, VerificationEvent.objects.filter(verification=verification).count()


# --- request and e-mail confirmation ------------------------------------------------------


def test_request_mails_a_verify_link_that_confirms(
    student, school, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        verification = _request(student, school)

    assert len(callbacks) == 1
    assert verification.status == V.PENDING_EMAIL
    assert verification.school_id == school.pk
    assert _events(verification) == [("", V.PENDING_EMAIL, student.pk, "")]
    [message] = mail.outbox
    assert message.to == ["alice@school.edu"]
    assert "École Test" in message.subject
    match = re.search(rf"{re.escape(SITE)}/verify/([^/\s]+)/", message.body)
    assert match is not None

    confirmed = verification_confirm_email(token=match.group(1))

    assert confirmed.pk == verification.pk
    assert confirmed.status == V.PENDING_REVIEW


def test_no_mail_is_sent_when_the_request_fails(
    student, school, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationFailed):
        _request(student, school, "alice@elsewhere.edu")
    assert mail.outbox == []


def test_confirm_moves_to_pending_review_and_is_idempotent(student, school):
    verification = _request(student, school)
    token = verification_token_make(verification=verification)

    first = verification_confirm_email(token=token)
    first.refresh_from_db()
    second = verification_confirm_email(token=token)
    second.refresh_from_db()

    assert first.status == second.status == V.PENDING_REVIEW
    assert first.email_confirmed_at is not None
    assert second.email_confirmed_at == first.email_confirmed_at
    assert _events(verification) == [
        ("", V.PENDING_EMAIL, student.pk, ""),
        (V.PENDING_EMAIL, V.PENDING_REVIEW, student.pk, ""),
    ]


def _altered(token: str) -> str:
    middle = len(token) // 3
    return token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]


@pytest.mark.parametrize(
    "make_token",
    [
        lambda v: "garbage",
        lambda v: "",
        lambda v: (
            verification_token_make(verification=v)[:-1]
            + ("x" if verification_token_make(verification=v)[-1] != "x" else "y")
        ),
        lambda v: _altered(verification_token_make(verification=v)),
        lambda v: signing.dumps({"v": v.pk, "e": v.school_email}, salt="another-salt"),
        lambda v: signing.dumps({"v": v.pk, "e": v.school_email}),
        lambda v: signing.dumps({"v": v.pk, "e": "mallory@school.edu"}, salt=TOKEN_SALT),
        lambda v: signing.dumps({"v": v.pk + 1000, "e": v.school_email}, salt=TOKEN_SALT),
    ],
    ids=[
        "garbage",
        "empty",
        "signature-changed",
        "payload-changed",
        "other-salt",
        "no-salt",
        "other-address",
        "other-request",
    ],
)
def test_forged_or_altered_tokens_are_refused(student, school, make_token):
    verification = _request(student, school)
    before = _snapshot(verification)

    with pytest.raises(ValidationFailed) as exc:
        verification_confirm_email(token=make_token(verification))

    assert exc.value.field == "token"
    assert _snapshot(verification) == before


def test_expired_token_is_refused(student, school, settings):
    verification = _request(student, school)
    token = verification_token_make(verification=verification)
    now = timezone.now()

    late = now + dt.timedelta(seconds=settings.VERIFICATION_LINK_MAX_AGE + 60)
    with time_machine.travel(late), pytest.raises(ValidationFailed) as exc:
        verification_confirm_email(token=token)
    assert exc.value.field == "token"
    assert "expired" in exc.value.message
    verification.refresh_from_db()
    assert verification.status == V.PENDING_EMAIL

    with time_machine.travel(now + dt.timedelta(seconds=settings.VERIFICATION_LINK_MAX_AGE - 60)):
        assert verification_confirm_email(token=token).status == V.PENDING_REVIEW


def test_confirm_after_a_decision_is_a_state_conflict(student, school, coordinator):
    verification = _request(student, school)
    token = verification_token_make(verification=verification)
    verification_reject(verification_id=verification.pk, by=coordinator, reason="Not enrolled")
    with pytest.raises(StateConflict):
        verification_confirm_email(token=token)


# --- decisions ----------------------------------------------------------------------------


def test_the_coordinator_approves(student, school, coordinator, django_capture_on_commit_callbacks):
    verification = _confirmed(student, school)

    with django_capture_on_commit_callbacks(execute=True):
        approved = verification_approve(verification_id=verification.pk, by=coordinator)

    approved.refresh_from_db()
    assert approved.status == V.VERIFIED
    assert approved.decided_by_id == coordinator.pk
    assert approved.decided_at is not None
    assert _events(approved)[-1] == (V.PENDING_REVIEW, V.VERIFIED, coordinator.pk, "")
    assert verification_active_for(user=student) == approved
    assert verified_school_ids_of(user=student) == [school.pk]
    [message] = mail.outbox
    assert message.to == [student.email]
    assert "Verified" in message.subject


@pytest.mark.parametrize("confirmed", [True, False])
def test_the_coordinator_rejects_with_a_reason(
    student, school, coordinator, confirmed, django_capture_on_commit_callbacks
):
    verification = _confirmed(student, school) if confirmed else _request(student, school)
    before = verification.status

    with django_capture_on_commit_callbacks(execute=True):
        rejected = verification_reject(
            verification_id=verification.pk, by=coordinator, reason="  Not on our register.  "
        )

    rejected.refresh_from_db()
    assert rejected.status == V.REJECTED
    assert rejected.reason == "Not on our register."
    assert rejected.decided_by_id == coordinator.pk
    assert _events(rejected)[-1] == (before, V.REJECTED, coordinator.pk, "Not on our register.")
    assert verification_active_for(user=student) is None
    [message] = mail.outbox
    assert message.to == [student.email]
    assert "Not on our register." in message.body


def test_the_coordinator_revokes_with_a_reason(student, school, coordinator):
    verification = _verified(student, school, coordinator)

    revoked = verification_revoke(
        verification_id=verification.pk, by=coordinator, reason="Left the school"
    )

    revoked.refresh_from_db()
    assert revoked.status == V.REVOKED
    assert revoked.reason == "Left the school"
    assert verification_active_for(user=student) is None
    assert verified_school_ids_of(user=student) == []


def test_staff_may_decide_for_any_school(student, school):
    staff = UserFactory(role=User.Role.ADMIN, is_staff=True)
    verification = _confirmed(student, school)
    assert verification_approve(verification_id=verification.pk, by=staff).status == V.VERIFIED


def _decide(action: str, verification, by, reason: str = "A reason"):
    if action == "approve":
        return verification_approve(verification_id=verification.pk, by=by)
    if action == "reject":
        return verification_reject(verification_id=verification.pk, by=by, reason=reason)
    return verification_revoke(verification_id=verification.pk, by=by, reason=reason)


@pytest.mark.parametrize("action", ["approve", "reject", "revoke"])
@pytest.mark.parametrize("who", ["other_coordinator", "student", "company"])
def test_only_the_schools_coordinator_decides(
    student, school, coordinator, other_coordinator, action, who, django_capture_on_commit_callbacks
):
    if action == "revoke":
        verification = _verified(student, school, coordinator)
    else:
        verification = _confirmed(student, school)
    by = {"other_coordinator": other_coordinator, "student": student}.get(who)
    by = by or CompanyMemberFactory()
    before = _snapshot(verification)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(PermissionDenied):
        _decide(action, verification, by)

    assert _snapshot(verification) == before
    assert mail.outbox == []


@pytest.mark.parametrize("action", ["reject", "revoke"])
@pytest.mark.parametrize("reason", ["", "   ", "\n"])
def test_reject_and_revoke_need_a_reason(student, school, coordinator, action, reason):
    if action == "revoke":
        verification = _verified(student, school, coordinator)
    else:
        verification = _confirmed(student, school)
    before = _snapshot(verification)

    with pytest.raises(ValidationFailed) as exc:
        _decide(action, verification, coordinator, reason=reason)

    assert exc.value.field == "reason"
    assert _snapshot(verification) == before


@pytest.mark.parametrize(
    ("action", "status"),
    [
        ("approve", V.PENDING_EMAIL),
        ("approve", V.VERIFIED),
        ("approve", V.REJECTED),
        ("reject", V.VERIFIED),
        ("revoke", V.PENDING_REVIEW),
        ("revoke", V.REVOKED),
    ],
)
def test_decisions_follow_the_state_machine(student, school, coordinator, action, status):
    verification = _request(student, school)
    if status != V.PENDING_EMAIL:
        verification = verification_confirm_email(
            token=verification_token_make(verification=verification)
        )
    if status in (V.VERIFIED, V.REVOKED):
        verification_approve(verification_id=verification.pk, by=coordinator)
    if status == V.REVOKED:
        verification_revoke(verification_id=verification.pk, by=coordinator, reason="gone")
    if status == V.REJECTED:
        verification_reject(verification_id=verification.pk, by=coordinator, reason="no")
    before = _snapshot(verification)
    assert before[0]["status"] == status

    with pytest.raises(StateConflict):
        _decide(action, verification, coordinator)

    assert _snapshot(verification) == before


def test_deciding_an_unknown_request_is_not_found(coordinator):
    with pytest.raises(NotFound):
        verification_approve(verification_id=987654, by=coordinator)


# --- who may ask, and for which address ---------------------------------------------------


@pytest.mark.parametrize("live", [V.PENDING_EMAIL, V.PENDING_REVIEW, V.VERIFIED])
def test_a_second_live_request_is_a_state_conflict(student, school, coordinator, live):
    if live == V.PENDING_EMAIL:
        _request(student, school)
    elif live == V.PENDING_REVIEW:
        _confirmed(student, school)
    else:
        _verified(student, school, coordinator)

    with pytest.raises(StateConflict):
        _request(student, school, "alice.bis@school.edu")
    assert EnrolmentVerification.objects.filter(student=student).count() == 1


def test_a_new_request_is_allowed_after_a_rejection(student, school, coordinator):
    first = _request(student, school)
    verification_reject(verification_id=first.pk, by=coordinator, reason="typo in address")
    second = _request(student, school)
    assert second.pk != first.pk
    assert second.status == V.PENDING_EMAIL


def test_a_new_request_is_allowed_after_graduation(student, school):
    VerificationFactory(
        student=student, school=school, graduation_date=_graduation(30), school_email="a@school.edu"
    )
    with time_machine.travel(timezone.now() + dt.timedelta(days=31)):
        assert _request(student, school).status == V.PENDING_EMAIL


@pytest.mark.parametrize("held", [V.PENDING_REVIEW, V.VERIFIED])
@pytest.mark.parametrize("email", ["alice@school.edu", "ALICE@School.EDU"])
def test_an_address_held_by_another_student_is_refused(student, school, coordinator, held, email):
    if held == V.PENDING_REVIEW:
        _confirmed(student, school)
    else:
        _verified(student, school, coordinator)
    mallory = StudentFactory()

    with pytest.raises(ValidationFailed) as exc:
        _request(mallory, school, email)

    assert exc.value.field == "school_email"
    assert not EnrolmentVerification.objects.filter(student=mallory).exists()


def test_two_unconfirmed_claims_on_one_address_the_first_confirmation_wins(student, school):
    mallory = StudentFactory()
    first = _request(student, school)
    second = _request(mallory, school)

    verification_confirm_email(token=verification_token_make(verification=first))
    with pytest.raises(ValidationFailed) as exc:
        verification_confirm_email(token=verification_token_make(verification=second))

    assert exc.value.field == "token"
    second.refresh_from_db()
    assert second.status == V.PENDING_EMAIL


@pytest.mark.parametrize("role", [User.Role.COMPANY, User.Role.COORDINATOR, User.Role.ADMIN])
def test_only_students_may_ask(school, role):
    user = UserFactory(role=role)
    with pytest.raises(PermissionDenied):
        _request(user, school)
    assert EnrolmentVerification.objects.count() == 0


@pytest.mark.parametrize("days", [0, -1, -400, 8 * 365 + 1, 365_000])
def test_the_graduation_date_must_be_in_the_future_and_within_eight_years(student, school, days):
    with pytest.raises(ValidationFailed) as exc:
        verification_request(
            student=student,
            school=school,
            school_email="alice@school.edu",
            program="MSc",
            graduation_date=_graduation(days),
        )
    assert exc.value.field == "graduation_date"
    assert EnrolmentVerification.objects.count() == 0


def test_a_graduation_date_eight_years_away_is_accepted(student, school):
    verification = verification_request(
        student=student,
        school=school,
        school_email="alice@school.edu",
        program="PhD",
        graduation_date=_graduation(8 * 365),
    )
    assert verification.graduation_date == _graduation(8 * 365)


# --- in force, and the audit trail --------------------------------------------------------


def test_a_verification_is_no_longer_in_force_after_graduation(student, school):
    verification = VerificationFactory(
        student=student, school=school, graduation_date=_graduation(30)
    )
    assert verification_active_for(user=student) == verification

    with time_machine.travel(timezone.now() + dt.timedelta(days=30)):
        assert verification_active_for(user=student) == verification
    with time_machine.travel(timezone.now() + dt.timedelta(days=31)):
        assert verification_active_for(user=student) is None
        assert verified_school_ids_of(user=student) == []


def test_every_transition_is_audited(student, school, coordinator):
    verification = _request(student, school)
    verification_confirm_email(token=verification_token_make(verification=verification))
    verification_approve(verification_id=verification.pk, by=coordinator)
    verification_revoke(verification_id=verification.pk, by=coordinator, reason="Left in March")

    assert _events(verification) == [
        ("", V.PENDING_EMAIL, student.pk, ""),
        (V.PENDING_EMAIL, V.PENDING_REVIEW, student.pk, ""),
        (V.PENDING_REVIEW, V.VERIFIED, coordinator.pk, ""),
        (V.VERIFIED, V.REVOKED, coordinator.pk, "Left in March"),
    ]
    stamps = list(
        VerificationEvent.objects.filter(verification=verification)
        .order_by("id")
        .values_list("created_at", flat=True)
    )
    assert stamps == sorted(stamps)
