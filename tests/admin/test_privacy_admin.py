from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from marketplace.models import AuditEntry, User
from tests.factories import UserFactory, VerifiedStudentFactory
from tests.factories.contracts import active_contract

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:marketplace_user_changelist")


def _act(client, action, users, **extra):  # type: ignore[no-untyped-def]
    return client.post(
        CHANGELIST,
        {"action": action, ACTION_CHECKBOX_NAME: [u.pk for u in users], **extra},
    )


def test_export_one_account_downloads_its_zip_and_is_audited(staff_client, superuser):
    student = VerifiedStudentFactory()

    response = _act(staff_client, "export_personal_data", [student])

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    data = json.loads(zipfile.ZipFile(io.BytesIO(response.content)).read("data.json"))
    assert data["user_id"] == student.pk
    entry = AuditEntry.objects.get(action="user.export")
    assert (entry.actor_id, entry.subject_id) == (superuser.pk, str(student.pk))


def test_export_refuses_several_accounts(staff_client):
    response = _act(staff_client, "export_personal_data", UserFactory.create_batch(2))

    assert response.status_code == 302
    assert not AuditEntry.objects.filter(action="user.export").exists()


def test_erase_asks_for_a_reason_first(staff_client):
    student = VerifiedStudentFactory()

    response = _act(staff_client, "erase_accounts", [student])

    assert response.status_code == 200
    assert b'name="reason"' in response.content
    student.refresh_from_db()
    assert student.erased_at is None


def test_erase_with_a_reason_erases_and_audits(staff_client, superuser):
    student = VerifiedStudentFactory()

    response = _act(
        staff_client, "erase_accounts", [student], confirm="yes", reason="Request of 3 March"
    )

    assert response.status_code == 302
    student.refresh_from_db()
    assert student.erased_at is not None and not student.is_active
    entry = AuditEntry.objects.get(action="user.erase")
    assert (entry.actor_id, entry.reason) == (superuser.pk, "Request of 3 March")


def test_erase_shows_blockers_and_skips_blocked_accounts(staff_client):
    contract = active_contract()
    free = VerifiedStudentFactory()

    page = _act(staff_client, "erase_accounts", [contract.student, free])
    assert b"escrow" in page.content
    _act(staff_client, "erase_accounts", [contract.student, free], confirm="yes", reason="Asked")

    assert User.objects.get(pk=free.pk).erased_at is not None
    assert User.objects.get(pk=contract.student.pk).erased_at is None


def test_erased_at_is_shown_on_the_change_page(staff_client):
    student = VerifiedStudentFactory()
    _act(staff_client, "erase_accounts", [student], confirm="yes", reason="Asked")

    page = staff_client.get(reverse("admin:marketplace_user_change", args=[student.pk]))

    assert page.status_code == 200
    assert b"Erased at" in page.content or b"erased at" in page.content.lower()
    assert staff_client.get(CHANGELIST + "?erased_at__isnull=False").status_code == 200
