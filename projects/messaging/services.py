"""Messages between a brief's company and a student: questions first, then the contract's thread.

One thread per (brief, student). Before a bid is accepted it holds the
student's questions and the company's answers; once that student's contract
exists, the same thread is the contract's, so what was said before stays with
what was agreed. Participants: the student and the members of the brief's
company. Staff read a contract's thread only while a dispute is open on it.
Other students, other companies and coordinators see nothing (404).

Before a contract exists, contact details in a message (e-mail addresses,
phone numbers, social handles) earn a warning in the answer; the message is
stored as typed.

Unread counts: a participant's messages by others after their `ThreadRead`
mark; writing in a thread marks it read for the writer."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.core.files.base import File
from django.db import IntegrityError, transaction
from django.utils import timezone

from marketplace.errors import NotFound, PermissionDenied, StateConflict, ValidationFailed
from marketplace.models import User
from projects.briefs.models import Project
from projects.briefs.permissions import is_company_member_of
from projects.briefs.selectors import project_visible_to
from projects.contracts.models import Contract
from projects.messaging import notifications as notices
from projects.messaging.files import StoredFiles, attachments_create, uploads_check
from projects.messaging.models import Message, Thread, ThreadRead
from projects.messaging.selectors import thread_contract, thread_for_contract
from schools.selectors import verification_active_for

logger = logging.getLogger(__name__)


_EMAIL = re.compile(
    r"[\w.+-]+\s*(?:@|\(at\)|\[at\]|\sat\s)\s*[\w-]+(?:\s*(?:\.|\(dot\)|\[dot\]|\sdot\s)\s*[\w-]+)*"
    r"\s*(?:\.|\(dot\)|\[dot\]|\sdot\s)\s*[a-z]{2,}\b",
    re.IGNORECASE,
)


_PHONE = re.compile(
    r"(?<![\w+])(?:"
    r"\+\d{1,3}[\s.\-]?(?:\(0\)\s?)?\d(?:[\s.\-]?\d){6,13}"  # E.164, spaced or not
    r"|00\d{2}[\s.\-]?\d(?:[\s.\-]?\d){7,12}"  # 0033 6 12 ...
    r"|0[1-9](?:[\s.\-]?\d{2}){4}"  # French national: 06 12 34 56 78
    r")(?!\w)"
)


_HANDLE = re.compile(
    r"(?<![\w.@])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{1,28}[A-Za-z0-9_])"  # @handle
    r"|\b(?:whatsapp|telegram|signal|skype|discord|snapchat|wechat|instagram|insta)\b"
    r"|\b(?:wa\.me|t\.me|linkedin\.com/in|instagram\.com|facebook\.com|m\.me)/",
    re.IGNORECASE,
)


CONTACT_WARNINGS = {
    "contact_email": "This message contains an e-mail address.",
    "contact_phone": "This message contains a phone number.",
    "contact_handle": "This message mentions a social handle or another messaging app.",
}


CONTACT_ADVICE = (
    " Until a contract exists, keep the conversation here: payments outside the platform "
    "are not protected by escrow, and the written record helps if anything goes wrong."
)


def contact_details_found(text: str) -> list[str]:
    """Codes of the kinds of contact details in `text`: contact_email, contact_phone,
    contact_handle (in that order, each once)."""
    found = []
    if _EMAIL.search(text):
        found.append("contact_email")
    if _PHONE.search(text):
        found.append("contact_phone")
    if _HANDLE.search(text):
        found.append("contact_handle")
    return found


@dataclass(frozen=True)
class Posted:
    """A message written, with the warnings its author should read (codes and texts)."""

    message: Message
    warnings: list[dict[str, str]] = field(default_factory=list)


def _is_participant(user: User, thread: Thread, project: Project) -> bool:
    return thread.student_id == user.pk or is_company_member_of(user, project.company_id)


def _post(
    *, project: Project, student_id: int, by: User, body: str, files: Sequence[File]
) -> Posted:
    body = body.strip()
    if not body and not files:
        raise ValidationFailed("Write a message or attach a file.", field="body")
    checked = uploads_check(uploads=files)
    # The thread is made with its first message: a refused message leaves no empty thread.
    with StoredFiles(checked) as stored, transaction.atomic():
        thread = _thread_get_or_create(project=project, student_id=student_id)
        contract = thread_contract(thread=thread)
        message = Message.objects.create(thread=thread, author=by, body=body)
        attachments_create(stored=stored, by=by, message=message)
        ThreadRead.objects.update_or_create(
            thread=thread, user=by, defaults={"last_read_at": message.created_at}
        )
        notices.message_posted(message, project=project, contract=contract)
    warnings = []
    if contract is None:
        warnings = [
            {"code": code, "message": CONTACT_WARNINGS[code] + CONTACT_ADVICE}
            for code in contact_details_found(body)
        ]
    logger.info(
        "message.posted",
        extra={"message_id": message.pk, "thread_id": thread.pk, "warnings": len(warnings)},
    )
    return Posted(message=message, warnings=warnings)


def _thread_get_or_create(*, project: Project, student_id: int) -> Thread:
    thread = Thread.objects.filter(project=project, student_id=student_id).first()
    if thread is not None:
        return thread
    try:
        with transaction.atomic():
            return Thread.objects.create(project=project, student_id=student_id)
    except IntegrityError:
        return Thread.objects.get(project=project, student_id=student_id)


def contract_message_post(
    *, contract_id: int, by: User, body: str, files: Sequence[File] = ()
) -> Posted:
    """A party writes in the contract's thread (created with the first message).

    `files` are checked like deliveries (`projects.messaging.files.upload_check`). The
    other side is told. Raises NotFound, PermissionDenied for anyone but the
    two parties (staff read disputes but do not write), ValidationFailed for
    an empty message or a refused file (field `files`).
    """
    contract = Contract.objects.select_related("project").filter(pk=contract_id).first()
    if contract is None:
        raise NotFound("No such contract.")
    project = contract.project
    if not (contract.student_id == by.pk or is_company_member_of(by, contract.company_id)):
        raise PermissionDenied("Only the two parties of the contract write in its thread.")
    return _post(project=project, student_id=contract.student_id, by=by, body=body, files=files)


def question_ask(*, project_id: int, by: User, body: str, files: Sequence[File] = ()) -> Posted:
    """A student asks the company a question on an open brief (their thread is created once).

    Only students verified today ask, on briefs they may see. Raises
    PermissionDenied for a non-student or an unverified one, NotFound for a
    brief out of sight, StateConflict when the brief is not open (unless the
    student holds its contract), ValidationFailed as in `contract_message_post`.
    """
    if by.role != User.Role.STUDENT:
        raise PermissionDenied("Students ask questions; the company answers them in the thread.")
    project = project_visible_to(user=by).filter(pk=project_id).first()
    if project is None:
        raise NotFound("No such brief.")
    has_contract = Contract.objects.filter(project=project, student=by).exists()
    if not has_contract and verification_active_for(user=by) is None:
        raise PermissionDenied("Only verified students ask questions; ask your school first.")
    if project.status != Project.Status.OPEN and not has_contract:
        raise StateConflict(f"This brief is {project.status}; it takes no more questions.")
    return _post(project=project, student_id=by.pk, by=by, body=body, files=files)


def thread_message_post(
    *, thread_id: int, by: User, body: str, files: Sequence[File] = ()
) -> Posted:
    """A participant writes in a thread: the company answers, the student follows up.

    The student writes while the brief is open or once they hold its contract.
    Raises NotFound, PermissionDenied for non-participants, StateConflict,
    ValidationFailed as in `contract_message_post`.
    """
    thread = Thread.objects.select_related("project").filter(pk=thread_id).first()
    if thread is None:
        raise NotFound("No such thread.")
    project = thread.project
    if not _is_participant(by, thread, project):
        raise PermissionDenied("Only the student and the brief's company write in this thread.")
    if (
        by.pk == thread.student_id
        and project.status != Project.Status.OPEN
        and thread_contract(thread=thread) is None
    ):
        raise StateConflict(f"This brief is {project.status}; it takes no more questions.")
    return _post(project=project, student_id=thread.student_id, by=by, body=body, files=files)


def thread_mark_read(*, thread_id: int, by: User) -> ThreadRead:
    """Mark the thread read up to now for a participant. Raises NotFound, PermissionDenied."""
    thread = Thread.objects.select_related("project").filter(pk=thread_id).first()
    if thread is None:
        raise NotFound("No such thread.")
    if not _is_participant(by, thread, thread.project):
        raise PermissionDenied("Only the thread's participants keep a read mark.")
    mark, _ = ThreadRead.objects.update_or_create(
        thread=thread, user=by, defaults={"last_read_at": timezone.now()}
    )
    return mark


def contract_thread_mark_read(*, contract_id: int, by: User) -> Thread | None:
    """Mark the contract's thread read up to now for a party; None while it has no message.

    Raises NotFound, PermissionDenied for anyone but the two parties.
    """
    contract = Contract.objects.filter(pk=contract_id).first()
    if contract is None:
        raise NotFound("No such contract.")
    if not (contract.student_id == by.pk or is_company_member_of(by, contract.company_id)):
        raise PermissionDenied("Only the two parties keep a read mark on the thread.")
    thread = thread_for_contract(contract=contract)
    if thread is not None:
        thread_mark_read(thread_id=thread.pk, by=by)
    return thread
