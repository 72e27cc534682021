"""What an OPTIONS request answers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework.metadata import SimpleMetadata
from rest_framework.request import Request

if TYPE_CHECKING:  # rest_framework.views imports this module through its settings
    from rest_framework.views import APIView


class DescriptionMetadata(SimpleMetadata):
    """Name, description, media types; the fields are in the OpenAPI schema at /api/schema/.

    DRF's default also lists each write field, which needs a view-level
    serializer our one-view-per-use-case views do not have.
    """

    def determine_metadata(self, request: Request, view: APIView) -> dict[str, Any]:
        return {
            "name": view.get_view_name(),
            "description": view.get_view_description(),
            "renders": [renderer.media_type for renderer in view.renderer_classes],
            "parses": [parser.media_type for parser in view.parser_classes],
            "schema": "/api/schema/",
        }
