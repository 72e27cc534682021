"""The signed-in user's notifications, whatever their role: read them, mark them read.

A notification's `url` was written for the API (`/api/v1/contracts/12/`);
`web_url` turns it into the page of the reader's role that shows the same
thing. The routes are at the end (`urlpatterns`, included under `/notifications/`).
"""

from __future__ import annotations

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from frontend.shortcuts import paginate
from marketplace.errors import NotFound
from marketplace.notifications import notification_mark_all_read, notification_mark_read
from marketplace.selectors import notification_list

# API path → {role: the web page's url name}; the first match wins.
WEB_PAGES: list[tuple[re.Pattern[str], dict[str, str]]] = [
    (
        re.compile(r"^/api/v1/contracts/(?P<pk>\d+)/"),
        {"company": "frontend:company-contract", "student": "frontend:student-contract"},
    ),
    (
        re.compile(r"^/api/v1/projects/(?P<pk>\d+)/bids/"),
        {"company": "frontend:company-bids", "student": "frontend:student-brief"},
    ),
    (
        re.compile(r"^/api/v1/projects/(?P<pk>\d+)/"),
        {"company": "frontend:company-brief", "student": "frontend:student-brief"},
    ),
    (
        re.compile(r"^/api/v1/verifications/"),
        {"coordinator": "frontend:coordinator-queue", "student": "frontend:student-verification"},
    ),
]


def web_url(url: str, *, role: str) -> str:
    """The web page for a notification's API `url` and the reader's `role`; else `url` itself.

    `/api/v1/contracts/12/reviews/` → `/company/contracts/12/` for a company
    member, `/student/contracts/12/` for a student. Admin and outside links are kept.
    """
    for pattern, pages in WEB_PAGES:
        match = pattern.match(url)
        if match:
            if role not in pages:
                return url
            return reverse(pages[role], kwargs=match.groupdict())
    return url


def _list_query(request: HttpRequest) -> str:
    """`?page=…&unread=…` of the list the user acted from, to go back to it."""
    kept = {k: request.GET[k] for k in ("page", "unread") if request.GET.get(k)}
    return f"?{urlencode(kept)}" if kept else ""


@login_required
@require_GET
def notifications(request: HttpRequest) -> HttpResponse:
    """The user's own notifications, newest first; `?unread=1` lists the unread ones only."""
    unread_only = request.GET.get("unread") == "1"
    page = paginate(request, notification_list(user=request.user, unread=unread_only or None))
    rows = [{"notification": n, "url": web_url(n.url, role=request.user.role)} for n in page]
    return render(
        request,
        "frontend/notifications/list.html",
        {"page": page, "rows": rows, "unread_only": unread_only},
    )


@login_required
@require_POST
def notification_read(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one of the user's notifications read (404 for anyone else's)."""
    try:
        notification_mark_read(user=request.user, notification_id=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    messages.success(request, _("Marked as read."))
    return redirect(reverse("frontend:notifications") + _list_query(request))


@login_required
@require_POST
def notifications_read_all(request: HttpRequest) -> HttpResponse:
    """Mark every unread notification of the user read."""
    marked = notification_mark_all_read(user=request.user)
    if marked:
        text = ngettext(
            "%(count)d notification marked as read.",
            "%(count)d notifications marked as read.",
            marked,
        )
        messages.success(request, text % {"count": marked})
    else:
        messages.info(request, _("Everything was read already."))
    return redirect("frontend:notifications")


urlpatterns = [
    path("", notifications, name="notifications"),
    path("read-all/", notifications_read_all, name="notifications-read-all"),
    path("<int:pk>/read/", notification_read, name="notification-read"),
]
