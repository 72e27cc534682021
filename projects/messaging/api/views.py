"""Messages: a contract's thread, and questions on a brief before a bid is accepted.

Rules in `projects.messaging.selectors` and `.services`. JSON (`{"body"}`) or
multipart (`body`, `files` repeated) for writing; the answer to a new message
carries `warnings` (contact details typed before a contract exists) without
changing the text.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.api.mixins import ListApi, get_visible
from marketplace.api.pagination import PageNumberPagination
from marketplace.api.parsers import JSONParser
from projects.briefs.selectors import project_list
from projects.contracts.api.serializers import AttachmentOutput
from projects.contracts.selectors import contract_visible_to
from projects.messaging.models import Thread
from projects.messaging.selectors import (
    contract_thread_read_check,
    message_list,
    question_threads_check,
    thread_for_contract,
    thread_list_for_project,
    thread_unread_count,
    thread_visible_to,
)
from projects.messaging.services import (
    Posted,
    contract_message_post,
    contract_thread_mark_read,
    question_ask,
    thread_mark_read,
    thread_message_post,
)

PARSERS = [JSONParser, MultiPartParser, FormParser]


class AuthorRef(serializers.Serializer):
    id = serializers.IntegerField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    name = serializers.CharField(
        source="display_name", help_text='the name to show; "Erased user" for an erased account'
    )


class MessageOutput(serializers.Serializer):
    id = serializers.IntegerField()
    thread = serializers.IntegerField(source="thread_id")
    author = AuthorRef()
    body = serializers.CharField()
    attachments = AttachmentOutput(many=True)
    created_at = serializers.DateTimeField()


class WarningOutput(serializers.Serializer):
    code = serializers.ChoiceField(choices=["contact_email", "contact_phone", "contact_handle"])
    message = serializers.CharField()


class PostedOutput(MessageOutput):
    warnings = WarningOutput(many=True)


class ThreadOutput(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.IntegerField(source="project_id")
    student = AuthorRef()
    message_count = serializers.IntegerField()
    unread_count = serializers.IntegerField()
    last_message_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class MessageInput(serializers.Serializer):
    body = serializers.CharField(
        max_length=10_000, required=False, allow_blank=True, default="", trim_whitespace=False
    )
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True, use_url=False),
        required=False,
        default=list,
        help_text="multipart only: one `files` part per file",
    )


class ReadOutput(serializers.Serializer):
    thread = serializers.IntegerField(allow_null=True)
    unread_count = serializers.IntegerField()


class MessagePage(PageNumberPagination):
    """A page of one thread's messages, with the thread and the caller's unread count."""

    extra_fields = {
        "thread": {"type": "integer", "nullable": True, "description": "null before a message"},
        "unread_count": {"type": "integer", "description": "the caller's unread messages"},
    }


def _posted(request: Request, posted: Posted) -> Response:
    message = message_list(thread=posted.message.thread).get(pk=posted.message.pk)
    data = {**MessageOutput(message).data, "warnings": posted.warnings}
    return Response(data, status=status.HTTP_201_CREATED)


class ContractMessagesApi(ListApi):
    """The contract's thread, newest first, with `thread` and the caller's `unread_count`
    beside the page. The two parties write; staff read it while a dispute is open."""

    parser_classes = PARSERS
    pagination_class = MessagePage

    @extend_schema(responses=MessageOutput(many=True))
    def get(self, request: Request, pk: int) -> Response:
        contract = get_visible(contract_visible_to(user=request.user), pk)
        contract_thread_read_check(user=request.user, contract=contract)
        thread = thread_for_contract(contract=contract)
        response = self.paginated(message_list(thread=thread), MessageOutput)
        response.data["thread"] = thread.pk if thread else None
        response.data["unread_count"] = thread_unread_count(thread=thread, user=request.user)
        return response

    @extend_schema(
        request={"application/json": MessageInput, "multipart/form-data": MessageInput},
        responses={201: PostedOutput},
    )
    def post(self, request: Request, pk: int) -> Response:
        get_visible(contract_visible_to(user=request.user), pk)
        data = MessageInput(data=request.data)
        data.is_valid(raise_exception=True)
        posted = contract_message_post(contract_id=pk, by=request.user, **data.validated_data)
        return _posted(request, posted)


class ContractMessagesReadApi(APIView):
    """Mark the contract's thread read up to now (the two parties)."""

    @extend_schema(request=None, responses=ReadOutput)
    def post(self, request: Request, pk: int) -> Response:
        get_visible(contract_visible_to(user=request.user), pk)
        thread = contract_thread_mark_read(contract_id=pk, by=request.user)
        return Response({"thread": thread.pk if thread else None, "unread_count": 0})


class ProjectQuestionsApi(ListApi):
    """Questions on a brief: its company lists every student's thread, a student their own.
    A student asks by POST (the thread is created with the first question)."""

    parser_classes = PARSERS

    @extend_schema(responses=ThreadOutput(many=True))
    def get(self, request: Request, pk: int) -> Response:
        project = get_visible(project_list(user=request.user), pk)
        question_threads_check(user=request.user, project=project)
        threads = thread_list_for_project(project=project, user=request.user)
        return self.paginated(threads, ThreadOutput)

    @extend_schema(
        request={"application/json": MessageInput, "multipart/form-data": MessageInput},
        responses={201: PostedOutput},
    )
    def post(self, request: Request, pk: int) -> Response:
        get_visible(project_list(user=request.user), pk)
        data = MessageInput(data=request.data)
        data.is_valid(raise_exception=True)
        return _posted(request, question_ask(project_id=pk, by=request.user, **data.validated_data))


def _thread(request: Request, pk: int, thread_pk: int) -> Thread:
    return get_visible(thread_visible_to(user=request.user).filter(project_id=pk), thread_pk)


class QuestionThreadMessagesApi(ListApi):
    """One thread on a brief, newest first, with the caller's `unread_count`; its company
    answers, its student follows up."""

    parser_classes = PARSERS
    pagination_class = MessagePage

    @extend_schema(responses=MessageOutput(many=True))
    def get(self, request: Request, pk: int, thread_pk: int) -> Response:
        thread = _thread(request, pk, thread_pk)
        response = self.paginated(message_list(thread=thread), MessageOutput)
        response.data["thread"] = thread.pk
        response.data["unread_count"] = thread_unread_count(thread=thread, user=request.user)
        return response

    @extend_schema(
        request={"application/json": MessageInput, "multipart/form-data": MessageInput},
        responses={201: PostedOutput},
    )
    def post(self, request: Request, pk: int, thread_pk: int) -> Response:
        _thread(request, pk, thread_pk)
        data = MessageInput(data=request.data)
        data.is_valid(raise_exception=True)
        posted = thread_message_post(thread_id=thread_pk, by=request.user, **data.validated_data)
        return _posted(request, posted)


class QuestionThreadReadApi(APIView):
    """Mark a thread on a brief read up to now (its participants)."""

    @extend_schema(request=None, responses=ReadOutput)
    def post(self, request: Request, pk: int, thread_pk: int) -> Response:
        _thread(request, pk, thread_pk)
        thread_mark_read(thread_id=thread_pk, by=request.user)
        return Response({"thread": thread_pk, "unread_count": 0})
