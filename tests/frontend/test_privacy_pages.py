from __future__ import annotations

import io
import re
import zipfile

import pytest
from django.core.cache import cache
from django.urls import reverse

from marketplace.models import User
from tests.factories import PASSWORD, VerifiedStudentFactory
from tests.factories.contracts import active_contract

pytestmark = pytest.mark.django_db

DATA = reverse("frontend:account-data")
EXPORT = reverse("frontend:account-data-export")
ERASE = reverse("frontend:account-erase")
INLINE = re.compile(r"<script(?![^>]*\bsrc=)|\sstyle=|\son[a-z]+=", re.IGNORECASE)


@pytest.fixture(autouse=True)
def fresh_throttle():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def student_client(client):  # type: ignore[no-untyped-def]
    student = VerifiedStudentFactory()
    client.force_login(student)
    client.user = student
    return client


def _content(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


def test_the_pages_need_a_signed_in_user(client):
    for url in (DATA, ERASE):
        response = client.get(url)
        assert response.status_code == 302 and "signin" in response["Location"]


def test_your_data_page_lists_the_sections_and_links_to_erasure(student_client):
    response = student_client.get(DATA)

    assert response.status_code == 200
    html = _content(response)
    assert EXPORT in html and ERASE in html
    assert "payments" in html and "messages" in html
    assert not INLINE.search(html.split("<main", 1)[-1])


def test_download_gives_the_zip(student_client):
    response = student_client.post(EXPORT)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    assert "data.json" in zipfile.ZipFile(io.BytesIO(response.content)).namelist()


def test_download_is_post_only(student_client):
    assert student_client.get(EXPORT).status_code == 405


def test_download_shares_the_per_user_budget(student_client, settings):
    settings.PERSONAL_DATA_EXPORT_RATE = "1/hour"

    first = student_client.post(EXPORT)
    second = student_client.post(EXPORT)

    assert first.status_code == 200
    assert second.status_code == 302 and second["Location"] == DATA


def test_erase_page_asks_for_password_and_confirmation(student_client):
    html = _content(student_client.get(ERASE))

    assert 'name="password"' in html and 'name="confirm"' in html
    assert not INLINE.search(html.split("<main", 1)[-1])


def test_erase_without_the_checkbox_changes_nothing(student_client):
    response = student_client.post(ERASE, {"password": PASSWORD})

    assert response.status_code == 200
    assert User.objects.get(pk=student_client.user.pk).erased_at is None


def test_erase_with_a_wrong_password_shows_the_error(student_client):
    response = student_client.post(ERASE, {"password": "wrong", "confirm": "on"})

    assert response.status_code == 200
    assert "password is not right" in _content(response)
    assert User.objects.get(pk=student_client.user.pk).erased_at is None


def test_erasure_signs_out_and_lands_on_the_landing_page(student_client):
    response = student_client.post(
        ERASE, {"password": PASSWORD, "confirm": "on", "reason": "done"}, follow=True
    )

    assert response.redirect_chain[-1][0] == reverse("frontend:landing")
    assert "Your account is erased" in _content(response)
    assert User.objects.get(pk=student_client.user.pk).erased_at is not None
    assert student_client.get(DATA).status_code == 302


def test_blockers_are_shown_instead_of_the_form(client):
    contract = active_contract()
    client.force_login(contract.student)

    for url in (DATA, ERASE):
        html = _content(client.get(url))
        assert "cannot be erased yet" in html
        assert 'name="password"' not in html

    response = client.post(ERASE, {"password": PASSWORD, "confirm": "on"})
    assert response.status_code == 200
    contract.student.refresh_from_db()
    assert contract.student.erased_at is None
