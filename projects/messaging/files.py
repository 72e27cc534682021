"""Files delivered with a milestone or attached to a message: checks, storage and access.

An upload is accepted by what its bytes are, never by its name: `filetype`
reads the magic number, and the allowed kinds are `ALLOWED_KINDS`. Plain text
(`.txt`, `.md`, `.csv`) has no magic number, so it is accepted when the whole
file decodes as UTF-8 without NUL bytes and does not start like a script
(`#!`). Executables (ELF, PE/MZ, Mach-O, scripts) are refused whatever their
name. A file is at least one byte and at most `MAX_UPLOAD_BYTES`.

Accepted files go to Django's default storage under a random name
(`attachments/<2 hex>/<uuid>`), never under a public URL; the download view
checks who asks (`attachment_visible_to`) and streams the file, or redirects to
a short-lived signed URL when the storage gives one (S3 with
`FILE_SIGNED_URLS`).
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import posixpath
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import filetype
from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q, QuerySet

from marketplace.errors import NotFound, PermissionDenied, ValidationFailed
from marketplace.models import User
from projects.contracts.models import Delivery, Milestone
from projects.contracts.permissions import is_contract_student
from projects.contracts.selectors import contract_visible_to
from projects.contracts.services import milestone_submit
from projects.messaging.models import Attachment, Message

logger = logging.getLogger(__name__)

# filetype's extension → the content type served, for the kinds accepted.
ALLOWED_KINDS: dict[str, str] = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "zip": "application/zip",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
# Extensions a kind may carry; a name without one of them gets the kind's own appended.
KIND_EXTENSIONS: dict[str, set[str]] = {
    "pdf": {"pdf"},
    "png": {"png"},
    "jpg": {"jpg", "jpeg"},
    "gif": {"gif"},
    "webp": {"webp"},
    "zip": {"zip"},
    "docx": {"docx"},
    "xlsx": {"xlsx"},
    "pptx": {"pptx"},
    "txt": {"txt"},
    "md": {"md", "markdown"},
    "csv": {"csv"},
}
TEXT_TYPES: dict[str, str] = {
    "txt": "text/plain; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
}
EXECUTABLE_MAGIC: tuple[bytes, ...] = (
    b"\x7fELF",  # Linux, BSD
    b"MZ",  # Windows PE, DOS
    b"\xfe\xed\xfa\xce",  # Mach-O 32-bit
    b"\xfe\xed\xfa\xcf",  # Mach-O 64-bit
    b"\xce\xfa\xed\xfe",  # Mach-O 32-bit, little-endian
    b"\xcf\xfa\xed\xfe",  # Mach-O 64-bit, little-endian
    b"\xca\xfe\xba\xbe",  # Mach-O universal binary (and Java classes)
    b"#!",  # scripts run by an interpreter
)
HEAD_BYTES = 8192
CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class CheckedFile:
    """An upload that passed the checks: what to store and how to serve it."""

    upload: File
    name: str
    kind: str
    content_type: str
    size: int


def _read_head(upload: File) -> bytes:
    upload.seek(0)
    head = upload.read(HEAD_BYTES)
    upload.seek(0)
    return head


def _is_text(upload: File) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    upload.seek(0)
    try:
        for chunk in upload.chunks(CHUNK_BYTES):
            if b"\x00" in chunk:
                return False
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    finally:
        upload.seek(0)
    return True


def _clean_name(raw: str) -> str:
    name = posixpath.basename(raw.replace("\\", "/"))
    name = "".join(c for c in unicodedata.normalize("NFC", name) if c.isprintable())
    name = name.replace('"', "'").strip(" .") or "file"
    stem, dot, ext = name.rpartition(".")
    if len(name) > 200:
        name = f"{stem[: 190 - len(ext)]}.{ext}" if dot else name[:200]
    return name


def _extension(name: str) -> str:
    _, dot, ext = name.rpartition(".")
    return ext.lower() if dot else ""


def upload_check(*, upload: File, field: str = "files") -> CheckedFile:
    """Check one upload by its content and size; answer how to store and serve it.

    Raises ValidationFailed (on `field`) for an empty file, one over
    `MAX_UPLOAD_BYTES`, an executable, or content of a kind not allowed.
    """
    name = _clean_name(getattr(upload, "name", "") or "file")
    size = int(upload.size or 0)
    limit = settings.MAX_UPLOAD_BYTES
    if size <= 0:
        raise ValidationFailed(f"“{name}” is empty.", field=field)
    if size > limit:
        raise ValidationFailed(
            f"“{name}” is {size} bytes; the limit is {limit} bytes.", field=field
        )
    head = _read_head(upload)
    if head.startswith(EXECUTABLE_MAGIC):
        raise ValidationFailed(f"“{name}” is a program; programs are not accepted.", field=field)
    guess = filetype.guess(head)
    if guess is not None:
        kind = guess.extension
        if kind not in ALLOWED_KINDS:
            raise ValidationFailed(
                f"“{name}” is a {kind} file, which is not accepted.", field=field
            )
        content_type = ALLOWED_KINDS[kind]
    elif _is_text(upload):
        ext = _extension(name)
        kind = next((k for k in TEXT_TYPES if ext in KIND_EXTENSIONS[k]), "txt")
        content_type = TEXT_TYPES[kind]
    else:
        raise ValidationFailed(
            f"“{name}” is not a kind of file we accept (PDF, images, ZIP, Office documents, "
            "plain text).",
            field=field,
        )
    if _extension(name) not in KIND_EXTENSIONS[kind]:
        # What it is decides what it is called: no "invoice.exe" that is really a PDF.
        name = f"{name}.{next(iter(sorted(KIND_EXTENSIONS[kind])))}"
    return CheckedFile(upload=upload, name=name, kind=kind, content_type=content_type, size=size)


def uploads_check(*, uploads: Sequence[File], field: str = "files") -> list[CheckedFile]:
    """Check every upload (see `upload_check`) and their number, before anything is stored."""
    if len(uploads) > settings.MAX_UPLOAD_FILES:
        raise ValidationFailed(f"At most {settings.MAX_UPLOAD_FILES} files at a time.", field=field)
    return [upload_check(upload=u, field=field) for u in uploads]


@dataclass(frozen=True)
class _Stored:
    checked: CheckedFile
    uuid: uuid.UUID
    storage_name: str
    sha256: str


def _store(checked: CheckedFile) -> _Stored:
    file_id = uuid.uuid4()
    digest = hashlib.sha256()
    checked.upload.seek(0)
    for chunk in checked.upload.chunks(CHUNK_BYTES):
        digest.update(chunk)
    checked.upload.seek(0)
    wanted = f"attachments/{file_id.hex[:2]}/{file_id.hex}"
    stored_name = default_storage.save(wanted, checked.upload)
    return _Stored(checked, file_id, stored_name, digest.hexdigest())


def _rows(stored: list[_Stored], *, by: User, **owner: Delivery | Message) -> list[Attachment]:
    return Attachment.objects.bulk_create(
        [
            Attachment(
                uuid=s.uuid,
                uploaded_by=by,
                name=s.checked.name,
                content_type=s.checked.content_type,
                size=s.checked.size,
                sha256=s.sha256,
                storage_name=s.storage_name,
                **owner,
            )
            for s in stored
        ]
    )


class StoredFiles:
    """Store checked files, and delete them again if the transaction that records them fails.

    Storage is not transactional: `with StoredFiles(checked) as stored:` wraps
    the database writes, so a rollback leaves no orphan in the bucket.
    """

    def __init__(self, checked: Sequence[CheckedFile]):
        self.checked = list(checked)
        self.stored: list[_Stored] = []

    def __enter__(self) -> list[_Stored]:
        try:
            for item in self.checked:
                self.stored.append(_store(item))
        except Exception:
            self._delete()
            raise
        return self.stored

    def __exit__(self, exc_type, exc, tb) -> None:  # type: ignore[no-untyped-def]
        if exc_type is not None:
            self._delete()

    def _delete(self) -> None:
        for item in self.stored:
            try:
                default_storage.delete(item.storage_name)
            except Exception:  # the original error matters more than a failed clean-up
                logger.exception("attachment.cleanup_failed", extra={"name": item.storage_name})


def attachments_create(*, stored: list[_Stored], by: User, message: Message) -> list[Attachment]:
    """Record stored files as the attachments of a message (inside the caller's transaction)."""
    return _rows(stored, by=by, message=message)


def delivery_submit_with_files(
    *, milestone_id: int, by: User, note: str = "", url: str = "", files: Sequence[File] = ()
) -> Delivery:
    """The student delivers a milestone with a note, an optional link and files.

    The same rules as `milestone_submit` (funded, student of the contract); the
    files are checked first (`upload_check`), so a refused file changes
    nothing. Raises PermissionDenied, StateConflict, and ValidationFailed
    (field `files`).
    """
    milestone = Milestone.objects.select_related("contract").filter(pk=milestone_id).first()
    if milestone is None:
        raise NotFound("No such milestone.")
    if not is_contract_student(by, milestone.contract):
        raise PermissionDenied("Only the student of this contract delivers.")
    checked = uploads_check(uploads=files)
    with StoredFiles(checked) as stored, transaction.atomic():
        milestone_submit(
            milestone_id=milestone_id, by=by, note=note, url=url, has_files=bool(stored)
        )
        delivery = Delivery.objects.filter(milestone_id=milestone_id).order_by("-pk").first()
        assert delivery is not None  # milestone_submit just created it
        _rows(stored, by=by, delivery=delivery)
    logger.info("delivery.files", extra={"delivery_id": delivery.pk, "files": len(stored)})
    return delivery


def attachment_visible_to(*, user: User) -> QuerySet[Attachment]:
    """Files the user may download: those of deliveries of contracts they see (parties,
    staff), and message attachments of threads they may read (see `thread_visible_to`)."""
    from projects.messaging.selectors import thread_visible_to

    contracts = contract_visible_to(user=user).values("pk")
    threads = thread_visible_to(user=user).values("pk")
    return Attachment.objects.filter(
        Q(delivery__milestone__contract__in=contracts) | Q(message__thread__in=threads)
    )


def attachment_signed_url(*, attachment: Attachment) -> str | None:
    """A short-lived signed URL to the file in its storage, or None to stream it ourselves.

    Only when `FILE_SIGNED_URLS` is on and the storage signs URLs (django-storages'
    S3 backend); the URL forces the download name and the detected type.
    """
    if not settings.FILE_SIGNED_URLS:
        return None
    parameters = {
        "ResponseContentDisposition": f'attachment; filename="{_ascii_name(attachment.name)}"',
        "ResponseContentType": attachment.content_type,
    }
    return default_storage.url(  # type: ignore[call-arg]
        attachment.storage_name, parameters=parameters, expire=settings.FILE_URL_MAX_AGE
    )


def _ascii_name(name: str) -> str:
    return (
        unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode() or "file"
    ).replace('"', "'")


def attachment_open(*, attachment: Attachment) -> File:
    """The stored file, opened for reading (the caller closes it)."""
    return default_storage.open(attachment.storage_name, "rb")
