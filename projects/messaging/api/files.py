"""Deliveries with files, and the one way files come out: a permission-checked download.

Checks and storage in `projects.messaging.files`. A file is never on a public path: the
download route answers 404 to whoever may not see its delivery or message,
then streams it as an attachment with the detected type and `nosniff`, or
redirects to a signed URL valid `FILE_URL_MAX_AGE` seconds (S3).
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

from django.http import FileResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.api.mixins import get_visible
from marketplace.api.parsers import JSONParser
from projects.contracts.api.serializers import MilestoneOutput
from projects.contracts.selectors import milestone_visible_to
from projects.messaging.files import (
    attachment_open,
    attachment_signed_url,
    attachment_visible_to,
    delivery_submit_with_files,
)
from projects.messaging.models import Attachment


class MilestoneDeliveriesApi(APIView):
    """The student delivers with files: multipart `note`, `url` and one `files` part per file.

    Files are accepted by content (PDF, PNG, JPEG, GIF, WebP, ZIP, DOCX, XLSX,
    PPTX, UTF-8 text), at most `MAX_UPLOAD_BYTES` each; a refused file is a 400
    on `files` and nothing is delivered. `POST …/submit/` still takes JSON.
    """

    parser_classes = [MultiPartParser, FormParser, JSONParser]

    class InputSerializer(serializers.Serializer):
        note = serializers.CharField(
            max_length=10_000, required=False, allow_blank=True, default=""
        )
        url = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")
        files = serializers.ListField(
            child=serializers.FileField(allow_empty_file=True, use_url=False),
            required=False,
            default=list,
        )

    @extend_schema(
        request={"multipart/form-data": InputSerializer}, responses={201: MilestoneOutput}
    )
    def post(self, request: Request, pk: int) -> Response:
        get_visible(milestone_visible_to(user=request.user), pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        delivery_submit_with_files(milestone_id=pk, by=request.user, **data.validated_data)
        milestone = get_visible(milestone_visible_to(user=request.user), pk)
        out = MilestoneOutput(milestone, context={"request": request}).data
        return Response(out, status=status.HTTP_201_CREATED)


def _disposition(name: str) -> str:
    fallback = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "'")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"


class FileDownloadApi(APIView):
    """Download a delivered or attached file: the contract's parties and staff (a message's
    file: whoever may read its thread). Always as an attachment, never rendered inline."""

    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            302: OpenApiResponse(description="to a signed URL of the storage, when enabled"),
        }
    )
    def get(self, request: Request, file_id: uuid.UUID) -> FileResponse | HttpResponseRedirect:
        attachment: Attachment = get_object_or_404(
            attachment_visible_to(user=request.user), uuid=file_id
        )
        signed = attachment_signed_url(attachment=attachment)
        if signed is not None:
            return HttpResponseRedirect(signed)
        response = FileResponse(
            attachment_open(attachment=attachment), content_type=attachment.content_type
        )
        response["Content-Disposition"] = _disposition(attachment.name)
        response["Content-Length"] = str(attachment.size)
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response
