"""Staff reset a lost phone from the User admin, with a reason; no secret key is on show."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from django.contrib import admin
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from marketplace.models import AuditEntry
from tests.factories import CoordinatorFactory
from tests.twofactor import authenticator

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:marketplace_user_changelist")


def test_no_admin_page_shows_authenticator_keys():
    assert not admin.site.is_registered(TOTPDevice)
    assert not admin.site.is_registered(StaticDevice)


def test_the_reset_asks_a_reason_then_removes_the_devices(staff_client):
    coordinator = CoordinatorFactory().user
    authenticator(coordinator)
    picked = {"action": "reset_two_factor", "_selected_action": [coordinator.pk]}
    page = staff_client.post(CHANGELIST, picked)
    assert page.status_code == 200 and "How the person proved who they are" in page.text
    assert TOTPDevice.objects.filter(user=coordinator).exists()
    empty = staff_client.post(CHANGELIST, {**picked, "confirm": "yes", "reason": ""})
    assert empty.status_code == 200 and TOTPDevice.objects.filter(user=coordinator).exists()
    staff_client.post(CHANGELIST, {**picked, "confirm": "yes", "reason": "Video call, ID seen"})
    assert not TOTPDevice.objects.filter(user=coordinator).exists()
    entry = AuditEntry.objects.get(action="user.two_factor_reset", subject_id=str(coordinator.pk))
    assert entry.reason == "Video call, ID seen"


def test_the_admin_sign_in_is_the_sites_which_asks_the_second_factor(client):
    res = client.get("/admin/login/?next=/admin/")
    assert res.status_code == 302
    assert res["Location"] == reverse("frontend:signin") + "?next=/admin/"


def test_signed_out_staff_come_back_to_the_admin_after_signing_in(client):
    page = client.get("/admin/", follow=True)
    assert unquote(page.redirect_chain[-1][0]) == reverse("frontend:signin") + "?next=/admin/"
    assert '<input type="hidden" name="next" value="/admin/">' in page.content.decode()
