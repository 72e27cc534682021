"""Two-factor sign-in on the API: the token route asks for the second factor, and staff or
coordinators' tokens without one are refused. Each test is an attempt to get around it."""

from __future__ import annotations

import pytest
from django_otp.plugins.otp_static.models import StaticDevice
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from marketplace.errors import PermissionDenied, StateConflict, ValidationFailed
from marketplace.models import AuditEntry, User
from marketplace.two_factor import (
    recovery_codes_left,
    totp_device_confirm,
    totp_device_start,
    two_factor_check,
    two_factor_disable,
    two_factor_reset,
)
from tests.factories import PASSWORD, CoordinatorFactory, UserFactory
from tests.twofactor import authenticator, code_now

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"


def _token(email: str, **extra: str):  # type: ignore[no-untyped-def]
    return APIClient().post(TOKEN, {"email": email, "password": PASSWORD, **extra}, format="json")


def _turn_on(user: User) -> list[str]:
    device = totp_device_start(user=user)
    return totp_device_confirm(user=user, device_id=device.pk, code=code_now(device))


def _staff() -> User:
    return UserFactory(role=User.Role.ADMIN, is_staff=True)


def test_a_student_without_two_factor_gets_a_password_only_token():
    student = UserFactory()
    res = _token(student.email)
    assert res.status_code == 200
    assert RefreshToken(res.json()["refresh"])["amr"] == ["pwd"]


def test_an_account_with_two_factor_needs_the_code():
    student = UserFactory()
    _turn_on(student)
    res = _token(student.email)
    assert res.status_code == 401 and res.json()["code"] == "otp_required"


def test_a_wrong_code_is_refused_and_the_right_one_is_accepted():
    student = UserFactory()
    _turn_on(student)
    device = authenticator(student)
    wrong = "000000" if code_now(device, steps_ahead=1) != "000000" else "111111"
    assert _token(student.email, otp=wrong).json()["code"] == "otp_invalid"
    device.refresh_from_db()
    device.throttling_failure_timestamp = None  # the wait after one failure is over
    device.save()
    res = _token(student.email, otp=code_now(device, steps_ahead=1))
    assert res.status_code == 200
    assert RefreshToken(res.json()["refresh"])["amr"] == ["pwd", "otp"]


def test_a_code_cannot_be_replayed():
    student = UserFactory()
    _turn_on(student)
    code = code_now(authenticator(student), steps_ahead=1)
    assert _token(student.email, otp=code).status_code == 200
    again = _token(student.email, otp=code)
    assert again.status_code == 401 and again.json()["code"] == "otp_invalid"


def test_guessing_is_throttled_even_the_right_code_waits():
    student = UserFactory()
    _turn_on(student)
    device = authenticator(student)
    for guess in ("000001", "000002", "000003"):
        if guess != code_now(device, steps_ahead=1):
            _token(student.email, otp=guess)
    device.refresh_from_db()
    # The first failure starts a wait; guesses during it are refused unchecked.
    assert device.throttling_failure_count == 1
    res = _token(student.email, otp=code_now(device, steps_ahead=1))
    assert res.status_code == 401 and res.json()["code"] == "otp_invalid"
    assert "Too many wrong codes: wait" in res.json()["detail"]


def test_a_recovery_code_works_once():
    student = UserFactory()
    codes = _turn_on(student)
    assert _token(student.email, otp=codes[0].upper()).status_code == 200
    assert _token(student.email, otp=codes[0]).json()["code"] == "otp_invalid"
    assert recovery_codes_left(student) == len(codes) - 1


def test_a_recovery_code_guess_does_not_throttle_the_authenticator():
    student = UserFactory()
    _turn_on(student)
    _token(student.email, otp="notacode")
    device = authenticator(student)
    device.refresh_from_db()
    assert device.throttling_failure_count == 0
    assert StaticDevice.objects.get(user=student).throttling_failure_count == 1


@pytest.mark.parametrize("who", ["staff", "coordinator"])
def test_staff_and_coordinators_get_no_token_before_setting_it_up(who: str):
    user = _staff() if who == "staff" else CoordinatorFactory().user
    res = _token(user.email)
    assert res.status_code == 403 and res.json()["code"] == "two_factor_setup_required"


@pytest.mark.parametrize("who", ["staff", "coordinator"])
def test_a_token_minted_without_the_second_factor_is_refused(who: str):
    """A token from before two-factor sign-in was required, or made from a refresh token
    that carries no `otp`, opens nothing for staff or a coordinator."""
    user = _staff() if who == "staff" else CoordinatorFactory().user
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    res = client.get("/api/v1/me/")
    assert res.status_code == 401 and res.json()["code"] == "two_factor_required"


def test_a_coordinator_with_the_second_factor_works():
    coordinator = CoordinatorFactory().user
    _turn_on(coordinator)
    res = _token(coordinator.email, otp=code_now(authenticator(coordinator), steps_ahead=1))
    assert res.status_code == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {res.json()['access']}")
    assert client.get("/api/v1/verifications/").status_code == 200


def test_a_refreshed_token_keeps_the_second_factor():
    coordinator = CoordinatorFactory().user
    _turn_on(coordinator)
    tokens = _token(coordinator.email, otp=code_now(authenticator(coordinator), steps_ahead=1))
    res = APIClient().post(
        "/api/v1/auth/token/refresh/", {"refresh": tokens.json()["refresh"]}, format="json"
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {res.json()['access']}")
    assert client.get("/api/v1/me/").status_code == 200


def test_when_not_required_staff_sign_in_with_a_password(settings):
    settings.TWO_FACTOR_REQUIRED = False
    assert _token(_staff().email).status_code == 200


def test_the_authenticator_cannot_be_swapped_while_on():
    student = UserFactory()
    _turn_on(student)
    with pytest.raises(StateConflict):
        totp_device_start(user=student)


def test_a_wrong_first_code_does_not_turn_it_on():
    student = UserFactory()
    device = totp_device_start(user=student)
    with pytest.raises(ValidationFailed) as exc:
        totp_device_confirm(user=student, device_id=device.pk, code="12345x")
    assert exc.value.field == "code"
    assert _token(student.email).status_code == 200


def test_someone_elses_setup_cannot_be_confirmed():
    owner, intruder = UserFactory(), UserFactory()
    device = totp_device_start(user=owner)
    with pytest.raises(ValidationFailed):
        totp_device_confirm(user=intruder, device_id=device.pk, code=code_now(device))


def test_turning_off_needs_the_password_and_is_refused_to_staff():
    student = UserFactory()
    _turn_on(student)
    with pytest.raises(ValidationFailed) as exc:
        two_factor_disable(user=student, password="not-it")
    assert exc.value.field == "password"
    two_factor_disable(user=student, password=PASSWORD)
    assert _token(student.email).status_code == 200
    staff = _staff()
    _turn_on(staff)
    with pytest.raises(PermissionDenied):
        two_factor_disable(user=staff, password=PASSWORD)


def test_staff_reset_a_lost_phone_and_it_is_audited():
    coordinator, staff = CoordinatorFactory().user, _staff()
    _turn_on(coordinator)
    with pytest.raises(PermissionDenied):
        two_factor_reset(user_id=coordinator.pk, by=UserFactory(), reason="asked")
    with pytest.raises(ValidationFailed):
        two_factor_reset(user_id=coordinator.pk, by=staff, reason=" ")
    two_factor_reset(user_id=coordinator.pk, by=staff, reason="ID checked by video call")
    assert two_factor_check(user=coordinator, code="anything") is None
    entry = AuditEntry.objects.get(action="user.two_factor_reset")
    assert (entry.actor, entry.subject_id, entry.reason) == (
        staff,
        str(coordinator.pk),
        "ID checked by video call",
    )
    assert _token(coordinator.email).json()["code"] == "two_factor_setup_required"
