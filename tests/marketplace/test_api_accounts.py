from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from marketplace.models import Company, StudentProfile, User
from tests.factories import (
    PASSWORD,
    CompanyMemberFactory,
    CoordinatorFactory,
    SkillFactory,
    StudentFactory,
    VerifiedStudentFactory,
)

pytestmark = pytest.mark.django_db

STUDENT = {
    "email": "lea@mail.test",
    "password": PASSWORD,
    "role": "student",
    "first_name": "Léa",
    "last_name": "Martin",
}
COMPANY = {
    "email": "boss@acme.test",
    "password": PASSWORD,
    "role": "company",
    "first_name": "Ada",
    "last_name": "Boss",
    "company_name": "Acme",
}


def _accounts() -> tuple[int, int, int]:
    return User.objects.count(), Company.objects.count(), StudentProfile.objects.count()


def _bad(res, field: str) -> None:  # type: ignore[no-untyped-def]
    assert res.status_code == 400, res.content
    body = res.json()
    assert body["code"] == "invalid"
    assert field in body["errors"], body
    assert body["errors"][field]


def test_register_then_sign_in_at_once(api):  # type: ignore[no-untyped-def]
    res = api.post("/api/v1/auth/register/", {**COMPANY, "email": "Boss@Acme.test"}, format="json")
    assert res.status_code == 201, res.content
    assert res.json()["role"] == "company"
    assert res.json()["email"] == "boss@acme.test"
    assert "password" not in res.json()
    for typed in ("boss@acme.test", "BOSS@ACME.TEST"):
        res = api.post("/api/v1/auth/token/", {"email": typed, "password": PASSWORD}, format="json")
        assert res.status_code == 200, res.content
    res = api.post(
        "/api/v1/auth/token/", {"email": "Boss@Acme.test", "password": PASSWORD}, format="json"
    )
    assert res.status_code == 200, res.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {res.json()['access']}")
    me = client.get("/api/v1/me/").json()
    assert me["company"]["name"] == "Acme"
    assert me["student_profile"] is None
    refreshed = api.post(
        "/api/v1/auth/token/refresh/", {"refresh": res.json()["refresh"]}, format="json"
    )
    assert refreshed.status_code == 200 and refreshed.json()["access"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": "taken@mail.test"}, "email"),
        ({"email": "TAKEN@Mail.test"}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email": ""}, "email"),
        ({"password": "123"}, "password"),
        ({"password": "password"}, "password"),
        ({"password": "lea@mail.test"}, "password"),
        ({"password": ""}, "password"),
        ({"role": "admin"}, "role"),
        ({"role": "coordinator"}, "role"),
        ({"role": ""}, "role"),
        ({"role": "company"}, "company_name"),
        ({"role": "company", "company_name": "   "}, "company_name"),
        ({"first_name": ""}, "first_name"),
        ({"first_name": "Lé\x00a"}, "first_name"),
        ({"last_name": "x" * 151}, "last_name"),
    ],
)
def test_register_refuses_bad_input_naming_the_field(api, changes, field):  # type: ignore[no-untyped-def]
    StudentFactory(email="taken@mail.test")
    before = _accounts()
    res = api.post("/api/v1/auth/register/", {**STUDENT, **changes}, format="json")
    _bad(res, field)
    assert _accounts() == before


def test_register_ignores_attempts_to_become_staff(api):  # type: ignore[no-untyped-def]
    res = api.post(
        "/api/v1/auth/register/", {**STUDENT, "is_staff": True, "is_superuser": True}, format="json"
    )
    assert res.status_code == 201, res.content
    user = User.objects.get(email=STUDENT["email"])
    assert not user.is_staff and not user.is_superuser
    assert user.role == User.Role.STUDENT


@pytest.mark.parametrize("field", ["email", "password", "role", "first_name", "last_name"])
def test_register_requires_every_field(api, field):  # type: ignore[no-untyped-def]
    body = {k: v for k, v in STUDENT.items() if k != field}
    _bad(api.post("/api/v1/auth/register/", body, format="json"), field)


@pytest.mark.parametrize(
    "credentials",
    [
        {"email": "user@mail.test", "password": "wrong-password"},
        {"email": "nobody@mail.test", "password": PASSWORD},
    ],
)
def test_token_refuses_wrong_credentials(api, credentials):  # type: ignore[no-untyped-def]
    StudentFactory(email="user@mail.test")
    res = api.post("/api/v1/auth/token/", credentials, format="json")
    assert res.status_code == 401, res.content
    assert res.json()["code"] == "no_active_account"
    assert "access" not in res.json()


def test_an_inactive_account_gets_no_token(api):  # type: ignore[no-untyped-def]
    StudentFactory(email="gone@mail.test", is_active=False)
    res = api.post(
        "/api/v1/auth/token/", {"email": "gone@mail.test", "password": PASSWORD}, format="json"
    )
    assert res.status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": PASSWORD}, "email"),
        ({"email": "user@mail.test"}, "password"),
        ({"email": "user\x00@mail.test", "password": PASSWORD}, "email"),
    ],
)
def test_token_refuses_malformed_requests(api, body, field):  # type: ignore[no-untyped-def]
    _bad(api.post("/api/v1/auth/token/", body, format="json"), field)


@pytest.mark.parametrize("refresh", ["garbage", "a.b.c"])
def test_refresh_refuses_a_bad_token(api, refresh):  # type: ignore[no-untyped-def]
    res = api.post("/api/v1/auth/token/refresh/", {"refresh": refresh}, format="json")
    assert res.status_code == 401, res.content
    assert "access" not in res.json()


def test_an_access_token_cannot_be_used_to_refresh(api):  # type: ignore[no-untyped-def]
    StudentFactory(email="user@mail.test")
    tokens = api.post(
        "/api/v1/auth/token/", {"email": "user@mail.test", "password": PASSWORD}, format="json"
    ).json()
    res = api.post("/api/v1/auth/token/refresh/", {"refresh": tokens["access"]}, format="json")
    assert res.status_code == 401


def test_a_forged_bearer_token_is_401(api):  # type: ignore[no-untyped-def]
    api.credentials(HTTP_AUTHORIZATION="Bearer not.a.jwt")
    assert api.get("/api/v1/me/").status_code == 401


@pytest.mark.parametrize("role", ["student", "company", "coordinator"])
def test_me_describes_the_caller(as_user, role):  # type: ignore[no-untyped-def]
    if role == "student":
        user = VerifiedStudentFactory()
    elif role == "company":
        user = CompanyMemberFactory()
    else:
        user = CoordinatorFactory().user
    me = as_user(user).get("/api/v1/me/").json()
    assert me["id"] == user.pk
    assert me["role"] == role
    assert (me["student_profile"] is not None) is (role == "student")
    assert (me["company"] is not None) is (role == "company")
    assert (me["school_id"] is not None) is (role == "coordinator")


@pytest.fixture
def student(as_user):  # type: ignore[no-untyped-def]
    SkillFactory(name="Python", slug="python")
    SkillFactory(name="Django", slug="django")
    user = StudentFactory()
    client = as_user(user)
    res = client.patch(
        "/api/v1/students/me/",
        {"headline": "Django dev", "skills": ["python"], "day_rate_cents": 30_000},
        format="json",
    )
    assert res.status_code == 200, res.content
    return client


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"headline": "Changed", "skills": ["python", "cobol"]}, "skills"),
        ({"skills": ["Not A Slug"]}, "skills.0"),
        ({"skills": "python"}, "skills"),
        ({"day_rate_cents": -1}, "day_rate_cents"),
        ({"day_rate_cents": "abc"}, "day_rate_cents"),
        ({"day_rate_cents": 10**12}, "day_rate_cents"),
        ({"currency": "XXX"}, "currency"),
        ({"availability": "sometimes"}, "availability"),
        ({"headline": "x" * 201}, "headline"),
        ({"bio": "a\x00b"}, "bio"),
    ],
)
def test_profile_refuses_bad_input_and_keeps_the_old_values(student, body, field):  # type: ignore[no-untyped-def]
    before = student.get("/api/v1/students/me/").json()
    res = student.patch("/api/v1/students/me/", body, format="json")
    _bad(res, field)
    assert student.get("/api/v1/students/me/").json() == before


def test_the_unknown_skill_is_named(student):  # type: ignore[no-untyped-def]
    res = student.patch("/api/v1/students/me/", {"skills": ["cobol", "python"]}, format="json")
    assert "cobol" in res.json()["errors"]["skills"][0]


def test_profile_changes_are_saved(student):  # type: ignore[no-untyped-def]
    res = student.patch(
        "/api/v1/students/me/",
        {"skills": ["django", "python"], "availability": "busy", "day_rate_cents": None},
        format="json",
    )
    assert res.status_code == 200, res.content
    profile = student.get("/api/v1/students/me/").json()
    assert profile["skills"] == ["django", "python"]
    assert profile["availability"] == "busy"
    assert profile["day_rate_cents"] is None
    assert profile["headline"] == "Django dev"
