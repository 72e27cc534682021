from __future__ import annotations

import pytest

from marketplace.models import Company, StudentProfile, User
from tests.factories import PASSWORD, CompanyMemberFactory, StudentFactory

pytestmark = pytest.mark.django_db

SIGNUP = {
    "role": "company",
    "first_name": "Claire",
    "last_name": "Martin",
    "company_name": "Atelier Lumière",
    "email": "Claire@Atelier.example",
    "password": "a-long-passphrase-42",
}


def test_a_company_member_signs_up_with_their_company_and_is_signed_in(client):
    res = client.post("/signup/", SIGNUP, follow=True)
    assert [url for url, _ in res.redirect_chain] == ["/home/", "/company/"]
    assert "Welcome! Your account is ready." in res.content.decode()
    user = User.objects.get(email="claire@atelier.example")
    assert res.context["user"] == user
    assert Company.objects.get(memberships__user=user).name == "Atelier Lumière"


def test_a_student_signs_up_without_a_company(client):
    data = {**SIGNUP, "role": "student", "company_name": "", "email": "lea@example.com"}
    client.post("/signup/", data)
    user = User.objects.get(email="lea@example.com")
    assert user.role == User.Role.STUDENT
    assert StudentProfile.objects.filter(user=user).exists()
    assert not Company.objects.exists()


@pytest.mark.parametrize(
    ("change", "field", "error"),
    [
        ({"company_name": " "}, "company_name", "A company needs a name."),
        ({"password": "12345678"}, "password", "This password is too common."),
        ({"email": "not-an-address"}, "email", "Enter a valid email address."),
        ({"role": "admin"}, "role", "Select a valid choice."),
    ],
)
def test_bad_sign_up_shows_the_field_error_and_creates_nothing(client, change, field, error):
    res = client.post("/signup/", {**SIGNUP, **change})
    assert res.status_code == 200
    assert error in " ".join(res.context["form"].errors[field])
    html = res.content.decode()
    assert f'id="id_{field}_error"' in html or field == "role"
    assert not User.objects.exists()


def test_a_taken_email_is_refused_whatever_its_case(client):
    CompanyMemberFactory(email="claire@atelier.example")
    res = client.post("/signup/", {**SIGNUP, "email": "CLAIRE@atelier.example"})
    assert res.context["form"].errors["email"] == ["An account with this e-mail already exists."]
    assert User.objects.count() == 1


def test_sign_in_matches_the_email_whatever_its_case_and_sign_out_is_a_post(client):
    StudentFactory(email="lea@example.com")
    res = client.post(
        "/signin/", {"username": "LEA@Example.com", "password": PASSWORD}, follow=True
    )
    assert "You are signed in." in res.content.decode()
    assert res.context["user"].email == "lea@example.com"
    assert client.get("/signout/").status_code == 405
    res = client.post("/signout/", follow=True)
    assert "You are signed out." in res.content.decode()
    assert not res.context["user"].is_authenticated


def test_a_wrong_password_is_refused(client):
    StudentFactory(email="lea@example.com")
    res = client.post("/signin/", {"username": "lea@example.com", "password": "wrong"})
    assert res.status_code == 200
    assert "This e-mail and password do not match an account." in res.content.decode()


def test_forms_carry_a_csrf_token_and_posts_without_it_are_refused():
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert 'name="csrfmiddlewaretoken"' in strict.get("/signup/").content.decode()
    assert strict.post("/signup/", SIGNUP).status_code == 403
    assert not User.objects.exists()


def test_the_language_switcher_sets_french(client):
    res = client.post("/language/", {"language": "fr", "next": "/signup/"}, follow=True)
    html = res.content.decode()
    assert '<html lang="fr">' in html
    assert "Créez votre compte" in html


def test_pages_needing_a_sign_in_redirect_to_it(client):
    res = client.get("/home/")
    assert res.status_code == 302
    assert res["Location"] == "/signin/?next=/home/"
