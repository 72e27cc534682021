"""Shared pieces of the API views."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from marketplace.api.pagination import PageNumberPagination


class ListApi(GenericAPIView):
    """A list route: `self.paginated(queryset, Serializer)` answers one page.

    Being a GenericAPIView with a paginator lets the OpenAPI schema show the
    `count`/`next`/`previous`/`results` envelope.
    """

    pagination_class = PageNumberPagination

    def paginated(
        self,
        queryset: QuerySet[Any],
        serializer_class: type[serializers.BaseSerializer],
        context: dict[str, Any] | None = None,
    ) -> Response:
        page = self.paginate_queryset(queryset)
        context = {"request": self.request, **(context or {})}
        data = serializer_class(page, many=True, context=context).data
        return self.get_paginated_response(data)


def get_visible(queryset: QuerySet[Any], pk: int) -> Any:
    """The object `pk` from a queryset already scoped to the user; 404 when it is not there."""
    return get_object_or_404(queryset, pk=pk)
