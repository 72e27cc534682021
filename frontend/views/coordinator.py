"""The school coordinator's pages: requests to review, verified students, audit trail, charts.

A coordinator sees only their school. Every verification is found through
`verification_list_for` (the API's scope, so another school's is a 404), and
every decision goes through the same services as the API, which write the
audit trail. The queue's buttons work with htmx (the request's card is
replaced, the outcome announced) and without it (post, message, redirect).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from frontend.charts import Formatter, Series, bar_chart, chart_table, line_chart
from frontend.forms import form_add_domain_error
from frontend.forms.coordinator import RejectForm, RevokeForm
from frontend.money import format_money
from frontend.shortcuts import paginate, role_required
from marketplace.errors import DomainError
from marketplace.models import User
from projects.briefs.lifecycle import verification_revoke_and_withdraw_bids
from projects.contracts.reports import (
    school_completed_contracts_by_month,
    school_earnings_by_month,
    school_verified_students_by_month,
)
from projects.contracts.selectors import school_students_report
from projects.reviews.school_students import school_students_csv, school_students_with_results
from schools.models import (
    Coordinator,
    EnrolmentVerification,
    verification_expiring_q,
    verification_in_force_q,
)
from schools.selectors import verification_events_for_school, verification_list_for
from schools.services import verification_approve, verification_reject

coordinator_only = role_required(User.Role.COORDINATOR)
V = EnrolmentVerification.Status


def _coordinator(request: HttpRequest) -> Coordinator:
    """The signed-in coordinator with their school (403 for an account not tied to one)."""
    coordinator = Coordinator.objects.select_related("school").filter(user=request.user).first()
    if coordinator is None:
        raise PermissionDenied
    return coordinator


def _school_verification(request: HttpRequest, pk: int) -> EnrolmentVerification:
    """A verification of the coordinator's school, whatever its state (404 for another school's)."""
    return get_object_or_404(verification_list_for(user=request.user), pk=pk)


def _chart(
    points: Series,
    *,
    title: str,
    header: str,
    value_format: Formatter = str,
    kind: Callable[..., SafeString] = bar_chart,
) -> dict[str, str]:
    """A chart (a bar chart unless `kind` says otherwise) and the same series as a table."""
    return {
        "title": title,
        "svg": kind(points, title=title, value_format=value_format, y_label=header),
        "table": chart_table(
            points,
            caption=title,
            label_header=_("Month"),
            value_header=header,
            value_format=value_format,
        ),
    }


def _money_format(currency: str) -> Formatter:
    return lambda cents: format_money(cents, currency)


@coordinator_only
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """Counts (to review, verified, ending soon) and the school's last 12 months."""
    coordinator = _coordinator(request)
    school_id = coordinator.school_id
    # One query: the rules of `.in_force()` and `.expiring()` as conditional counts.
    counts = verification_list_for(user=request.user).aggregate(
        pending=Count("pk", filter=Q(status=V.PENDING_REVIEW)),
        verified=Count("pk", filter=verification_in_force_q()),
        expiring=Count("pk", filter=verification_expiring_q()),
    )
    charts = [
        _chart(
            school_verified_students_by_month(school_id=school_id),
            title=_("Verified students at the end of each month"),
            header=_("Students"),
            kind=line_chart,
        ),
        _chart(
            school_completed_contracts_by_month(school_id=school_id),
            title=_("Contracts completed each month"),
            header=_("Contracts"),
        ),
    ]
    for currency, points in school_earnings_by_month(school_id=school_id).items():
        charts.append(
            _chart(
                points,
                title=_("Paid to the students each month (%(currency)s)") % {"currency": currency},
                header=_("Paid"),
                value_format=_money_format(currency),
            )
        )
    context = {
        "school": coordinator.school,
        "counts": counts,
        "expiring_days": settings.VERIFICATION_EXPIRING_DAYS,
        "charts": charts,
    }
    return render(request, "frontend/coordinator/dashboard.html", context)


@coordinator_only
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    """The requests whose student confirmed the school address, oldest first."""
    coordinator = _coordinator(request)
    requests = (
        verification_list_for(user=request.user)
        .filter(status=V.PENDING_REVIEW)
        .order_by("created_at", "id")
    )
    page = paginate(request, requests)
    rows = [(v, RejectForm(auto_id=f"id_%s_{v.pk}")) for v in page]
    context = {"school": coordinator.school, "page": page, "rows": rows}
    return render(request, "frontend/coordinator/queue.html", context)


def _decided(request: HttpRequest, verification: EnrolmentVerification, text: str) -> HttpResponse:
    """After a decision: htmx gets the request's card in its new state, a browser a redirect."""
    if request.htmx:
        context = {"verification": verification, "outcome": text}
        return render(request, "frontend/coordinator/request_decided.html", context)
    messages.success(request, text)
    return redirect("frontend:coordinator-queue")


def _refused(request: HttpRequest, exc: DomainError) -> HttpResponse:
    """A service refused (decided meanwhile, say): the reason, then back to the queue."""
    if request.htmx:
        context = {"outcome": exc.message, "error": True}
        return render(request, "frontend/coordinator/request_decided.html", context)
    messages.error(request, exc.message)
    return redirect("frontend:coordinator-queue")


@coordinator_only
@require_POST
def approve(request: HttpRequest, pk: int) -> HttpResponse:
    """Vouch that the student is enrolled: they may bid from now on."""
    verification = _school_verification(request, pk)
    try:
        verification = verification_approve(verification_id=verification.pk, by=request.user)
    except DomainError as exc:
        return _refused(request, exc)
    name = verification.student.full_name
    return _decided(request, verification, _("%(name)s is verified.") % {"name": name})


@coordinator_only
@require_http_methods(["GET", "POST"])
def reject(request: HttpRequest, pk: int) -> HttpResponse:
    """Refuse a request with a reason (GET: the form on its own page)."""
    verification = _school_verification(request, pk)
    form = RejectForm(request.POST or None, auto_id=f"id_%s_{verification.pk}")
    if request.method == "POST" and form.is_valid():
        try:
            verification = verification_reject(
                verification_id=verification.pk, by=request.user, **form.cleaned_data
            )
        except DomainError as exc:
            if exc.field != "reason":
                return _refused(request, exc)
            form_add_domain_error(form, exc)
        else:
            text = _("The request of %(name)s is rejected.") % {
                "name": verification.student.full_name
            }
            return _decided(request, verification, text)
    context = {"verification": verification, "form": form}
    if request.htmx:
        return render(request, "frontend/coordinator/request_card.html", context)
    return render(request, "frontend/coordinator/reject.html", context)


@coordinator_only
@require_GET
def students(request: HttpRequest) -> HttpResponse:
    """The school's verified students with their results, by name."""
    coordinator = _coordinator(request)
    page = paginate(request, school_students_report(school_id=coordinator.school_id))
    page.object_list = school_students_with_results(page.object_list)
    return render(
        request, "frontend/coordinator/students.html", {"school": coordinator.school, "page": page}
    )


@coordinator_only
@require_GET
def students_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The same list as the API's export, every student at once (UTF-8 CSV)."""
    coordinator = _coordinator(request)
    response = StreamingHttpResponse(
        school_students_csv(school_id=coordinator.school_id), content_type="text/csv; charset=utf-8"
    )
    filename = f"school-{coordinator.school_id}-students.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@coordinator_only
@require_http_methods(["GET", "POST"])
def revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """Withdraw a verification in force, with a reason; the student's open bids are withdrawn."""
    verification = _school_verification(request, pk)
    form = RevokeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            verification_revoke_and_withdraw_bids(
                verification_id=verification.pk, by=request.user, **form.cleaned_data
            )
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            text = _("The verification of %(name)s is revoked; their open bids are withdrawn.")
            messages.success(request, text % {"name": verification.student.full_name})
            return redirect("frontend:coordinator-students")
    return render(
        request, "frontend/coordinator/revoke.html", {"verification": verification, "form": form}
    )


@coordinator_only
@require_GET
def audit(request: HttpRequest) -> HttpResponse:
    """Every change of the school's verifications: who, when, from what to what, why."""
    coordinator = _coordinator(request)
    page = paginate(request, verification_events_for_school(school_id=coordinator.school_id))
    return render(
        request, "frontend/coordinator/audit.html", {"school": coordinator.school, "page": page}
    )


# Included under /school/ by `frontend.urls`; the names join the `frontend` namespace.
urlpatterns = [
    path("", dashboard, name="coordinator-dashboard"),
    path("requests/", queue, name="coordinator-queue"),
    path("requests/<int:pk>/approve/", approve, name="coordinator-approve"),
    path("requests/<int:pk>/reject/", reject, name="coordinator-reject"),
    path("students/", students, name="coordinator-students"),
    path("students/export.csv", students_csv, name="coordinator-students-csv"),
    path("students/<int:pk>/revoke/", revoke, name="coordinator-revoke"),
    path("audit/", audit, name="coordinator-audit"),
]
