"""Schools, enrolment verifications and coordinators."""

from __future__ import annotations

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.api.mixins import ListApi, get_visible
from schools.models import EnrolmentVerification, School, VerificationEvent
from schools.permissions import school_staff_check
from schools.selectors import school_list, verification_events_for_school, verification_list_for
from schools.services import (
    coordinator_create,
    verification_approve,
    verification_confirm_email,
    verification_reject,
    verification_request,
)


class SchoolOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    country = serializers.CharField(help_text="ISO 3166-1 alpha-2 code")
    country_name = serializers.CharField()
    web_pages = serializers.ListField(child=serializers.CharField())
    is_partner = serializers.BooleanField()
    domains = serializers.SerializerMethodField()

    def get_domains(self, obj: School) -> list[str]:
        return [d.domain for d in obj.domains.all()]


class VerificationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    student = serializers.SerializerMethodField()
    school = serializers.IntegerField(source="school_id")
    school_name = serializers.CharField(source="school.name")
    school_email = serializers.EmailField()
    program = serializers.CharField()
    graduation_date = serializers.DateField()
    status = serializers.CharField()
    reason = serializers.CharField()
    email_confirmed_at = serializers.DateTimeField(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()

    def get_student(self, obj: EnrolmentVerification) -> dict:
        return {
            "id": obj.student_id,
            "first_name": obj.student.first_name,
            "last_name": obj.student.last_name,
        }


class SchoolListApi(ListApi):
    """Schools with their e-mail domains; `country` is ISO alpha-2, `search` a name or domain."""

    permission_classes = [AllowAny]

    class FilterSerializer(serializers.Serializer):
        country = serializers.RegexField(
            r"^[A-Za-z]{2}$",
            required=False,
            error_messages={"invalid": "Use a two-letter ISO code."},
        )
        search = serializers.CharField(required=False, max_length=200)
        email = serializers.CharField(
            required=False, max_length=254, help_text="schools accepting this school address"
        )
        partner = serializers.BooleanField(required=False, allow_null=True, default=None)

    @extend_schema(parameters=[FilterSerializer], responses=SchoolOutput(many=True))
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return self.paginated(school_list(**filters.validated_data), SchoolOutput)


class SchoolDetailApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=SchoolOutput)
    def get(self, request: Request, pk: int) -> Response:
        return Response(SchoolOutput(get_visible(school_list(), pk)).data)


class VerificationListCreateApi(ListApi):
    """Students ask to be verified; coordinators list their school's requests (students their own).

    `status` filters the list.
    """

    class InputSerializer(serializers.Serializer):
        school = serializers.PrimaryKeyRelatedField(queryset=School.objects.all())
        school_email = serializers.CharField(max_length=254)
        program = serializers.CharField(max_length=200)
        graduation_date = serializers.DateField()

    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(
            choices=EnrolmentVerification.Status.choices, required=False
        )

    @extend_schema(parameters=[FilterSerializer], responses=VerificationOutput(many=True))
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        qs = verification_list_for(user=request.user)
        if "status" in filters.validated_data:
            qs = qs.filter(status=filters.validated_data["status"])
        return self.paginated(qs, VerificationOutput)

    @extend_schema(request=InputSerializer, responses={201: VerificationOutput})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        verification = verification_request(student=request.user, **data.validated_data)
        return Response(VerificationOutput(verification).data, status=status.HTTP_201_CREATED)


class AddressConfirmedOutput(serializers.Serializer):
    detail = serializers.CharField()


class VerificationConfirmApi(APIView):
    """Confirm the school address with the token from the e-mailed link.

    Answers the verification to its student, `{"detail": "Address confirmed."}` to anyone else.
    """

    class InputSerializer(serializers.Serializer):
        token = serializers.CharField(max_length=2000)

    @extend_schema(
        request=InputSerializer,
        responses=PolymorphicProxySerializer(
            component_name="VerificationConfirmed",
            serializers=[VerificationOutput, AddressConfirmedOutput],
            resource_type_field_name=None,
        ),
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        verification = verification_confirm_email(token=data.validated_data["token"])
        if verification.student_id != request.user.pk:
            # The token is proof of the mailbox; only its owner is told the result.
            return Response({"detail": "Address confirmed."})
        return Response(VerificationOutput(verification).data)


class VerificationApproveApi(APIView):
    """The coordinator of the request's school approves it (pending_review → verified)."""

    @extend_schema(request=None, responses=VerificationOutput)
    def post(self, request: Request, pk: int) -> Response:
        get_visible(verification_list_for(user=request.user), pk)
        return Response(
            VerificationOutput(verification_approve(verification_id=pk, by=request.user)).data
        )


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class VerificationRejectApi(APIView):
    """The coordinator rejects a request with a reason the student reads."""

    @extend_schema(request=ReasonInput, responses=VerificationOutput)
    def post(self, request: Request, pk: int) -> Response:
        get_visible(verification_list_for(user=request.user), pk)
        data = ReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        verification = verification_reject(
            verification_id=pk, by=request.user, **data.validated_data
        )
        return Response(VerificationOutput(verification).data)


class VerificationEventOutput(serializers.Serializer):
    id = serializers.IntegerField()
    verification = serializers.IntegerField(source="verification_id")
    student = serializers.SerializerMethodField()
    actor = serializers.SerializerMethodField()
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()

    def get_student(self, obj: VerificationEvent) -> dict:
        student = obj.verification.student
        return {"id": student.pk, "first_name": student.first_name, "last_name": student.last_name}

    def get_actor(self, obj: VerificationEvent) -> dict | None:
        if obj.actor is None:
            return None  # the platform itself, e.g. the daily expiry
        return {"id": obj.actor_id, "name": obj.actor.full_name, "role": obj.actor.role}


class SchoolAuditTrailApi(ListApi):
    """Every decision on the school's verifications (who, when, from, to, why), newest first.

    The school's coordinators and staff only.
    """

    @extend_schema(responses=VerificationEventOutput(many=True))
    def get(self, request: Request, pk: int) -> Response:
        get_visible(school_list(), pk)
        school_staff_check(user=request.user, school_id=pk)
        return self.paginated(verification_events_for_school(school_id=pk), VerificationEventOutput)


class CoordinatorCreateApi(APIView):
    """Staff create a school coordinator; without a password an invitation e-mail is sent."""

    permission_classes = [IsAdminUser]

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254)
        school = serializers.PrimaryKeyRelatedField(queryset=School.objects.all())
        first_name = serializers.CharField(max_length=150)
        last_name = serializers.CharField(max_length=150)
        password = serializers.CharField(
            max_length=128, required=False, allow_blank=True, write_only=True
        )

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField(source="user_id")
        email = serializers.EmailField(source="user.email")
        school = serializers.IntegerField(source="school_id")
        invited = serializers.SerializerMethodField()

        def get_invited(self, obj) -> bool:  # type: ignore[no-untyped-def]
            return not obj.user.has_usable_password()

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        coordinator = coordinator_create(**data.validated_data, by=request.user)
        return Response(self.OutputSerializer(coordinator).data, status=status.HTTP_201_CREATED)
