from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.factories import PASSWORD, CompanyMemberFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path", ["/api/v1/projects/", "/api/v1/verifications/", "/api/v1/projects/1/bids/"]
)
def test_options_describes_the_route(as_user, path):
    res = as_user(CompanyMemberFactory()).options(path)
    assert res.status_code == 200
    assert res.json()["schema"] == "/api/schema/"
    assert "application/json" in res.json()["parses"]


def test_json_nested_too_deep_is_a_400(api):
    body = "[" * 5000 + "]" * 5000
    res = api.post("/api/v1/auth/register/", body, content_type="application/json")
    assert res.status_code == 400
    assert res.json()["code"] == "parse_error"


@pytest.mark.parametrize("path", ["/api/v1/schools/abc/", "/api/v1/nowhere/", "/api/nothing"])
def test_unknown_api_paths_answer_json_404(api, path):
    res = api.get(path)
    assert res.status_code == 404
    assert res.json() == {"detail": "Not found.", "code": "not_found", "errors": {}}


def test_a_bad_token_says_why(api):
    api.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    res = api.get("/api/v1/me/")
    assert res.status_code == 401
    assert res.json()["code"] == "token_not_valid"
    assert res.json()["detail"] != "Error."


def test_sign_in_attempts_are_throttled(api, settings):
    settings.AUTH_THROTTLE_RATE = "3/minute"
    cache.clear()
    user = CompanyMemberFactory()
    codes = [
        api.post(
            "/api/v1/auth/token/", {"email": user.email, "password": "wrong"}, format="json"
        ).status_code
        for _ in range(4)
    ]
    assert codes == [401, 401, 401, 429]
    res = api.post(
        "/api/v1/auth/token/", {"email": user.email, "password": PASSWORD}, format="json"
    )
    assert res.status_code == 429
    assert res.json()["code"] == "throttled"


def test_api_docs_need_no_cdn(api):
    res = api.get("/api/docs/")
    assert res.status_code == 200
    assert b"cdn.jsdelivr.net" not in res.content
    assert b"swagger-ui" in res.content
