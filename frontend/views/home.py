"""The signed-in home: each role lands on its own dashboard."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

# The dashboard of each role; a role without one sees the generic welcome.
ROLE_HOME: dict[str, str] = {
    "company": "frontend:company-dashboard",
    "coordinator": "frontend:coordinator-dashboard",
    "student": "frontend:student-dashboard",
}


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    if request.user.role in ROLE_HOME:
        return redirect(ROLE_HOME[request.user.role])
    if request.user.is_staff:
        return redirect("admin:index")
    return render(request, "frontend/home.html")
