from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from marketplace.credentials import password_reset_link
from tests.factories import PASSWORD, StudentFactory
from tests.frontend.helpers import messages_of

pytestmark = pytest.mark.django_db

NEW = "a-brand-new-passphrase-77"
SET = {"new_password1": NEW, "new_password2": NEW}


def path_of(link: str) -> str:
    return re.sub(r"^https?://[^/]+", "", link)


def assert_strict_html(html: str) -> None:
    assert "<script>" not in html and "<script " not in html.replace("<script src=", "")
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)


def test_signin_links_to_the_branded_reset_page(client):
    html = client.get(reverse("frontend:signin")).content.decode()
    assert f'href="{reverse("frontend:password-reset")}"' in html


def test_accounts_login_redirects_to_signin_keeping_next(client):
    res = client.get("/accounts/login/?next=/company/")
    assert res.status_code in (301, 302)
    assert res["Location"] == f"{reverse('frontend:signin')}?next=/company/"


@pytest.mark.parametrize(
    "path", ["/accounts/password_reset/", "/accounts/password_change/", "/accounts/logout/"]
)
def test_djangos_unbranded_account_pages_are_gone(client, path):
    assert client.get(path).status_code == 404


def test_admin_forgotten_password_leads_to_the_branded_page(client):
    login = client.get("/admin/login/")
    if login.status_code == 302:  # the admin signs in on the site's own page
        assert login["Location"].startswith(reverse("frontend:signin"))
    else:
        assert 'href="/admin/password_reset/"' in login.content.decode()
    res = client.get("/admin/password_reset/")
    assert res["Location"] == reverse("frontend:password-reset")


def test_forgotten_password_round_trip(client, django_capture_on_commit_callbacks):
    user = StudentFactory()
    signed_in_elsewhere = Client()
    signed_in_elsewhere.force_login(user)

    page = client.get(reverse("frontend:password-reset"))
    assert_strict_html(page.content.decode())
    with django_capture_on_commit_callbacks(execute=True):
        res = client.post(reverse("frontend:password-reset"), {"email": user.email})
    assert res["Location"] == reverse("frontend:password-reset-sent")
    assert client.get(res["Location"]).status_code == 200
    link = re.search(r"https?://\S+/accounts/reset/\S+/", mail.outbox[0].body).group(0)

    res = client.get(path_of(link))
    # The token leaves the address before the form shows.
    assert res.status_code == 302 and "set-password" in res["Location"]
    form_page = client.get(res["Location"])
    assert form_page.status_code == 200
    assert_strict_html(form_page.content.decode())
    res = client.post(res["Location"], SET, follow=True)

    assert res.redirect_chain[-1][0] == reverse("frontend:signin")
    assert messages_of(res)
    user.refresh_from_db()
    assert user.check_password(NEW)
    assert signed_in_elsewhere.get(reverse("frontend:home")).status_code == 302
    assert "invalid" in client.get(path_of(link)).templates[0].name


def test_unknown_email_shows_the_same_next_page_and_sends_nothing(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        res = client.post(reverse("frontend:password-reset"), {"email": "nobody@example.com"})
    assert res["Location"] == reverse("frontend:password-reset-sent")
    assert mail.outbox == []


def test_mismatched_and_weak_new_passwords_are_shown_on_the_form(client):
    user = StudentFactory()
    first = client.get(path_of(password_reset_link(user=user)))
    res = client.post(first["Location"], {"new_password1": NEW, "new_password2": NEW + "x"})
    assert res.status_code == 200 and res.context["form"].errors["new_password2"]
    res = client.post(first["Location"], {"new_password1": "123", "new_password2": "123"})
    assert res.context["form"].errors["new_password1"]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


@pytest.mark.parametrize(
    "path", ["/accounts/reset/MTI/abc-123/", "/accounts/reset/xx/set-password/"]
)
def test_invalid_links_show_the_invalid_page(client, path):
    res = client.get(path)
    assert res.status_code == 200
    assert "frontend/accounts/password_reset_invalid.html" in [t.name for t in res.templates]


def test_change_password_keeps_this_session_and_ends_the_others(client):
    user = StudentFactory()
    other = Client()
    other.force_login(user)
    client.force_login(user)
    url = reverse("frontend:password-change")
    assert_strict_html(client.get(url).content.decode())

    res = client.post(url, {"old_password": "wrong", **SET})
    assert res.status_code == 200 and res.context["form"].errors["old_password"]

    res = client.post(url, {"old_password": PASSWORD, **SET})

    assert res.status_code == 302
    assert client.get(reverse("frontend:home")).status_code in (200, 302)
    assert client.get(url).status_code == 200
    assert other.get(url).status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW)


def test_change_password_page_needs_a_signed_in_user(client):
    res = client.get(reverse("frontend:password-change"))
    assert res.status_code == 302 and reverse("frontend:signin") in res["Location"]
