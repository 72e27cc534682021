"""Page-number pagination: `count`, `next`, `previous`, `results`; `page_size` up to 100."""

from __future__ import annotations

from rest_framework import pagination
from rest_framework.exceptions import NotFound, ValidationError


def _is_positive_int(raw: str) -> bool:
    # isdigit() alone lets "²" through and int() refuses over 4300 digits: both were 500s.
    return raw.isascii() and raw.isdigit() and raw.strip("0") != ""


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 100
    #: Fields a view adds beside the page (name → OpenAPI schema): the schema declares them.
    extra_fields: dict[str, dict] = {}

    def get_schema_operation_parameters(self, view):  # type: ignore[no-untyped-def]
        params = super().get_schema_operation_parameters(view)
        for param in params:
            param["schema"] = {**param["schema"], "minimum": 1}  # 0 and below answer 400
            if param["name"] == self.page_size_query_param:
                param["description"] = f"Results per page, at most {self.max_page_size}."
        return params

    def get_paginated_response_schema(self, schema):  # type: ignore[no-untyped-def]
        out = super().get_paginated_response_schema(schema)
        if self.extra_fields:
            out["properties"] = {**out["properties"], **self.extra_fields}
            out["required"] = [*out.get("required", []), *self.extra_fields]
        return out

    def get_page_size(self, request):  # type: ignore[no-untyped-def]
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None and not _is_positive_int(raw):
            raise ValidationError({"page_size": ["A positive whole number is required."]})
        return super().get_page_size(request)

    def paginate_queryset(self, queryset, request, view=None):  # type: ignore[no-untyped-def]
        raw = request.query_params.get(self.page_query_param)
        if raw is not None and raw not in self.last_page_strings and not _is_positive_int(raw):
            raise ValidationError({"page": ["A positive whole number is required."]})
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound as exc:
            raise ValidationError({"page": ["This page does not exist."]}) from exc
