from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from marketplace.errors import ValidationFailed
from marketplace.models import User
from projects.contracts.disputes import milestone_dispute
from projects.contracts.models import Delivery, Dispute, Milestone
from projects.messaging.files import upload_check
from projects.messaging.models import Attachment
from tests.factories import CompanyMemberFactory, UserFactory, VerifiedStudentFactory
from tests.factories.contracts import active_contract

pytestmark = pytest.mark.django_db

REPO_ROOT = Path(__file__).resolve().parent.parent.parent

PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64
PE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64
MACHO = b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + b"\x00" * 64


def _zip(*names: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name in names:
            z.writestr(name, "<xml/>")
    return buf.getvalue()


DOCX = _zip("[Content_Types].xml", "_rels/.rels", "word/document.xml")


def _file(name: str, content: bytes, content_type: str = "application/pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


@pytest.mark.parametrize(
    ("name", "content", "kind", "content_type", "stored_name"),
    [
        ("report.pdf", PDF, "pdf", "application/pdf", "report.pdf"),
        ("invoice.exe", PDF, "pdf", "application/pdf", "invoice.exe.pdf"),
        ("shot.png", PNG, "png", "image/png", "shot.png"),
        (
            "plan.docx",
            DOCX,
            "docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "plan.docx",
        ),
        (
            "notes.md",
            "# Plan\n\nÉtape 1".encode(),
            "md",
            "text/markdown; charset=utf-8",
            "notes.md",
        ),
        ("data.csv", b"a,b\n1,2\n", "csv", "text/csv; charset=utf-8", "data.csv"),
        ("README", b"plain words", "txt", "text/plain; charset=utf-8", "README.txt"),
        ("../../etc/passwd.txt", b"x", "txt", "text/plain; charset=utf-8", "passwd.txt"),
    ],
)
def test_files_are_accepted_by_content(name, content, kind, content_type, stored_name):  # type: ignore[no-untyped-def]
    checked = upload_check(upload=_file(name, content))
    assert (checked.kind, checked.content_type, checked.name) == (kind, content_type, stored_name)


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("cv.pdf", ELF, "program"),
        ("cv.pdf", PE, "program"),
        ("cv.pdf", MACHO, "program"),
        ("run.txt", b"#!/bin/sh\nrm -rf /\n", "program"),
        ("song.pdf", b"ID3\x03\x00\x00\x00" + b"\x00" * 64, "not accepted"),
        ("blob.txt", b"\x00\x01\x02\xff\xfe" * 10, "not a kind"),
        ("latin1.txt", "café".encode("latin-1"), "not a kind"),
        ("empty.pdf", b"", "empty"),
    ],
)
def test_programs_unknown_kinds_and_empty_files_are_refused(name, content, words):  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as exc:
        upload_check(upload=_file(name, content))
    assert exc.value.field == "files"
    assert words in exc.value.message


def test_the_size_limit_is_inclusive(settings):  # type: ignore[no-untyped-def]
    settings.MAX_UPLOAD_BYTES = 64
    assert upload_check(upload=_file("ok.txt", b"a" * 64)).size == 64
    with pytest.raises(ValidationFailed, match="the limit is 64 bytes"):
        upload_check(upload=_file("big.txt", b"a" * 65))


@pytest.fixture
def funded_contract(as_user):  # type: ignore[no-untyped-def]
    contract = active_contract(amounts=(10_000, 20_000))
    first, second = contract.milestones.order_by("position")
    owner = contract.project.created_by
    return SimpleNamespace(
        contract=contract,
        first=first,
        second=second,
        owner=owner,
        student=contract.student,
        company=as_user(owner),
        me=as_user(contract.student),
        rival=as_user(CompanyMemberFactory()),
        other_student=as_user(VerifiedStudentFactory()),
        staff=as_user(UserFactory(role=User.Role.ADMIN, is_staff=True)),
    )


def _deliver(client, milestone_id: int, *files: SimpleUploadedFile, **fields: str):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/v1/milestones/{milestone_id}/deliveries/",
        {"note": "Here it is", **fields, "files": list(files)},
        format="multipart",
    )


def test_a_delivery_carries_files_served_only_to_the_parties_and_staff(funded_contract):  # type: ignore[no-untyped-def]
    res = _deliver(
        funded_contract.me,
        funded_contract.first.pk,
        _file("report.pdf", PDF),
        _file("shot.png", PNG),
        url="https://x.test/",
    )
    assert res.status_code == 201, res.content
    delivery = res.json()["deliveries"][0]
    assert res.json()["status"] == "submitted"
    assert delivery["url"] == "https://x.test/"
    assert [(f["name"], f["content_type"], f["size"]) for f in delivery["files"]] == [
        ("report.pdf", "application/pdf", len(PDF)),
        ("shot.png", "image/png", len(PNG)),
    ]
    url = delivery["files"][0]["url"]
    attachment = Attachment.objects.get(name="report.pdf")
    assert attachment.storage_name.startswith("attachments/")
    assert "report" not in attachment.storage_name
    assert default_storage.exists(attachment.storage_name)
    for client in (funded_contract.company, funded_contract.me, funded_contract.staff):
        got = client.get(url)
        assert got.status_code == 200
        assert b"".join(got.streaming_content) == PDF
        assert got["Content-Type"] == "application/pdf"
        assert got["Content-Disposition"].startswith('attachment; filename="report.pdf"')
        assert got["X-Content-Type-Options"] == "nosniff"
    for client in (funded_contract.rival, funded_contract.other_student):
        assert client.get(url).status_code == 404
    contract = funded_contract.company.get(
        f"/api/v1/contracts/{funded_contract.contract.pk}/"
    ).json()
    assert contract["milestones"][0]["deliveries"][0]["files"][1]["name"] == "shot.png"


def test_anonymous_and_unknown_files(funded_contract, api):  # type: ignore[no-untyped-def]
    _deliver(funded_contract.me, funded_contract.first.pk, _file("report.pdf", PDF))
    url = f"/api/v1/files/{Attachment.objects.get().uuid}/"
    assert api.get(url).status_code == 401
    assert (
        funded_contract.me.get("/api/v1/files/00000000-0000-0000-0000-000000000000/").status_code
        == 404
    )
    assert funded_contract.me.get("/api/v1/files/not-a-uuid/").status_code == 404


@pytest.mark.parametrize(
    ("name", "content"),
    [("virus.pdf", ELF), ("empty.pdf", b""), ("big.txt", b"a" * 1025)],
)
def test_a_refused_file_delivers_nothing(funded_contract, settings, name, content):  # type: ignore[no-untyped-def]
    settings.MAX_UPLOAD_BYTES = 1024
    res = _deliver(
        funded_contract.me, funded_contract.first.pk, _file("fine.pdf", PDF), _file(name, content)
    )
    assert res.status_code == 400, res.content
    assert list(res.json()["errors"]) == ["files"]
    assert name in res.json()["detail"]
    assert not Delivery.objects.exists() and not Attachment.objects.exists()
    assert Milestone.objects.get(pk=funded_contract.first.pk).work_status == "pending"


def _stored() -> set[str]:
    if not default_storage.exists("attachments"):
        return set()
    dirs, _ = default_storage.listdir("attachments")
    return {f"{d}/{f}" for d in dirs for f in default_storage.listdir(f"attachments/{d}")[1]}


def test_a_failed_delivery_leaves_no_file_in_storage(funded_contract):  # type: ignore[no-untyped-def]
    before = _stored()
    assert (
        _deliver(
            funded_contract.company, funded_contract.first.pk, _file("fine.pdf", PDF)
        ).status_code
        == 403
    )
    assert _deliver(funded_contract.me, funded_contract.first.pk).status_code == 201
    res = _deliver(funded_contract.me, funded_contract.first.pk, _file("again.pdf", PDF))
    assert res.status_code == 409
    assert _stored() == before
    assert not Attachment.objects.exists()


@pytest.mark.parametrize("who", ["rival", "other_student"])
def test_third_parties_cannot_deliver(funded_contract, who):  # type: ignore[no-untyped-def]
    assert (
        _deliver(
            getattr(funded_contract, who), funded_contract.first.pk, _file("a.pdf", PDF)
        ).status_code
        == 404
    )


def test_the_json_submit_route_still_works(funded_contract):  # type: ignore[no-untyped-def]
    res = funded_contract.me.post(
        f"/api/v1/milestones/{funded_contract.first.pk}/submit/",
        {"note": "done", "url": "https://example.com/work"},
        format="json",
    )
    assert res.status_code == 200
    assert res.json()["deliveries"][0]["files"] == []


def test_signed_urls_redirect_when_the_storage_signs(funded_contract, settings, monkeypatch):  # type: ignore[no-untyped-def]
    _deliver(funded_contract.me, funded_contract.first.pk, _file("rapport été.pdf", PDF))
    attachment = Attachment.objects.get()
    calls = {}

    def fake_url(name, parameters=None, expire=None):  # type: ignore[no-untyped-def]
        calls.update(name=name, parameters=parameters, expire=expire)
        return f"https://bucket.test/{name}?X-Amz-Signature=abc"

    monkeypatch.setattr(default_storage, "url", fake_url, raising=False)
    settings.FILE_SIGNED_URLS = True
    settings.FILE_URL_MAX_AGE = 120
    res = funded_contract.company.get(f"/api/v1/files/{attachment.uuid}/")
    assert res.status_code == 302
    assert res["Location"].startswith("https://bucket.test/attachments/")
    assert calls["expire"] == 120
    assert calls["parameters"]["ResponseContentType"] == "application/pdf"
    assert calls["parameters"]["ResponseContentDisposition"].startswith("attachment;")
    assert funded_contract.rival.get(f"/api/v1/files/{attachment.uuid}/").status_code == 404


def test_message_files_follow_the_thread_rule_for_staff(funded_contract):  # type: ignore[no-untyped-def]
    res = funded_contract.me.post(
        f"/api/v1/contracts/{funded_contract.contract.pk}/messages/",
        {"body": "Draft attached", "files": [_file("draft.pdf", PDF)]},
        format="multipart",
    )
    assert res.status_code == 201, res.content
    url = res.json()["attachments"][0]["url"]
    assert funded_contract.company.get(url).status_code == 200
    assert funded_contract.staff.get(url).status_code == 404
    milestone_dispute(
        milestone_id=funded_contract.first.pk, by=funded_contract.owner, reason="Not what we agreed"
    )
    assert funded_contract.staff.get(url).status_code == 200
    Dispute.objects.update(status=Dispute.Status.RESOLVED)
    assert funded_contract.staff.get(url).status_code == 404


def _settings_in_subprocess(**env: str):  # type: ignore[no-untyped-def]
    code = (
        "import json; from marketplace.settings import base as s; "
        "print(json.dumps({'default': s.STORAGES['default'], 'signed': s.FILE_SIGNED_URLS}))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_storage_is_a_private_folder_by_default_and_s3_on_demand(tmp_path):  # type: ignore[no-untyped-def]
    local = _settings_in_subprocess(STORAGE_BACKEND="local", PRIVATE_FILES_ROOT=str(tmp_path))
    default = json.loads(local.stdout)
    assert default["default"]["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    assert default["default"]["OPTIONS"]["location"] == str(tmp_path)
    assert default["signed"] is False
    s3 = json.loads(
        _settings_in_subprocess(
            STORAGE_BACKEND="s3", AWS_STORAGE_BUCKET_NAME="files", FILE_URL_MAX_AGE="60"
        ).stdout
    )
    assert s3["default"]["BACKEND"] == "storages.backends.s3.S3Storage"
    options = s3["default"]["OPTIONS"]
    assert (options["bucket_name"], options["default_acl"], options["querystring_expire"]) == (
        "files",
        "private",
        60,
    )
    assert s3["signed"] is True
    refused = _settings_in_subprocess(STORAGE_BACKEND="ftp")
    assert refused.returncode != 0
    assert "STORAGE_BACKEND must be local or s3" in refused.stderr


def test_no_route_serves_the_storage_folder(funded_contract, api):  # type: ignore[no-untyped-def]
    _deliver(funded_contract.me, funded_contract.first.pk, _file("report.pdf", PDF))
    name = Attachment.objects.get().storage_name
    for prefix in ("/media/", "/private-files/", "/static/", "/"):
        assert api.get(prefix + name).status_code == 404
