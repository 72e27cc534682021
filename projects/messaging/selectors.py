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

from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce

from marketplace.errors import PermissionDenied
from marketplace.models import User
from marketplace.selectors import user_company_id
from projects.briefs.models import Project
from projects.briefs.permissions import is_company_member_of
from projects.contracts.models import Contract, Dispute
from projects.messaging.models import Message, Thread, ThreadRead


def _open_dispute_on_thread() -> Exists:
    return Exists(
        Dispute.objects.filter(
            status=Dispute.Status.OPEN,
            milestone__contract__project_id=OuterRef("project_id"),
            milestone__contract__student_id=OuterRef("student_id"),
        )
    )


def thread_visible_to(*, user: User) -> QuerySet[Thread]:
    """Threads the user may read: their own as a student, their company's briefs', and for
    staff the threads of contracts with an open dispute."""
    qs = Thread.objects.all()
    if user.is_staff:
        return qs.filter(_open_dispute_on_thread())
    company_id = user_company_id(user=user)
    if company_id is not None:
        return qs.filter(project__company_id=company_id)
    if user.role == User.Role.STUDENT:
        return qs.filter(student=user)
    return qs.none()


def _unread_for(user: User) -> Coalesce:
    last_read = ThreadRead.objects.filter(thread_id=OuterRef("thread_id"), user=user).values(
        "last_read_at"
    )[:1]
    unread = (
        Message.objects.filter(thread_id=OuterRef("pk"))
        .exclude(author=user)
        .annotate(last_read=Subquery(last_read))
        .filter(Q(last_read__isnull=True) | Q(created_at__gt=F("last_read")))
        .order_by()
        .values("thread_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(unread, output_field=IntegerField()), Value(0))


def thread_list_for_project(*, project: Project, user: User) -> QuerySet[Thread]:
    """The brief's threads the user may read (the company: all; a student: theirs), with
    `message_count`, `unread_count` and `last_message_at`, newest activity first."""
    return (
        thread_visible_to(user=user)
        .filter(project=project)
        .select_related("student")
        .annotate(
            message_count=Count("messages", distinct=True),
            last_message_at=Max("messages__created_at"),
            unread_count=_unread_for(user),
        )
        .order_by(F("last_message_at").desc(nulls_last=True), "-id")
    )


def thread_for_contract(*, contract: Contract) -> Thread | None:
    """The contract's thread, or None while nobody wrote in it."""
    return Thread.objects.filter(
        project_id=contract.project_id, student_id=contract.student_id
    ).first()


def thread_contract(*, thread: Thread) -> Contract | None:
    """The contract this thread belongs to, or None while it is questions on a brief."""
    return Contract.objects.filter(
        project_id=thread.project_id, student_id=thread.student_id
    ).first()


def message_list(*, thread: Thread | None) -> QuerySet[Message]:
    """A thread's messages, newest first, with authors and attachments (constant queries)."""
    if thread is None:
        return Message.objects.none()
    return (
        Message.objects.filter(thread=thread)
        .select_related("author")
        .prefetch_related("attachments")
        .order_by("-created_at", "-id")
    )


def thread_unread_count(*, thread: Thread | None, user: User) -> int:
    """Messages of the thread written by others since the user last read it."""
    if thread is None:
        return 0
    last = ThreadRead.objects.filter(thread=thread, user=user).values("last_read_at")[:1]
    qs = Message.objects.filter(thread=thread).exclude(author=user)
    return qs.filter(Q(created_at__gt=Subquery(last)) | ~Exists(last)).count()


def staff_may_read_contract_thread(*, contract: Contract) -> bool:
    return Dispute.objects.filter(milestone__contract=contract, status=Dispute.Status.OPEN).exists()


def contract_thread_read_check(*, user: User, contract: Contract) -> None:
    """Allow the two parties, and staff while a dispute is open on the contract.

    For a contract the user may see (staff see every contract); raises
    PermissionDenied otherwise.
    """
    if contract.student_id == user.pk or is_company_member_of(user, contract.company_id):
        return
    if user.is_staff and staff_may_read_contract_thread(contract=contract):
        return
    raise PermissionDenied("Staff read a contract's messages only while a dispute is open.")


def question_threads_check(*, user: User, project: Project) -> None:
    """Who may list a visible brief's questions: its company (all threads), students (their
    own) and staff (disputed ones). Raises PermissionDenied for other companies and
    coordinators."""
    allowed = (
        is_company_member_of(user, project.company_id)
        or user.role == User.Role.STUDENT
        or user.is_staff
    )
    if not allowed:
        raise PermissionDenied("Only the brief's company and students see its questions.")
