from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from schools.models import EnrolmentVerification
from schools.services import verification_reject, verification_token_make
from tests.factories import CoordinatorFactory, VerificationFactory

pytestmark = pytest.mark.django_db

V = EnrolmentVerification.Status


@pytest.fixture
def verification() -> EnrolmentVerification:
    return VerificationFactory(status=V.PENDING_EMAIL, email_confirmed_at=None, decided_at=None)


def _url(verification: EnrolmentVerification) -> str:
    return f"/verify/{verification_token_make(verification=verification)}/"


def test_opening_the_link_asks_to_confirm_and_confirms_nothing(client, verification):
    res = client.get(_url(verification))

    assert res.status_code == 200
    html = res.content.decode()
    assert "<h1>Confirm your school address</h1>" in html
    assert verification.school_email in html and verification.school.name in html
    assert '<form method="post"' in html and "csrfmiddlewaretoken" in html
    assert '<button type="submit">Confirm my school address</button>' in html
    verification.refresh_from_db()
    assert (verification.status, verification.email_confirmed_at) == (V.PENDING_EMAIL, None)


def test_the_button_confirms_the_address(client, verification):
    res = client.post(_url(verification))

    assert res.status_code == 200
    html = res.content.decode()
    assert "<h1>Address confirmed</h1>" in html
    assert "will now review your request" in html
    verification.refresh_from_db()
    assert verification.status == V.PENDING_REVIEW
    assert verification.email_confirmed_at is not None


def test_the_confirmation_needs_the_csrf_token(verification):
    res = Client(enforce_csrf_checks=True).post(_url(verification))

    assert res.status_code == 403
    verification.refresh_from_db()
    assert verification.status == V.PENDING_EMAIL


def test_a_confirmed_address_is_said_so_without_a_button(client, verification):
    url = _url(verification)
    client.post(url)

    html = client.get(url).content.decode()

    assert "<h1>Address confirmed</h1>" in html
    assert "Confirm my school address" not in html


@pytest.mark.parametrize(
    "token",
    ["not-a-token", "eyJ2IjoxfQ:1abcde:forged"],
)
def test_a_bad_link_is_said_so_on_opening(client, token):
    res = client.get(f"/verify/{token}/")

    assert res.status_code == 400
    html = res.content.decode()
    assert "<h1>This link did not work</h1>" in html
    assert "This link is not valid." in html
    assert "Confirm my school address" not in html


def test_an_expired_link_is_said_so_on_opening(client, verification):
    url = _url(verification)
    late = timezone.now() + dt.timedelta(seconds=settings.VERIFICATION_LINK_MAX_AGE + 60)

    with time_machine.travel(late):
        res = client.get(url)

    assert res.status_code == 400
    assert "This link has expired; ask for a new one." in res.content.decode()


def test_a_decided_request_offers_nothing_to_confirm(client, verification):
    coordinator = CoordinatorFactory(school=verification.school).user
    verification_reject(verification_id=verification.pk, by=coordinator, reason="Not enrolled")
    url = _url(verification)

    html = client.get(url).content.decode()
    assert "This request is already closed (Declined)" in html
    assert "Confirm my school address" not in html

    res = client.post(url)
    assert res.status_code == 400
    assert "This request is already rejected." in res.content.decode()


def test_the_page_speaks_french(client, verification):
    client.post("/language/", {"language": "fr", "next": "/"})

    html = client.get(_url(verification)).content.decode()

    assert '<html lang="fr">' in html
    assert "Confirmer mon adresse d’école" in html
    assert "rien n’est confirmé tant que vous n’appuyez pas sur le bouton" in html


def test_the_page_says_whose_request_it_is_and_warns_a_stranger(client, verification):
    student = verification.student
    student.first_name, student.last_name = "Ada", "Lovelace"
    student.save(update_fields=["first_name", "last_name"])

    html = client.get(_url(verification)).content.decode()

    assert (
        f"This request comes from the account of Ada Lovelace ({escape(student.email)}), who asks "
        f"to be verified as a student of {escape(verification.school.name)} with this address."
    ) in html
    assert "<strong>If this is not you, do not confirm.</strong>" in html
    assert html.index("do not confirm") < html.index("Confirm my school address</button>")


def test_the_warning_speaks_french(client, verification):
    client.post("/language/", {"language": "fr", "next": "/"})

    html = client.get(_url(verification)).content.decode()

    assert "Si ce n’est pas vous, ne confirmez pas." in html
    assert f"({escape(verification.student.email)})" in html
