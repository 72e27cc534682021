"""What every page view needs: role checks and pagination."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

PAGE_SIZE = 20
View = Callable[..., HttpResponse]


def role_required(*roles: str) -> Callable[[View], View]:
    """Sign-in first (redirect), then 403 unless the user's role is one of `roles`."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.user.role not in roles:
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return login_required(wrapped)

    return decorator


def paginate(request: HttpRequest, queryset: QuerySet | list, *, per_page: int = PAGE_SIZE) -> Page:
    """The page named by `?page=` (the last one when past the end, the first when not a number)."""
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))
