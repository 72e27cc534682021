"""Accounts, the current user, skills and the student's own profile."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.api.auth import AuthRateThrottle
from marketplace.api.mixins import ListApi
from marketplace.api.pagination import PageNumberPagination
from marketplace.errors import PermissionDenied
from marketplace.models import StudentProfile, User
from marketplace.money import CURRENCY_CHOICES
from marketplace.notifications import notification_mark_all_read, notification_mark_read
from marketplace.selectors import (
    notification_list,
    notification_unread_count,
    skill_list,
    student_profile_get,
    student_profile_skills,
    user_company,
)
from marketplace.services import student_profile_update, user_register


class SkillOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()
    category = serializers.CharField()


class StudentProfileOutput(serializers.Serializer):
    headline = serializers.CharField()
    bio = serializers.CharField()
    skills = serializers.SerializerMethodField()
    day_rate_cents = serializers.IntegerField(allow_null=True)
    currency = serializers.CharField()
    availability = serializers.CharField()
    portfolio_links = serializers.ListField(child=serializers.URLField())

    def get_skills(self, obj: StudentProfile) -> list[str]:
        return sorted(s.slug for s in student_profile_skills(obj))


class CompanyOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class UserOutput(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    role = serializers.CharField()
    is_staff = serializers.BooleanField()


class RegisterApi(APIView):
    """Create a company member (and their company) or a student account."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    throttle_classes = [AuthRateThrottle]
    throttle_scope = "auth"

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254)
        password = serializers.CharField(max_length=128, write_only=True)
        role = serializers.ChoiceField(choices=[User.Role.COMPANY, User.Role.STUDENT])
        first_name = serializers.CharField(max_length=150)
        last_name = serializers.CharField(max_length=150)
        company_name = serializers.CharField(
            max_length=200, required=False, allow_blank=True, default=""
        )

    @extend_schema(request=InputSerializer, responses={201: UserOutput})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_register(**data.validated_data)
        return Response(UserOutput(user).data, status=status.HTTP_201_CREATED)


class MeApi(APIView):
    """The signed-in user, their role and profile (student profile, company or school)."""

    class OutputSerializer(UserOutput):
        company = serializers.SerializerMethodField()
        student_profile = serializers.SerializerMethodField()
        school_id = serializers.SerializerMethodField()

        def get_company(self, obj: User) -> dict | None:
            company = user_company(user=obj)
            return CompanyOutput(company).data if company else None

        def get_student_profile(self, obj: User) -> dict | None:
            profile = getattr(obj, "student_profile", None)
            return StudentProfileOutput(profile).data if profile else None

        def get_school_id(self, obj: User) -> int | None:
            coordinator = getattr(obj, "coordinator", None)
            return coordinator.school_id if coordinator else None

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer(request.user).data)


class SkillListApi(ListApi):
    """The skills catalogue; `search` matches the name."""

    permission_classes = [AllowAny]

    class FilterSerializer(serializers.Serializer):
        search = serializers.CharField(required=False, max_length=200)

    @extend_schema(parameters=[FilterSerializer], responses=SkillOutput(many=True))
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return self.paginated(skill_list(**filters.validated_data), SkillOutput)


class StudentMeApi(APIView):
    """The student's own profile: read and change it."""

    class InputSerializer(serializers.Serializer):
        headline = serializers.CharField(max_length=200, required=False, allow_blank=True)
        bio = serializers.CharField(max_length=10_000, required=False, allow_blank=True)
        skills = serializers.ListField(
            child=serializers.SlugField(max_length=220), required=False, max_length=100
        )
        day_rate_cents = serializers.IntegerField(
            min_value=0, max_value=100_000_000, required=False, allow_null=True
        )
        currency = serializers.ChoiceField(choices=CURRENCY_CHOICES, required=False)
        availability = serializers.ChoiceField(
            choices=StudentProfile.Availability.choices, required=False
        )
        portfolio_links = serializers.ListField(
            child=serializers.URLField(max_length=500), required=False, max_length=5
        )

    def _profile(self, request: Request) -> StudentProfile:
        if request.user.role != User.Role.STUDENT:
            raise PermissionDenied("Only students have a student profile.")
        return student_profile_get(user=request.user)

    @extend_schema(responses=StudentProfileOutput)
    def get(self, request: Request) -> Response:
        return Response(StudentProfileOutput(self._profile(request)).data)

    @extend_schema(request=InputSerializer, responses=StudentProfileOutput)
    def patch(self, request: Request) -> Response:
        self._profile(request)
        data = self.InputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        profile = student_profile_update(user=request.user, **data.validated_data)
        profile = StudentProfile.objects.prefetch_related("skills").get(pk=profile.pk)
        return Response(StudentProfileOutput(profile).data)


class NotificationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    title = serializers.CharField()
    url = serializers.CharField()
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True)


class NotificationPage(PageNumberPagination):
    extra_fields = {
        "unread_count": {"type": "integer", "description": "the caller's unread notifications"}
    }


class NotificationListApi(ListApi):
    """The caller's own notifications, newest first, with `unread_count` beside the page.

    `unread=true` lists only unread ones.
    """

    pagination_class = NotificationPage

    class FilterSerializer(serializers.Serializer):
        unread = serializers.BooleanField(required=False, allow_null=True, default=None)

    @extend_schema(parameters=[FilterSerializer], responses=NotificationOutput(many=True))
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        qs = notification_list(user=request.user, unread=filters.validated_data["unread"])
        response = self.paginated(qs, NotificationOutput)
        response.data["unread_count"] = notification_unread_count(user=request.user)
        return response


class NotificationReadApi(APIView):
    """Mark one of the caller's notifications read."""

    @extend_schema(request=None, responses=NotificationOutput)
    def post(self, request: Request, pk: int) -> Response:
        notification = notification_mark_read(user=request.user, notification_id=pk)
        return Response(NotificationOutput(notification).data)


class NotificationReadAllApi(APIView):
    """Mark all of the caller's notifications read; answers how many changed."""

    class OutputSerializer(serializers.Serializer):
        marked = serializers.IntegerField()

    @extend_schema(request=None, responses=OutputSerializer)
    def post(self, request: Request) -> Response:
        return Response({"marked": notification_mark_all_read(user=request.user)})
