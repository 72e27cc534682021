"""Briefs, bids, contracts, milestones and their money, one view per use case.

Every view first finds the object through a selector scoped to the caller (404
when it is not theirs to see), then calls one service, which checks the role
(403) and the state (409)."""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.api.mixins import ListApi, get_visible
from marketplace.money import CURRENCY_CHOICES
from projects.briefs.api.serializers import BidOutput, ProjectOutput
from projects.briefs.filters import ProjectFilter
from projects.briefs.models import Project
from projects.briefs.selectors import bid_list_for_project, bid_visible_to, project_list
from projects.briefs.services import (
    bid_reject,
    bid_shortlist,
    bid_submit,
    bid_withdraw,
    project_cancel,
    project_create,
    project_publish,
    project_update,
)


def _project_out(request: Request, pk: int) -> dict:
    project = get_visible(project_list(user=request.user), pk)
    return ProjectOutput(project, context={"request": request}).data  # type: ignore[return-value]


def _bid_out(request: Request, pk: int) -> dict:
    bid = get_visible(bid_visible_to(user=request.user), pk)
    return BidOutput(bid, context={"request": request}).data  # type: ignore[return-value]


class ProjectInput(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=20_000)
    category = serializers.ChoiceField(choices=Project.Category.choices, required=False)
    kind = serializers.ChoiceField(choices=Project.Kind.choices, required=False)
    visibility = serializers.ChoiceField(choices=Project.Visibility.choices, required=False)
    budget_cents = serializers.IntegerField(min_value=1, max_value=10**12)
    currency = serializers.ChoiceField(choices=CURRENCY_CHOICES, required=False)
    deadline = serializers.DateField(required=False, allow_null=True)
    skills = serializers.ListField(
        child=serializers.SlugField(max_length=220), required=False, max_length=50
    )
    allowed_schools = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**62), required=False, max_length=100
    )


class ProjectListCreateApi(ListApi):
    """Briefs the caller may see, filtered; company members create drafts."""

    filter_backends = [DjangoFilterBackend]
    filterset_class = ProjectFilter
    queryset = Project.objects.none()  # for the schema; rows come from project_list

    @extend_schema(responses=ProjectOutput(many=True))
    def get(self, request: Request) -> Response:
        return self.paginated(self.filter_queryset(project_list(user=request.user)), ProjectOutput)

    @extend_schema(request=ProjectInput, responses={201: ProjectOutput})
    def post(self, request: Request) -> Response:
        data = ProjectInput(data=request.data)
        data.is_valid(raise_exception=True)
        project = project_create(by=request.user, **data.validated_data)
        return Response(_project_out(request, project.pk), status=status.HTTP_201_CREATED)


class ProjectDetailApi(APIView):
    """One brief; its company edits it while it is a draft or open."""

    @extend_schema(responses=ProjectOutput)
    def get(self, request: Request, pk: int) -> Response:
        return Response(_project_out(request, pk))

    @extend_schema(request=ProjectInput(partial=True), responses=ProjectOutput)
    def patch(self, request: Request, pk: int) -> Response:
        get_visible(project_list(user=request.user), pk)
        data = ProjectInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        project_update(project_id=pk, by=request.user, **data.validated_data)
        return Response(_project_out(request, pk))


class ProjectPublishApi(APIView):
    """draft → open: students can see and bid."""

    @extend_schema(request=None, responses=ProjectOutput)
    def post(self, request: Request, pk: int) -> Response:
        get_visible(project_list(user=request.user), pk)
        project_publish(project_id=pk, by=request.user)
        return Response(_project_out(request, pk))


class ProjectCancelApi(APIView):
    """draft/open → cancelled; pending bids are rejected."""

    @extend_schema(request=None, responses=ProjectOutput)
    def post(self, request: Request, pk: int) -> Response:
        get_visible(project_list(user=request.user), pk)
        project_cancel(project_id=pk, by=request.user)
        return Response(_project_out(request, pk))


class ProjectBidsApi(ListApi):
    """The brief's company sees every bid, a student their own; verified students bid."""

    class InputSerializer(serializers.Serializer):
        amount_cents = serializers.IntegerField(min_value=1, max_value=10**12)
        estimated_days = serializers.IntegerField(min_value=1, max_value=3650)
        cover_letter = serializers.CharField(max_length=10_000)

    @extend_schema(responses=BidOutput(many=True))
    def get(self, request: Request, pk: int) -> Response:
        project = get_visible(project_list(user=request.user), pk)
        return self.paginated(bid_list_for_project(project=project, user=request.user), BidOutput)

    @extend_schema(request=InputSerializer, responses={201: BidOutput})
    def post(self, request: Request, pk: int) -> Response:
        get_visible(project_list(user=request.user), pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        bid = bid_submit(project_id=pk, by=request.user, **data.validated_data)
        return Response(_bid_out(request, bid.pk), status=status.HTTP_201_CREATED)


class BidWithdrawApi(APIView):
    @extend_schema(request=None, responses=BidOutput)
    def post(self, request: Request, pk: int) -> Response:
        get_visible(bid_visible_to(user=request.user), pk)
        bid = bid_withdraw(bid_id=pk, by=request.user)
        return Response(_bid_out(request, bid.pk))


class BidShortlistApi(APIView):
    @extend_schema(request=None, responses=BidOutput)
    def post(self, request: Request, pk: int) -> Response:
        get_visible(bid_visible_to(user=request.user), pk)
        bid_shortlist(bid_id=pk, by=request.user)
        return Response(_bid_out(request, pk))


class BidRejectApi(APIView):
    @extend_schema(request=None, responses=BidOutput)
    def post(self, request: Request, pk: int) -> Response:
        get_visible(bid_visible_to(user=request.user), pk)
        bid_reject(bid_id=pk, by=request.user)
        return Response(_bid_out(request, pk))
