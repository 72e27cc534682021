from __future__ import annotations

import pytest

from marketplace.errors import ValidationFailed
from marketplace.models import StudentProfile
from marketplace.services import student_profile_update
from tests.factories import CompanyMemberFactory, StudentFactory, VerifiedStudentFactory

pytestmark = pytest.mark.django_db

LINKS = ["https://github.com/lea", "http://lea.example/work"]


def test_the_service_keeps_the_links_stripped_and_without_repeats():
    user = StudentFactory()
    student_profile_update(user=user, portfolio_links=[" https://github.com/lea ", *LINKS, ""])
    assert StudentProfile.objects.get(user=user).portfolio_links == LINKS


@pytest.mark.parametrize(
    "links",
    [
        ["ftp://lea.example/files"],
        ["javascript:alert(1)"],
        ["not a link"],
        [f"https://lea.example/{n}" for n in range(6)],
        "https://github.com/lea",
        [42],
    ],
)
def test_the_service_refuses_bad_links_and_changes_nothing(links):
    user = StudentFactory()
    student_profile_update(user=user, portfolio_links=LINKS)
    with pytest.raises(ValidationFailed) as exc:
        student_profile_update(user=user, headline="Changed", portfolio_links=links)
    assert exc.value.field == "portfolio_links"
    profile = StudentProfile.objects.get(user=user)
    assert profile.portfolio_links == LINKS
    assert profile.headline != "Changed"


def test_the_api_reads_and_changes_the_links(as_user):
    client = as_user(StudentFactory())
    assert client.get("/api/v1/students/me/").json()["portfolio_links"] == []
    res = client.patch("/api/v1/students/me/", {"portfolio_links": LINKS}, format="json")
    assert res.status_code == 200, res.content
    assert res.json()["portfolio_links"] == LINKS
    assert client.get("/api/v1/students/me/").json()["portfolio_links"] == LINKS


@pytest.mark.parametrize(
    "links",
    [
        ["ftp://lea.example/files"],
        ["not a link"],
        [f"https://lea.example/{n}" for n in range(6)],
    ],
)
def test_the_api_answers_400_on_the_field_for_bad_links(as_user, links):
    client = as_user(StudentFactory())
    res = client.patch("/api/v1/students/me/", {"portfolio_links": links}, format="json")
    assert res.status_code == 400, res.content
    assert any(key.startswith("portfolio_links") for key in res.json()["errors"])
    assert client.get("/api/v1/students/me/").json()["portfolio_links"] == []


def test_the_public_profile_shows_the_links(as_user):
    student = VerifiedStudentFactory()
    student_profile_update(user=student, portfolio_links=LINKS)
    res = as_user(CompanyMemberFactory()).get(f"/api/v1/students/{student.pk}/")
    assert res.status_code == 200, res.content
    assert res.json()["portfolio_links"] == LINKS
