"""The user's own personal data: download it, erase the account (GDPR art. 15, 17, 20)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from marketplace.privacy import account_erase, password_confirm, personal_data_export


class PersonalDataExportThrottle(ScopedRateThrottle):
    """PERSONAL_DATA_EXPORT_RATE exports per user (default 5/hour), read at each request:
    an export reads every table and every file the user has."""

    scope = "personal-data-export"

    def get_rate(self) -> str:
        return settings.PERSONAL_DATA_EXPORT_RATE


class PersonalDataExportApi(APIView):
    """A ZIP of all your personal data: `data.json` (one entry per section), `README.txt`
    (what each section is) and your files under `files/`. 429 past
    PERSONAL_DATA_EXPORT_RATE."""

    throttle_classes = [PersonalDataExportThrottle]
    throttle_scope = "personal-data-export"

    @extend_schema(
        responses={
            (200, "application/zip"): OpenApiResponse(
                response=OpenApiTypes.BINARY, description="the archive, as an attachment"
            )
        }
    )
    def get(self, request: Request) -> HttpResponse:
        archive = personal_data_export(user=request.user)
        response = HttpResponse(archive, content_type="application/zip")
        name = f"personal-data-{request.user.pk}.zip"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["Cache-Control"] = "no-store"
        return response


class AccountEraseApi(APIView):
    """Erase your account: your personal data is anonymised, what the law keeps stays
    without your name, and you are signed out everywhere. 400 (field `password`) for a
    wrong password; 409 with `blockers` while something must be settled first."""

    class InputSerializer(serializers.Serializer):
        password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
        reason = serializers.CharField(max_length=2000, required=False, allow_blank=True)

    @extend_schema(
        request=InputSerializer,
        responses={
            204: None,
            409: inline_serializer(
                "AccountEraseBlocked",
                {
                    "detail": serializers.CharField(),
                    "code": serializers.CharField(),
                    "blockers": serializers.ListField(child=serializers.CharField()),
                },
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        password_confirm(user=request.user, password=data.validated_data["password"])
        account_erase(
            user_id=request.user.pk,
            by=request.user,
            reason=data.validated_data.get("reason", ""),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
