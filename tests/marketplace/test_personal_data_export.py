from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core.cache import cache

from marketplace.credentials import password_reset_email_send
from marketplace.privacy import personal_data_export, personal_data_sections
from tests.factories import PASSWORD, VerifiedStudentFactory
from tests.factories.contracts import active_contract
from tests.factories.personal_data import PDF, student_with_history

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_throttle():
    cache.clear()
    yield
    cache.clear()


def _open(archive: bytes) -> tuple[dict, zipfile.ZipFile]:
    zipped = zipfile.ZipFile(io.BytesIO(archive))
    return json.loads(zipped.read("data.json")), zipped


def test_export_holds_every_section_with_the_users_own_data():
    person = student_with_history()

    data, zipped = _open(personal_data_export(user=person.user))

    assert set(data["sections"]) == {s.name for s in personal_data_sections()}
    text = json.dumps(data)
    for key in ("email", "headline", "bio", "program", "school_email", "cover", "open_cover"):
        assert person.strings[key] in text, key
    for key in ("note", "message", "review", "reply"):
        assert person.strings[key] in text, key
    sections = data["sections"]
    assert sections["account"]["user"]["email"] == person.strings["email"]
    assert len(sections["briefs"]["bids"]) == 2
    assert sections["contracts"]["contracts"][0]["id"] == person.contract.pk
    assert sections["payments"]["escrows_paid_to_you"][0]["status"] == "released"
    assert len(sections["reviews"]["reviews_received"]) == 1
    readme = zipped.read("README.txt").decode()
    for section in personal_data_sections():
        assert f"- {section.name}:" in readme


def test_export_includes_the_users_files():
    person = student_with_history()

    _data, zipped = _open(personal_data_export(user=person.user))

    files = [n for n in zipped.namelist() if n.startswith("files/")]
    assert len(files) == 2
    assert any(n.endswith(person.strings["file"]) for n in files)
    assert any(n.endswith(person.strings["message_file"]) for n in files)
    assert all(zipped.read(n) == PDF for n in files)


def test_export_never_includes_another_users_data():
    alice = student_with_history("Alicia")
    bob = student_with_history("Bartholomew")

    data, zipped = _open(personal_data_export(user=alice.user))

    text = json.dumps(data) + zipped.read("README.txt").decode()
    for key in ("email", "message", "cover", "open_cover", "note", "review", "reply", "bio"):
        assert bob.strings[key] not in text, key
    assert not any(bob.strings["file"] in n for n in zipped.namelist())


def test_a_review_about_the_user_is_exported_only_once_it_is_shown_to_them():
    contract = active_contract()
    student = contract.student

    data, _ = _open(personal_data_export(user=student))

    assert data["sections"]["reviews"]["reviews_received"] == []


def test_api_export_is_a_zip_attachment(as_user):
    person = student_with_history()

    response = as_user(person.user).get("/api/v1/me/export/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith("attachment;")
    data, _ = _open(response.content)
    assert data["user_id"] == person.user.pk


def test_api_export_is_throttled_per_user(as_user, settings):
    settings.PERSONAL_DATA_EXPORT_RATE = "2/hour"
    student = VerifiedStudentFactory()
    client = as_user(student)

    codes = [client.get("/api/v1/me/export/").status_code for _ in range(3)]

    assert codes == [200, 200, 429]
    assert as_user(VerifiedStudentFactory()).get("/api/v1/me/export/").status_code == 200


def test_api_export_needs_a_signed_in_user(api):
    assert api.get("/api/v1/me/export/").status_code == 401


def test_api_erase_with_the_right_password(as_user):
    student = VerifiedStudentFactory()

    response = as_user(student).post("/api/v1/me/erase/", {"password": PASSWORD, "reason": "bye"})

    assert response.status_code == 204
    student.refresh_from_db()
    assert student.erased_at is not None


def test_api_erase_with_a_wrong_password_names_the_field(as_user):
    student = VerifiedStudentFactory()

    response = as_user(student).post("/api/v1/me/erase/", {"password": "nope"})

    assert response.status_code == 400
    assert "password" in response.json()["errors"]
    student.refresh_from_db()
    assert student.erased_at is None


def test_api_erase_without_a_password_is_400(as_user):
    response = as_user(VerifiedStudentFactory()).post("/api/v1/me/erase/", {})
    assert response.status_code == 400
    assert "password" in response.json()["errors"]


def test_api_erase_blocked_while_money_is_held_is_409_with_blockers(as_user):
    contract = active_contract()

    response = as_user(contract.student).post("/api/v1/me/erase/", {"password": PASSWORD})

    assert response.status_code == 409
    assert response.json()["blockers"]


def test_the_routes_are_in_the_openapi_schema(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "/api/v1/me/export/" in schema["paths"]
    assert "/api/v1/me/erase/" in schema["paths"]


def test_export_withholds_the_text_of_emails_that_carry_a_sign_in_link():
    """A reset link in an export someone forwards would let its reader set the password."""
    student = VerifiedStudentFactory()
    sent = password_reset_email_send(email=student.email)
    assert "/accounts/reset/" in sent.body_text
    data, _zipped = _open(personal_data_export(user=student))
    emails = [e for e in data["sections"]["account"]["emails"] if e["template"] == "password_reset"]
    assert len(emails) == 1
    assert "/accounts/reset/" not in json.dumps(data)
    assert "withheld" in emails[0]["body_text"]
