from __future__ import annotations

import jwt
import pytest
from django.db import connections
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from marketplace.credentials import token_refresh, user_tokens_revoke
from marketplace.models import User
from tests.concurrency import postgresql_only, run_at_once
from tests.factories import PASSWORD, StudentFactory, UserFactory

pytestmark = pytest.mark.django_db

REFRESH = "/api/v1/auth/token/refresh/"
LOGOUT = "/api/v1/auth/logout/"


def sign_in(api: APIClient, user: User) -> dict[str, str]:
    res = api.post("/api/v1/auth/token/", {"email": user.email, "password": PASSWORD})
    assert res.status_code == 200, res.content
    return res.json()


def refresh(api: APIClient, token: str):  # type: ignore[no-untyped-def]
    return api.post(REFRESH, {"refresh": token})


def me(access: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get("/api/v1/me/").status_code


def refused(res) -> None:  # type: ignore[no-untyped-def]
    assert res.status_code == 401, res.content
    assert res.json()["code"] == "token_not_valid"
    assert res["WWW-Authenticate"].startswith("Bearer")


def test_refresh_rotates_and_the_new_pair_works(api):
    pair = sign_in(api, StudentFactory())
    res = refresh(api, pair["refresh"])
    assert res.status_code == 200, res.content
    body = res.json()
    assert body["refresh"] != pair["refresh"]
    assert me(body["access"]) == 200
    assert refresh(api, body["refresh"]).status_code == 200


def test_reusing_a_rotated_refresh_token_revokes_every_token_of_the_user(api):
    user = StudentFactory()
    stolen = sign_in(api, user)["refresh"]
    other_device = sign_in(api, user)["refresh"]
    rotated = refresh(api, stolen).json()["refresh"]

    refused(refresh(api, stolen))

    refused(refresh(api, rotated))
    refused(refresh(api, other_device))
    assert not OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True).exists()
    assert sign_in(api, user)["refresh"]


def test_reuse_does_not_touch_other_users(api):
    user, bystander = StudentFactory(), StudentFactory()
    stolen = sign_in(api, user)["refresh"]
    theirs = sign_in(api, bystander)["refresh"]
    refresh(api, stolen)
    refused(refresh(api, stolen))
    assert refresh(api, theirs).status_code == 200


def test_access_and_refresh_die_when_the_password_changes_elsewhere(api):
    user = StudentFactory()
    pair = sign_in(api, user)
    user.set_password("another-long-passphrase-42")
    user.save()
    assert me(pair["access"]) == 401
    refused(refresh(api, pair["refresh"]))
    # Refused for the password, not as a reuse: a token issued afterwards still works.
    fresh = api.post(
        "/api/v1/auth/token/", {"email": user.email, "password": "another-long-passphrase-42"}
    ).json()
    refused(refresh(api, pair["refresh"]))
    assert refresh(api, fresh["refresh"]).status_code == 200


def test_inactive_users_tokens_are_refused_and_reactivation_does_not_revive_them(api):
    user = StudentFactory()
    pair = sign_in(api, user)
    user.is_active = False
    user.save()
    assert me(pair["access"]) == 401
    refused(refresh(api, pair["refresh"]))
    user_tokens_revoke(user=user)

    user.is_active = True
    user.save()

    refused(refresh(api, pair["refresh"]))
    assert me(sign_in(api, user)["access"]) == 200


def test_deactivation_through_the_user_admin_revokes_the_tokens(api, settings):
    settings.TWO_FACTOR_REQUIRED = False
    staff = UserFactory(is_staff=True, is_superuser=True, role=User.Role.ADMIN)
    user = StudentFactory()
    pair = sign_in(api, user)
    browser = Client()
    browser.force_login(staff)
    url = f"/admin/marketplace/user/{user.pk}/change/"
    form = browser.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "password"}
    data.update(
        is_active="",
        access_reason="Fraud",
        groups=[],
        user_permissions=[],
        date_joined_0=user.date_joined.strftime("%Y-%m-%d"),
        date_joined_1=user.date_joined.strftime("%H:%M:%S"),
    )
    data.pop("date_joined", None)
    data.pop("last_login", None)
    res = browser.post(url, data)
    assert res.status_code == 302, res.context["adminform"].form.errors if res.context else res

    user.refresh_from_db()
    assert not user.is_active
    assert BlacklistedToken.objects.filter(token__user=user).exists()
    user.is_active = True
    user.save()
    refused(refresh(api, pair["refresh"]))


def test_refresh_token_of_a_deleted_user_is_refused_not_a_crash(api):
    user = StudentFactory()
    pair = sign_in(api, user)
    user.delete()
    refused(refresh(api, pair["refresh"]))
    assert me(pair["access"]) == 401


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "x",
        "a.b.c",
        "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoxfQ.",
        "é" * 50,
        "\x00",
    ],
)
def test_garbage_refresh_tokens_answer_4xx_never_500(api, garbage):
    res = refresh(api, garbage)
    assert res.status_code in (400, 401), res.content
    res = api.post(LOGOUT, {"refresh": garbage})
    assert res.status_code in (400, 401), res.content


def _forged(user: User, **claims) -> str:  # type: ignore[no-untyped-def]
    token = RefreshToken.for_user(user)
    for name, value in claims.items():
        token[name] = value
    return str(token)


def test_forged_tokens_are_refused(api, settings):
    user = StudentFactory()
    pair = sign_in(api, user)
    head, body, sig = pair["refresh"].split(".")
    refused(refresh(api, f"{head}.{body}.{sig[::-1]}"))
    # The claims of a recorded token, re-signed with another key.
    forged = RefreshToken(pair["refresh"])
    forged["user_id"] = str(StudentFactory().pk)
    other_key = "not-the-signing-key-of-this-site-0123456789"
    refused(refresh(api, jwt.encode(forged.payload, other_key, algorithm="HS256")))
    # A correctly signed token whose id is not recorded (minted outside sign-in).
    unrecorded = RefreshToken.for_user(user)
    OutstandingToken.objects.filter(jti=unrecorded["jti"]).delete()
    refused(refresh(api, str(unrecorded)))
    # Nonsense user ids and an access token in the refresh's place.
    for user_id in ("-1", "99999999999999999999999", "abc", None):
        refused(refresh(api, _forged(user, user_id=user_id)))
    refused(refresh(api, str(AccessToken.for_user(user))))


def test_logout_then_refresh_is_refused_and_logout_is_idempotent(api):
    user = StudentFactory()
    pair = sign_in(api, user)
    other = sign_in(api, user)

    assert api.post(LOGOUT, {"refresh": pair["refresh"]}).status_code == 205
    assert api.post(LOGOUT, {"refresh": pair["refresh"]}).status_code == 205

    refused(refresh(api, pair["refresh"]))
    refused(api.post(LOGOUT, {"refresh": "nope"}))
    assert api.post(LOGOUT, {}).status_code == 400
    # The presented logged-out token counts as reuse: the other session ends too.
    refused(refresh(api, other["refresh"]))


def test_logout_needs_no_access_token_even_with_a_bad_one(api):
    pair = sign_in(api, StudentFactory())
    api.credentials(HTTP_AUTHORIZATION="Bearer garbage")
    assert api.post(LOGOUT, {"refresh": pair["refresh"]}).status_code == 205


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_double_refresh_of_one_token_lets_exactly_one_through():
    user = StudentFactory()
    raw = str(RefreshToken.for_user(user))

    outcomes = run_at_once(*[lambda: token_refresh(refresh=raw)] * 4)

    assert sum(isinstance(o, dict) for o in outcomes) == 1, outcomes
    assert all(isinstance(o, dict) or o.status_code == 401 for o in outcomes), outcomes
    connections.close_all()
