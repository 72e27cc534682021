"""Two-factor sign-in on the web pages: the code after the password, the set-up, and the
door that keeps staff and coordinators out until their session has a second factor."""

from __future__ import annotations

import base64
import re

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp

from marketplace.models import User
from marketplace.two_factor import totp_device_confirm, totp_device_start
from tests.factories import PASSWORD, CoordinatorFactory, UserFactory
from tests.twofactor import authenticator, code_now

pytestmark = pytest.mark.django_db

SIGNIN = reverse("frontend:signin")
CODE = reverse("frontend:signin-code")
SECURITY = reverse("frontend:security")


def _turn_on(user: User) -> list[str]:
    device = totp_device_start(user=user)
    return totp_device_confirm(user=user, device_id=device.pk, code=code_now(device))


def _password(client, user: User, next_url: str = ""):  # type: ignore[no-untyped-def]
    return client.post(SIGNIN, {"username": user.email, "password": PASSWORD, "next": next_url})


def _signed_in_as(client) -> int | None:  # type: ignore[no-untyped-def]
    return client.session.get("_auth_user_id") and int(client.session["_auth_user_id"])


def test_the_password_alone_signs_in_no_one_with_two_factor(client):
    student = UserFactory()
    _turn_on(student)
    res = _password(client, student)
    assert res.status_code == 302 and res["Location"] == CODE
    assert _signed_in_as(client) is None
    assert client.get(reverse("frontend:home")).status_code == 302  # to the sign-in page


def test_the_code_completes_the_sign_in_and_keeps_next(client):
    student = UserFactory()
    _turn_on(student)
    _password(client, student, next_url="/student/briefs/")
    res = client.post(CODE, {"code": code_now(authenticator(student), steps_ahead=1)})
    assert res.status_code == 302 and res["Location"] == "/student/briefs/"
    assert _signed_in_as(client) == student.pk


def test_next_cannot_send_the_user_to_another_site(client):
    student = UserFactory()
    _turn_on(student)
    _password(client, student, next_url="https://evil.example/phish")
    res = client.post(CODE, {"code": code_now(authenticator(student), steps_ahead=1)})
    assert "evil.example" not in res["Location"]


def test_a_wrong_code_signs_in_no_one(client):
    student = UserFactory()
    _turn_on(student)
    _password(client, student)
    right = code_now(authenticator(student), steps_ahead=1)
    res = client.post(CODE, {"code": "000000" if right != "000000" else "111111"})
    assert res.status_code == 200 and "not right" in res.content.decode()
    assert _signed_in_as(client) is None


def test_the_code_step_expires(client, settings):
    student = UserFactory()
    _turn_on(student)
    _password(client, student)
    later = timezone.now() + timezone.timedelta(seconds=settings.TWO_FACTOR_PENDING_SECONDS + 5)
    with time_machine.travel(later):
        res = client.post(CODE, {"code": code_now(authenticator(student))})
    assert res.status_code == 302 and res["Location"] == SIGNIN
    assert _signed_in_as(client) is None


def test_a_password_changed_meanwhile_voids_the_code_step(client):
    student = UserFactory()
    _turn_on(student)
    _password(client, student)
    student.set_password("another-long-passphrase-42")
    student.save()
    res = client.post(CODE, {"code": code_now(authenticator(student), steps_ahead=1)})
    assert res["Location"] == SIGNIN and _signed_in_as(client) is None


def test_the_code_page_without_a_password_step_sends_back(client):
    assert client.get(CODE)["Location"] == SIGNIN


@pytest.mark.parametrize("page", ["frontend:coordinator-dashboard", "admin:index", "frontend:home"])
def test_a_coordinator_without_two_factor_is_sent_to_set_it_up(client, page: str):
    coordinator = CoordinatorFactory().user
    _password(client, coordinator)
    res = client.get(reverse(page))
    assert res.status_code == 302 and res["Location"].startswith(SECURITY)


def test_staff_signed_in_through_the_admin_form_still_owe_the_code(client):
    staff = UserFactory(role=User.Role.ADMIN, is_staff=True, is_superuser=True)
    _turn_on(staff)
    client.force_login(staff)  # a session with the password only
    res = client.get(reverse("admin:index"))
    assert res["Location"].startswith(reverse("frontend:two-factor-verify"))
    api = client.get("/api/v1/me/")
    assert api.status_code == 403 and api.json()["code"] == "two_factor_required"
    client.post(
        reverse("frontend:two-factor-verify"),
        {"code": code_now(authenticator(staff), steps_ahead=1), "next": "/admin/"},
    )
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_coordinator_sets_it_up_and_reaches_the_pages(client):
    coordinator = CoordinatorFactory().user
    _password(client, coordinator)
    dashboard = reverse("frontend:coordinator-dashboard")
    client.post(reverse("frontend:security-start"), {"next": dashboard})
    page = client.get(SECURITY).content.decode()
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page).group(1)
    assert 'src="data:image/svg+xml' in page
    # What a person types into the app is the key itself: the code comes from it alone.
    typed = f"{totp(base64.b32decode(secret)):06d}"
    res = client.post(reverse("frontend:security-confirm"), {"code": typed, "next": dashboard})
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", res.content.decode())
    assert len(codes) == 10
    assert client.get(dashboard).status_code == 200


def test_the_demo_lets_coordinators_in_and_says_so(client, settings):
    settings.TWO_FACTOR_REQUIRED = False
    coordinator = CoordinatorFactory().user
    _password(client, coordinator)
    res = client.get(reverse("frontend:coordinator-dashboard"))
    assert res.status_code == 200
    assert "demo-banner" in res.content.decode()


def test_a_student_sees_no_demo_banner(client, settings):
    settings.TWO_FACTOR_REQUIRED = False
    client.force_login(UserFactory())
    assert "demo-banner" not in client.get(reverse("frontend:home")).content.decode()


def test_turning_it_off_needs_the_password(client):
    student = UserFactory()
    _turn_on(student)
    _password(client, student)
    client.post(CODE, {"code": code_now(authenticator(student), steps_ahead=1)})
    client.post(reverse("frontend:security-disable"), {"password": "not-it"})
    assert authenticator(student).confirmed
    client.post(reverse("frontend:security-disable"), {"password": PASSWORD})
    client.post(reverse("frontend:signout"))
    assert _password(client, student)["Location"] != CODE


def test_the_account_page_links_the_accounts_own_pages(client):
    student = UserFactory()
    client.force_login(student)
    html = client.get(reverse("frontend:account")).content.decode()
    for name in ("frontend:security", "frontend:password-change", "frontend:account-data"):
        assert f'href="{reverse(name)}"' in html
    assert "Two-factor sign-in is off." in html
    assert f'href="{reverse("frontend:account")}"' in client.get("/student/").text


def test_while_throttled_the_page_says_to_wait_not_that_the_code_is_wrong(client):
    student = UserFactory()
    _turn_on(student)
    _password(client, student)
    device = authenticator(student)
    right = code_now(device, steps_ahead=1)
    client.post(CODE, {"code": "000000" if right != "000000" else "111111"})
    res = client.post(CODE, {"code": right})
    assert "Too many wrong codes: wait" in res.content.decode()
    assert _signed_in_as(client) is None
