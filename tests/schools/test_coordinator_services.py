from __future__ import annotations

import re

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.urls import resolve
from django.utils.http import urlsafe_base64_decode

from marketplace.errors import ValidationFailed
from marketplace.models import User
from schools.models import Coordinator
from schools.services import coordinator_create
from tests.factories import PASSWORD, SchoolFactory, UserFactory

pytestmark = pytest.mark.django_db

SITE = "https://market.example"
LINK = re.compile(rf"{re.escape(SITE)}(/accounts/reset/(?P<uid>[^/\s]+)/(?P<token>[^/\s]+)/)")


@pytest.fixture(autouse=True)
def site(settings):
    settings.SITE_URL = SITE


@pytest.fixture
def school():
    return SchoolFactory(name="Université Test")


def test_with_a_password_the_account_can_sign_in_at_once(
    school, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        coordinator = coordinator_create(
            email="  Coord@Univ.TEST ",
            school=school,
            first_name="Claire",
            last_name="Dupont",
            password=PASSWORD,
        )

    user = User.objects.get(pk=coordinator.user_id)
    assert user.email == "coord@univ.test"
    assert user.role == User.Role.COORDINATOR
    assert user.has_usable_password()
    assert user.check_password(PASSWORD)
    assert (user.first_name, user.last_name) == ("Claire", "Dupont")
    assert coordinator.school_id == school.pk
    assert mail.outbox == []


def test_without_a_password_an_invitation_carries_a_working_set_password_link(
    school, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        coordinator = coordinator_create(
            email="coord@univ.test", school=school, first_name="Claire", last_name="Dupont"
        )

    assert len(callbacks) == 1
    user = User.objects.get(pk=coordinator.user_id)
    assert not user.has_usable_password()
    [message] = mail.outbox
    assert message.to == ["coord@univ.test"]
    assert "Université Test" in message.body
    match = LINK.search(message.body)
    assert match is not None
    assert urlsafe_base64_decode(match["uid"]).decode() == str(user.pk)
    assert default_token_generator.check_token(user, match["token"])
    assert resolve(match.group(1)).url_name == "password-reset-confirm"

    user.set_password("a-new-long-passphrase-42")
    user.save()
    assert not default_token_generator.check_token(user, match["token"])


@pytest.mark.parametrize("email", ["taken@univ.test", "TAKEN@univ.test", " taken@Univ.Test "])
@pytest.mark.parametrize("password", [None, PASSWORD])
def test_a_taken_email_is_refused(school, email, password):
    UserFactory(email="taken@univ.test")
    with pytest.raises(ValidationFailed) as exc:
        coordinator_create(
            email=email, school=school, first_name="A", last_name="B", password=password
        )
    assert exc.value.field == "email"
    assert Coordinator.objects.count() == 0
    assert User.objects.count() == 1


@pytest.mark.parametrize("password", ["123", "password", "coord@univ.test"])
def test_a_weak_password_is_refused(school, password):
    with pytest.raises(ValidationFailed) as exc:
        coordinator_create(
            email="coord@univ.test",
            school=school,
            first_name="Claire",
            last_name="Dupont",
            password=password,
        )
    assert exc.value.field == "password"
    assert not User.objects.filter(email="coord@univ.test").exists()
    assert Coordinator.objects.count() == 0
