from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.cache import cache
from rest_framework.test import APIClient

from marketplace.credentials import password_reset_link
from marketplace.models import OutboundEmail
from tests.factories import PASSWORD, StudentFactory

pytestmark = pytest.mark.django_db

NEW = "a-brand-new-passphrase-77"
CHANGE = "/api/v1/auth/password/change/"
RESET = "/api/v1/auth/password/reset/"
CONFIRM = "/api/v1/auth/password/reset/confirm/"


def sign_in(api, user, password=PASSWORD):  # type: ignore[no-untyped-def]
    return api.post("/api/v1/auth/token/", {"email": user.email, "password": password})


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def bad(res, field: str) -> None:  # type: ignore[no-untyped-def]
    assert res.status_code == 400, res.content
    assert field in res.json()["errors"], res.json()


def link_parts(link: str) -> tuple[str, str]:
    uid, token = re.search(r"/accounts/reset/([^/]+)/([^/]+)/", link).groups()
    return uid, token


def test_change_password_ends_old_tokens_and_answers_a_working_pair(api):
    user = StudentFactory()
    old = sign_in(api, user).json()
    other = sign_in(api, user).json()

    res = bearer(old["access"]).post(CHANGE, {"old_password": PASSWORD, "new_password": NEW})

    assert res.status_code == 200, res.content
    fresh = res.json()
    assert bearer(fresh["access"]).get("/api/v1/me/").status_code == 200
    assert bearer(old["access"]).get("/api/v1/me/").status_code == 401
    for refresh in (old["refresh"], other["refresh"]):
        assert api.post("/api/v1/auth/token/refresh/", {"refresh": refresh}).status_code == 401
    assert api.post("/api/v1/auth/token/refresh/", {"refresh": fresh["refresh"]}).status_code == 200
    assert sign_in(api, user).status_code == 401
    assert sign_in(api, user, NEW).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"old_password": "wrong-one", "new_password": NEW}, "old_password"),
        ({"old_password": "", "new_password": NEW}, "old_password"),
        ({"old_password": PASSWORD, "new_password": "123"}, "new_password"),
        ({"old_password": PASSWORD, "new_password": "password"}, "new_password"),
        ({"old_password": PASSWORD}, "new_password"),
    ],
)
def test_change_password_refusals_name_the_field_and_change_nothing(api, body, field):
    user = StudentFactory()
    pair = sign_in(api, user).json()
    bad(bearer(pair["access"]).post(CHANGE, body), field)
    assert bearer(pair["access"]).get("/api/v1/me/").status_code == 200
    assert sign_in(api, user).status_code == 200


def test_change_password_needs_a_signed_in_caller(api):
    assert api.post(CHANGE, {"old_password": PASSWORD, "new_password": NEW}).status_code == 401


def test_reset_for_a_known_and_an_unknown_email_answer_alike(
    api, django_capture_on_commit_callbacks
):
    user = StudentFactory(language="fr", first_name="Léa")
    with django_capture_on_commit_callbacks(execute=True):
        known = api.post(RESET, {"email": user.email.upper()})
    with django_capture_on_commit_callbacks(execute=True):
        unknown = api.post(RESET, {"email": "nobody@example.com"})

    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert [m.to for m in mail.outbox] == [[user.email]]
    message = mail.outbox[0]
    assert "mot de passe" in message.subject
    assert "/accounts/reset/" in message.body
    assert OutboundEmail.objects.filter(to="nobody@example.com").count() == 0


def test_reset_sends_nothing_to_an_inactive_account(api, django_capture_on_commit_callbacks):
    user = StudentFactory(is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(RESET, {"email": user.email}).status_code == 202
    assert mail.outbox == []


def test_repeated_reset_requests_send_one_email(api, django_capture_on_commit_callbacks):
    user = StudentFactory()
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            api.post(RESET, {"email": user.email})
    assert len(mail.outbox) == 1


def test_reset_confirm_sets_the_password_ends_everything_and_dies_once_used(api):
    user = StudentFactory()
    pair = sign_in(api, user).json()
    uid, token = link_parts(password_reset_link(user=user))

    res = api.post(CONFIRM, {"uid": uid, "token": token, "new_password": NEW})

    assert res.status_code == 200, res.content
    assert bearer(pair["access"]).get("/api/v1/me/").status_code == 401
    assert api.post("/api/v1/auth/token/refresh/", {"refresh": pair["refresh"]}).status_code == 401
    assert sign_in(api, user, NEW).status_code == 200
    bad(
        api.post(CONFIRM, {"uid": uid, "token": token, "new_password": "yet-another-one-99"}),
        "token",
    )
    assert sign_in(api, user, NEW).status_code == 200


def test_reset_token_of_one_user_does_not_work_with_another_uid(api):
    alice, bob = StudentFactory(), StudentFactory()
    _, alice_token = link_parts(password_reset_link(user=alice))
    bob_uid, _ = link_parts(password_reset_link(user=bob))
    bad(api.post(CONFIRM, {"uid": bob_uid, "token": alice_token, "new_password": NEW}), "token")
    assert sign_in(api, bob).status_code == 200


def test_expired_reset_token_is_refused(api, settings, time_machine):
    user = StudentFactory()
    time_machine.move_to("2026-01-10 09:00Z")
    uid, token = link_parts(password_reset_link(user=user))
    time_machine.shift(settings.PASSWORD_RESET_TIMEOUT + 60)
    bad(api.post(CONFIRM, {"uid": uid, "token": token, "new_password": NEW}), "token")


@pytest.mark.parametrize(
    "uid", ["", "!!!", "MTI", "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5", "LTE", "w6k", "\x00"]
)
def test_nonsense_reset_links_are_400_naming_the_token(api, uid):
    res = api.post(CONFIRM, {"uid": uid, "token": "abc-123", "new_password": NEW})
    assert res.status_code == 400, res.content


def test_weak_password_with_a_good_link_names_new_password_and_keeps_the_link(api):
    user = StudentFactory()
    uid, token = link_parts(password_reset_link(user=user))
    bad(api.post(CONFIRM, {"uid": uid, "token": token, "new_password": "123"}), "new_password")
    assert api.post(CONFIRM, {"uid": uid, "token": token, "new_password": NEW}).status_code == 200


def test_reset_requests_are_throttled(api, settings):
    settings.AUTH_THROTTLE_RATE = "3/minute"
    cache.clear()
    codes = [api.post(RESET, {"email": "x@example.com"}).status_code for _ in range(5)]
    cache.clear()
    assert codes[:3] == [202] * 3
    assert codes[3:] == [429] * 2


def test_coordinator_invitation_uses_the_reset_link(api):
    from schools.services import coordinator_invitation_link

    user = StudentFactory()
    uid, token = link_parts(coordinator_invitation_link(user=user))
    assert api.post(CONFIRM, {"uid": uid, "token": token, "new_password": NEW}).status_code == 200


def test_the_schema_lists_the_new_endpoints(api):
    schema = api.get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    assert set(paths["/api/v1/auth/logout/"]["post"]["responses"]) >= {"205", "400", "401"}
    assert set(paths["/api/v1/auth/password/change/"]["post"]["responses"]) >= {
        "200",
        "400",
        "401",
        "429",
    }
    assert set(paths["/api/v1/auth/password/reset/"]["post"]["responses"]) >= {"202", "400", "429"}
    assert set(paths["/api/v1/auth/password/reset/confirm/"]["post"]["responses"]) >= {"200", "400"}
    refresh = paths["/api/v1/auth/token/refresh/"]["post"]["responses"]["200"]
    ref = refresh["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][ref]["properties"]) >= {"access", "refresh"}
