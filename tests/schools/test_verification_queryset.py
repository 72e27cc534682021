from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import override_settings
from django.urls import reverse

from schools.models import EnrolmentVerification
from schools.services import verifications_warn_expiring
from tests.factories import CoordinatorFactory, SchoolFactory, VerificationFactory
from tests.twofactor import login_with_second_factor

pytestmark = pytest.mark.django_db

V = EnrolmentVerification.Status
TODAY = dt.date(2025, 6, 1)


def _day(offset: int) -> dt.date:
    return TODAY + dt.timedelta(days=offset)


def at(day: dt.date):
    return time_machine.travel(
        dt.datetime(day.year, day.month, day.day, 9, tzinfo=dt.UTC), tick=False
    )


@pytest.fixture
def school():
    return SchoolFactory()


def _ids(qs) -> set[int]:
    return set(qs.values_list("pk", flat=True))


# --- in_force -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "graduation", "in_force"),
    [
        (V.VERIFIED, _day(1), True),
        (V.VERIFIED, TODAY, True),  # the graduation day is the last day in force
        (V.VERIFIED, _day(-1), False),  # the day after graduation
        (V.REVOKED, _day(100), False),
        (V.EXPIRED, _day(100), False),
        (V.REJECTED, _day(100), False),
        (V.PENDING_EMAIL, _day(100), False),
        (V.PENDING_REVIEW, _day(100), False),
    ],
)
def test_in_force_on_a_day(school, status, graduation, in_force):
    verification = VerificationFactory(school=school, status=status, graduation_date=graduation)

    assert _ids(EnrolmentVerification.objects.in_force(on=TODAY)) == (
        {verification.pk} if in_force else set()
    )
    assert verification.is_in_force(on=TODAY) is in_force


def test_in_force_defaults_to_the_local_date(school):
    verification = VerificationFactory(school=school, graduation_date=TODAY)

    with at(TODAY):
        assert _ids(EnrolmentVerification.objects.in_force()) == {verification.pk}
        assert verification.is_in_force()
    with at(_day(1)):
        assert not EnrolmentVerification.objects.in_force().exists()
        assert not verification.is_in_force()


def test_in_force_chains_with_other_filters(school):
    mine = VerificationFactory(school=school, graduation_date=_day(10))
    VerificationFactory(graduation_date=_day(10))  # another school's

    qs = EnrolmentVerification.objects.filter(school=school).in_force(on=TODAY)

    assert _ids(qs) == {mine.pk}


def test_due_to_expire_is_verified_and_past_graduation(school):
    past = VerificationFactory(school=school, graduation_date=_day(-1))
    VerificationFactory(school=school, graduation_date=TODAY)
    VerificationFactory(school=school, status=V.REVOKED, graduation_date=_day(-1))
    VerificationFactory(school=school, status=V.PENDING_REVIEW, graduation_date=_day(-1))

    assert _ids(EnrolmentVerification.objects.due_to_expire(on=TODAY)) == {past.pk}


# --- expiring -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "graduation", "expiring"),
    [
        (V.VERIFIED, TODAY, True),
        (V.VERIFIED, _day(7), True),  # the last day of the window
        (V.VERIFIED, _day(8), False),
        (V.VERIFIED, _day(-1), False),  # already past graduation
        (V.PENDING_REVIEW, _day(2), False),
        (V.REVOKED, _day(2), False),
    ],
)
def test_expiring_within_days(school, status, graduation, expiring):
    verification = VerificationFactory(school=school, status=status, graduation_date=graduation)

    assert _ids(EnrolmentVerification.objects.expiring(within=7, on=TODAY)) == (
        {verification.pk} if expiring else set()
    )


def test_expiring_within_zero_days_is_the_graduation_day_only(school):
    today = VerificationFactory(school=school, graduation_date=TODAY)
    VerificationFactory(school=school, graduation_date=_day(1))

    assert _ids(EnrolmentVerification.objects.expiring(within=0, on=TODAY)) == {today.pk}


def test_expiring_reads_the_setting_by_default(school):
    by_30 = VerificationFactory(school=school, graduation_date=_day(30))
    VerificationFactory(school=school, graduation_date=_day(31))
    by_10 = VerificationFactory(school=school, graduation_date=_day(10))

    with at(TODAY):
        assert _ids(EnrolmentVerification.objects.expiring()) == {by_10.pk, by_30.pk}
        with override_settings(VERIFICATION_EXPIRING_DAYS=10):
            assert _ids(EnrolmentVerification.objects.expiring()) == {by_10.pk}
            assert _ids(EnrolmentVerification.objects.expiring(within=30)) == {
                by_10.pk,
                by_30.pk,
            }


# --- the one setting, read by the warning task and the coordinator's dashboard ----------------


@override_settings(VERIFICATION_EXPIRING_DAYS=10)
def test_the_setting_sets_the_warning_window(school, django_capture_on_commit_callbacks):
    in_window = VerificationFactory(school=school, graduation_date=_day(10))
    VerificationFactory(school=school, graduation_date=_day(11))

    with at(TODAY), django_capture_on_commit_callbacks(execute=True):
        assert verifications_warn_expiring() == [in_window.pk]


@override_settings(VERIFICATION_EXPIRING_DAYS=10)
def test_the_setting_sets_the_dashboard_window(client):
    coordinator = CoordinatorFactory()
    VerificationFactory(school=coordinator.school, graduation_date=_day(10))
    VerificationFactory(school=coordinator.school, graduation_date=_day(11))
    VerificationFactory(school=coordinator.school, graduation_date=_day(-1))
    login_with_second_factor(client, coordinator.user)

    with at(TODAY):
        res = client.get(reverse("frontend:coordinator-dashboard"))

    assert res.context["counts"] == {"pending": 0, "verified": 2, "expiring": 1}
    assert res.context["expiring_days"] == 10
    assert "<strong>1</strong> verification ends within 10 days" in res.content.decode()
