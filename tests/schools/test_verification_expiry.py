from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail

from marketplace.models import Notification, OutboundEmail
from projects.briefs.lifecycle import (
    bids_withdraw_for_students,
    verifications_expire_and_withdraw_bids,
)
from projects.briefs.models import Bid
from projects.briefs.tasks import expire_verifications_task
from schools.models import EnrolmentVerification, VerificationEvent
from schools.services import verifications_expire, verifications_warn_expiring
from schools.tasks import warn_expiring_verifications_task
from tests.factories import (
    ProjectFactory,
    SchoolDomainFactory,
    SchoolFactory,
    StudentFactory,
    VerificationFactory,
)

pytestmark = pytest.mark.django_db

V = EnrolmentVerification.Status
B = Bid.Status
GRADUATION = dt.date(2025, 6, 30)


def at(day: dt.date, hour: int = 9):
    return time_machine.travel(
        dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC), tick=False
    )


@pytest.fixture
def school():
    school = SchoolFactory(name="École Test", domain=None)
    SchoolDomainFactory(school=school, domain="school.edu")
    return school


@pytest.fixture
def verification(school):
    with at(dt.date(2024, 9, 1)):
        return VerificationFactory(
            school=school,
            student=StudentFactory(email="ada@example.com", first_name="Ada"),
            graduation_date=GRADUATION,
        )


@pytest.fixture
def student(verification):
    return verification.student


def _bid(student, status=B.SUBMITTED, project=None) -> Bid:
    return Bid.objects.create(
        project=project or ProjectFactory(),
        student=student,
        amount_cents=100_000,
        currency="EUR",
        estimated_days=10,
        cover_letter="I can do it.",
        status=status,
    )


def _status(obj) -> str:
    obj.refresh_from_db()
    return obj.status


# --- expiry ---------------------------------------------------------------------------------


@pytest.mark.parametrize("today", [GRADUATION - dt.timedelta(days=1), GRADUATION])
def test_up_to_the_graduation_date_nothing_expires(
    verification, student, today, django_capture_on_commit_callbacks
):
    bid = _bid(student)
    with at(today), django_capture_on_commit_callbacks(execute=True):
        result = verifications_expire_and_withdraw_bids()

    assert result.student_ids == []
    assert result.bids_withdrawn == 0
    assert _status(verification) == V.VERIFIED
    assert _status(bid) == B.SUBMITTED
    assert mail.outbox == []
    assert not Notification.objects.exists()


def test_the_day_after_graduation_the_verification_expires_and_the_student_is_told_once(
    verification, student, django_capture_on_commit_callbacks
):
    day_after = GRADUATION + dt.timedelta(days=1)
    with at(day_after), django_capture_on_commit_callbacks(execute=True):
        first = verifications_expire_and_withdraw_bids()
    with at(day_after, hour=18), django_capture_on_commit_callbacks(execute=True):
        second = verifications_expire_and_withdraw_bids()
    with at(day_after + dt.timedelta(days=1)), django_capture_on_commit_callbacks(execute=True):
        third = verifications_expire(today=day_after + dt.timedelta(days=1))

    assert first.student_ids == [student.pk]
    assert second.student_ids == third == []
    assert _status(verification) == V.EXPIRED
    assert list(
        VerificationEvent.objects.filter(verification=verification).values_list(
            "from_status", "to_status", "actor_id", "reason"
        )
    ) == [(V.VERIFIED, V.EXPIRED, None, "graduation date passed")]
    [notification] = Notification.objects.filter(user=student)
    assert notification.key == f"verification-expired:{verification.pk}"
    assert notification.kind == "verification_expired"
    [email] = OutboundEmail.objects.all()
    assert email.key == f"verification-expired:{verification.pk}"
    assert email.to == "ada@example.com"
    [sent] = mail.outbox
    assert sent.to == ["ada@example.com"]
    assert sent.subject == "Your student verification at École Test has ended"
    assert "30 June 2025" in sent.body


def test_the_student_is_told_in_their_language(
    verification, student, django_capture_on_commit_callbacks
):
    student.language = "fr"
    student.save(update_fields=["language"])
    with at(GRADUATION + dt.timedelta(days=3)), django_capture_on_commit_callbacks(execute=True):
        verifications_expire()

    [sent] = mail.outbox
    assert sent.subject == "Votre vérification étudiante (École Test) a pris fin"
    assert "30 juin 2025" in sent.body


def test_only_verifications_in_force_expire(school):
    others = {
        status: VerificationFactory(school=school, status=status, graduation_date=GRADUATION)
        for status in (V.PENDING_EMAIL, V.PENDING_REVIEW, V.REJECTED, V.REVOKED)
    }
    with at(GRADUATION + dt.timedelta(days=1)):
        assert verifications_expire() == []
    assert {status: _status(v) for status, v in others.items()} == {s: s for s in others}


def test_open_bids_of_an_expired_student_are_withdrawn(verification, student):
    submitted = _bid(student)
    shortlisted = _bid(student, B.SHORTLISTED)
    rejected = _bid(student, B.REJECTED)
    accepted = _bid(student, B.ACCEPTED)
    still_verified = VerificationFactory(graduation_date=dt.date(2026, 6, 30)).student
    other_bid = _bid(still_verified, project=submitted.project)

    now = dt.datetime(2025, 7, 1, 9, tzinfo=dt.UTC)
    with at(now.date()):
        result = verifications_expire_and_withdraw_bids()
        again = verifications_expire_and_withdraw_bids()

    assert result.bids_withdrawn == 2
    assert again.bids_withdrawn == 0
    assert {
        bid.pk: (bid.status, bid.decided_at)
        for bid in Bid.objects.filter(pk__in=[submitted.pk, shortlisted.pk, rejected.pk])
    } == {
        submitted.pk: (B.WITHDRAWN, now),
        shortlisted.pk: (B.WITHDRAWN, now),
        rejected.pk: (B.REJECTED, None),
    }
    assert _status(accepted) == B.ACCEPTED
    assert _status(other_bid) == B.SUBMITTED


def test_a_student_verified_again_keeps_their_bids(verification, student):
    bid = _bid(student)
    other_school = SchoolFactory()
    VerificationFactory(student=student, school=other_school, graduation_date=dt.date(2027, 6, 30))

    with at(GRADUATION + dt.timedelta(days=1)):
        result = verifications_expire_and_withdraw_bids()

    assert result.student_ids == [student.pk]
    assert result.bids_withdrawn == 0
    assert _status(verification) == V.EXPIRED
    assert _status(bid) == B.SUBMITTED


def test_students_still_verified_keep_their_bids(student):
    bid = _bid(student)
    with at(GRADUATION):
        assert bids_withdraw_for_students(student_ids=[]) == 0
        assert bids_withdraw_for_students(student_ids=[student.pk]) == 0
    assert _status(bid) == B.SUBMITTED
    assert bids_withdraw_for_students(student_ids=[student.pk], today=GRADUATION) == 0
    assert _status(bid) == B.SUBMITTED


def test_an_expired_student_cannot_bid(verification, student, as_user):
    project = ProjectFactory()
    other_project = ProjectFactory()
    body = {"amount_cents": 90_000, "estimated_days": 5, "cover_letter": "Hire me."}
    client = as_user(student)

    with at(GRADUATION):
        assert client.post(f"/api/v1/projects/{project.pk}/bids/", body).status_code == 201
    with at(GRADUATION + dt.timedelta(days=1)):
        expire_verifications_task.delay()
        response = client.post(f"/api/v1/projects/{other_project.pk}/bids/", body)

    assert response.status_code == 403
    assert _status(verification) == V.EXPIRED
    assert Bid.objects.get(project=project).status == B.WITHDRAWN
    assert not Bid.objects.filter(project=other_project).exists()


# --- warning --------------------------------------------------------------------------------


def test_the_warning_goes_once_thirty_days_ahead(
    verification, student, django_capture_on_commit_callbacks
):
    warned = {}
    for days_before in (31, 30, 29, 1, 0):
        day = GRADUATION - dt.timedelta(days=days_before)
        with at(day), django_capture_on_commit_callbacks(execute=True):
            warned[days_before] = verifications_warn_expiring()

    assert warned == {31: [], 30: [verification.pk], 29: [], 1: [], 0: []}
    [notification] = Notification.objects.filter(user=student)
    assert notification.key == f"verification-expiring:{verification.pk}"
    assert OutboundEmail.objects.filter(key=notification.key).count() == 1
    [sent] = mail.outbox
    assert sent.subject == "Your student verification at École Test ends in 30 days"
    assert "30 June 2025" in sent.body
    assert _status(verification) == V.VERIFIED


def test_days_left_counts_to_the_graduation_date(school, django_capture_on_commit_callbacks):
    today = dt.date(2025, 6, 1)
    on_the_day = VerificationFactory(school=school, graduation_date=today)
    in_a_week = VerificationFactory(school=school, graduation_date=today + dt.timedelta(days=7))
    VerificationFactory(school=school, graduation_date=today - dt.timedelta(days=1))
    VerificationFactory(school=school, graduation_date=today + dt.timedelta(days=8))
    VerificationFactory(
        school=school, graduation_date=today + dt.timedelta(days=2), status=V.PENDING_REVIEW
    )

    with at(today), django_capture_on_commit_callbacks(execute=True):
        warned = verifications_warn_expiring(days=7)

    assert warned == [on_the_day.pk, in_a_week.pk]
    assert sorted(m.subject for m in mail.outbox) == [
        "Your student verification at École Test ends in 0 days",
        "Your student verification at École Test ends in 7 days",
    ]


def test_the_warning_task_warns_in_the_students_language(
    verification, student, django_capture_on_commit_callbacks
):
    student.language = "fr"
    student.save(update_fields=["language"])
    with at(GRADUATION - dt.timedelta(days=10)), django_capture_on_commit_callbacks(execute=True):
        warn_expiring_verifications_task.delay()
        warn_expiring_verifications_task.delay()

    [sent] = mail.outbox
    assert sent.subject == "Votre vérification étudiante (École Test) prend fin dans 10 jours"
