from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from marketplace.models import User
from tests.factories import SchoolFactory, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Violet-Harbour-2031"


def _invite(as_user, django_capture_on_commit_callbacks) -> str:  # type: ignore[no-untyped-def]
    staff = as_user(UserFactory(role=User.Role.ADMIN, is_staff=True))
    with django_capture_on_commit_callbacks(execute=True):
        res = staff.post(
            "/api/v1/admin/coordinators/",
            {
                "email": "Coord@School.test",
                "school": SchoolFactory().pk,
                "first_name": "Ana",
                "last_name": "Lima",
            },
            format="json",
        )
    assert res.status_code == 201 and res.json()["invited"] is True
    return re.search(r"https?://[^/]+(/accounts/reset/\S+/)", mail.outbox[-1].body).group(1)


def test_the_invitation_sets_a_password_once(
    client, api, as_user, django_capture_on_commit_callbacks
):
    path = _invite(as_user, django_capture_on_commit_callbacks)
    form = client.get(path, follow=True)
    assert form.status_code == 200
    res = client.post(
        form.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert res.status_code == 302
    token = api.post(
        "/api/v1/auth/token/",
        {"email": "coord@school.test", "password": NEW_PASSWORD},
        format="json",
    )
    # Coordinators vouch for students: no token until two-factor sign-in is set up.
    assert token.status_code == 403
    assert token.json()["code"] == "two_factor_setup_required"
    again = client.get(path, follow=True)
    assert again.context["validlink"] is False


def test_the_invitation_expires(client, as_user, django_capture_on_commit_callbacks, settings):
    path = _invite(as_user, django_capture_on_commit_callbacks)
    later = timezone.now() + dt.timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 60)
    with time_machine.travel(later):
        page = client.get(path, follow=True)
    assert page.context["validlink"] is False
