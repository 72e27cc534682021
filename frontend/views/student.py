"""The student's pages: verification, profile, briefs and bids, contracts, payouts, earnings.

Each view finds its object through the selector the API uses (404 outside the
student's scope), then calls one service, which checks the role and the state.
The routes are at the end (`urlpatterns`, included under `/student/`).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from frontend.charts import bar_chart, chart_table
from frontend.forms import form_add_domain_error
from frontend.forms.student import (
    BidForm,
    BriefSearchForm,
    CompanyReviewForm,
    DeliveryForm,
    ProfileForm,
    SchoolEmailForm,
    VerificationForm,
)
from frontend.money import format_money
from frontend.money_trail import contract_money_trail
from frontend.shortcuts import paginate, role_required
from frontend.views import common
from frontend.views.common import act, own_contract, review_page
from marketplace.errors import DomainError, TransientError
from marketplace.models import User
from marketplace.selectors import notification_unread_count, student_profile_get
from marketplace.services import student_profile_update
from payments.selectors import payout_account_get
from projects.briefs.filters import ProjectFilter
from projects.briefs.matching import brief_score_parts, recommended_briefs
from projects.briefs.models import Bid, Project
from projects.briefs.policies import bid_actions, brief_actions
from projects.briefs.selectors import bid_visible_to, project_list
from projects.briefs.services import bid_submit, bid_withdraw
from projects.contracts.models import Contract, Milestone
from projects.contracts.policies import contract_actions, milestone_actions
from projects.contracts.reports import student_earnings_by_month
from projects.contracts.selectors import (
    contract_visible_to,
    milestone_progress,
    milestone_visible_to,
    student_earnings,
)
from projects.contracts.services import student_payouts_onboard
from projects.messaging.files import delivery_submit_with_files
from projects.reviews.selectors import contract_review_state
from schools.models import EnrolmentVerification, School
from schools.selectors import school_list, verification_list_for
from schools.services import verification_request

student_only = role_required(User.Role.STUDENT)
V = EnrolmentVerification.Status
OPEN_BIDS = (Bid.Status.SUBMITTED, Bid.Status.SHORTLISTED)
DASHBOARD_ROWS = 3


# --- helpers ----------------------------------------------------------------------------


def _verification_state(user: User) -> tuple[str, EnrolmentVerification | None]:
    """The student's latest verification and its state, `expired` once past graduation.

    `none` when they never asked. A student cannot ask again while one is
    pending or in force, so the latest one is the one that counts.
    """
    latest = verification_list_for(user=user).first()
    if latest is None:
        return "none", None
    if latest.status == V.VERIFIED and not latest.is_in_force():
        return V.EXPIRED, latest
    return latest.status, latest


@dataclass(frozen=True)
class Reason:
    text: str
    points: int
    max_points: int


def _reasons(project: Project) -> list[Reason]:
    """The parts of a recommended brief's score as sentences in the reader's language."""
    p = project
    texts: dict[str, str] = {}
    if p.skill_count:  # type: ignore[attr-defined]
        texts["skills"] = ngettext(
            "You have %(have)s of its %(count)s skill.",
            "You have %(have)s of its %(count)s skills.",
            p.skill_count,  # type: ignore[attr-defined]
        ) % {"have": p.matched_count, "count": p.skill_count}  # type: ignore[attr-defined]
    else:
        texts["skills"] = _("The brief lists no skills.")
    texts["budget"] = (
        _("Your day rate fits its budget.")
        if p.p_budget  # type: ignore[attr-defined]
        else _("No day rate of yours in its currency within its budget.")
    )
    texts["school"] = (
        _("Meant for students of your school.")
        if p.p_school  # type: ignore[attr-defined]
        else _("Open to every verified student.")
    )
    if p.deadline is None:
        texts["deadline"] = _("No deadline.")
    elif p.p_deadline:  # type: ignore[attr-defined]
        texts["deadline"] = _("Deadline on %(date)s: time enough.") % {"date": p.deadline}
    else:
        texts["deadline"] = _("Deadline on %(date)s: less than a week away.") % {"date": p.deadline}
    return [
        Reason(texts.get(part.name, part.detail), part.points, part.max_points)
        for part in brief_score_parts(project=p)
    ]


def _recommended(user: User, limit: int) -> list[dict[str, object]]:
    return [
        {"project": p, "reasons": _reasons(p)} for p in recommended_briefs(student=user)[:limit]
    ]


# --- dashboard and verification -----------------------------------------------------------


@student_only
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """Verification and its next step, recommended briefs, open bids, running contracts."""
    user = request.user
    state, verification = _verification_state(user)
    bids = bid_visible_to(user=user).filter(status__in=OPEN_BIDS).order_by("-created_at", "-id")
    contracts = (
        contract_visible_to(user=user)
        .filter(status__in=[Contract.Status.ACTIVE, Contract.Status.DISPUTED])
        .select_related("project", "company")
        .order_by("-created_at", "-id")
    )
    context = {
        "state": state,
        "verification": verification,
        "recommended": _recommended(user, DASHBOARD_ROWS),
        "bids": bids[:DASHBOARD_ROWS],
        "contracts": contracts[:DASHBOARD_ROWS],
        "unread": notification_unread_count(user=user),
        "payouts": payout_account_get(user_id=user.pk),
    }
    return render(request, "frontend/student/dashboard.html", context)


@student_only
@require_http_methods(["GET", "POST"])
def verification(request: HttpRequest) -> HttpResponse:
    """Ask the school to verify you: the address first, then the school accepting it.

    `?school_email=` lists the schools whose domains accept the address (as
    `GET /api/v1/schools/?email=`); the POST is `verification_request`, which
    e-mails the confirmation link.
    """
    state, current = _verification_state(request.user)
    context: dict[str, object] = {"state": state, "verification": current}
    if state in (V.PENDING_EMAIL, V.PENDING_REVIEW, V.VERIFIED):
        return render(request, "frontend/student/verification.html", context)
    source = request.POST if request.method == "POST" else request.GET
    email_form = SchoolEmailForm(source if "school_email" in source else None)
    schools = _schools_for(email_form)
    form = None
    if schools is not None:
        form = VerificationForm(
            request.POST or None,
            schools=schools,
            initial={"school_email": email_form.cleaned_data["school_email"]},
        )
    if request.method == "POST" and form is not None and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            verification_request(student=request.user, **data)
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            messages.success(
                request,
                _("We sent a confirmation link to %(email)s. Open it to continue.")
                % {"email": data["school_email"]},
            )
            return redirect("frontend:student-verification")
    context.update(email_form=email_form, form=form, schools=schools)
    status = 400 if request.method == "POST" else 200
    return render(request, "frontend/student/verification.html", context, status=status)


def _schools_for(email_form: SchoolEmailForm) -> QuerySet[School] | None:
    """The schools accepting the form's address (None before a valid address is typed)."""
    if not email_form.is_bound or not email_form.is_valid():
        return None
    try:
        return school_list(email=email_form.cleaned_data["school_email"])
    except DomainError as exc:
        form_add_domain_error(email_form, exc)
        return None


# --- profile --------------------------------------------------------------------------------


@student_only
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    current = student_profile_get(user=request.user)
    form = ProfileForm(request.POST or None, initial=ProfileForm.initial_for(current))
    if request.method == "POST" and form.is_valid():
        try:
            student_profile_update(user=request.user, **form.service_kwargs())
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            messages.success(request, _("Profile saved."))
            return redirect("frontend:student-profile")
    return render(request, "frontend/student/profile.html", {"form": form})


# The same suggestions as the company's picker, behind the student's role check.
skill_search = student_only(require_GET(common.skill_search))


# --- briefs and bids ---------------------------------------------------------------------


@student_only
@require_GET
def briefs(request: HttpRequest) -> HttpResponse:
    """Open briefs through `ProjectFilter` (as `GET /api/v1/projects/`), recommended ones first.

    htmx requests get the results fragment only. A value the filter refuses
    shows the form's errors (400 without htmx, so the swap still happens with it).
    """
    form = BriefSearchForm(request.GET)
    results = Project.objects.none()
    recommended: list[dict[str, object]] = []
    if form.is_valid():
        filters = ProjectFilter(form.filter_data(), queryset=project_list(user=request.user))
        if filters.is_valid():
            results = filters.qs
            first_page = request.GET.get("page", "1") == "1"
            if not form.is_filtered() and first_page:
                recommended = _recommended(request.user, DASHBOARD_ROWS)
        else:
            for name, errors in filters.errors.items():
                for error in errors:
                    form.add_error(name if name in form.fields else None, error)
    page = paginate(request, results)
    context = {"form": form, "page": page, "recommended": recommended}
    if request.htmx and not request.htmx.history_restore_request:  # type: ignore[attr-defined]
        return render(request, "frontend/student/brief_results.html", context)
    return render(
        request, "frontend/student/briefs.html", context, status=400 if form.errors else 200
    )


@student_only
@require_http_methods(["GET", "POST"])
def brief_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A brief the student may see, their bid on it (to withdraw) or the form to bid."""
    project = get_object_or_404(project_list(user=request.user), pk=pk)
    bid = bid_visible_to(user=request.user).filter(project=project).first()
    form = BidForm(request.POST or None, currency=project.currency)
    if request.method == "POST" and form.is_valid():
        try:
            bid_submit(
                project_id=project.pk,
                by=request.user,
                amount_cents=form.cleaned_data["amount_cents"],
                estimated_days=form.cleaned_data["estimated_days"],
                cover_letter=form.cleaned_data["cover_letter"],
            )
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            messages.success(request, _("Bid sent. The company will read it."))
            return redirect("frontend:student-brief", pk=project.pk)
    context = {
        "project": project,
        "bid": bid,
        "form": form,
        "actions": brief_actions(project=project, user=request.user),
        "bid_actions": bid_actions(bid=bid, user=request.user) if bid else None,
    }
    return render(request, "frontend/student/brief_detail.html", context)


@student_only
@require_POST
def bid_withdraw_view(request: HttpRequest, pk: int) -> HttpResponse:
    bid = get_object_or_404(bid_visible_to(user=request.user), pk=pk)
    act(request, bid_withdraw, _("Bid withdrawn."), bid_id=bid.pk)
    return redirect("frontend:student-brief", pk=bid.project_id)


@student_only
@require_GET
def bids(request: HttpRequest) -> HttpResponse:
    qs = (
        bid_visible_to(user=request.user)
        .select_related("project__company")
        .order_by("-created_at", "-id")
    )
    return render(request, "frontend/student/bids.html", {"page": paginate(request, qs)})


# --- contracts, deliveries, reviews -----------------------------------------------------


@student_only
@require_GET
def contracts(request: HttpRequest) -> HttpResponse:
    qs = (
        contract_visible_to(user=request.user)
        .select_related("project", "company")
        .order_by("-created_at", "-id")
    )
    return render(request, "frontend/student/contracts.html", {"page": paginate(request, qs)})


def _contract_page(
    request: HttpRequest,
    contract: Contract,
    *,
    failed: tuple[int, DeliveryForm] | None = None,
) -> HttpResponse:
    """The contract with its milestones, what the company asked to change and the money trail.

    `failed` is a delivery form with errors, shown again under its milestone.
    """
    rows = []
    for m in contract.milestones.all():
        form = failed[1] if failed and failed[0] == m.pk else DeliveryForm(prefix=f"m{m.pk}")
        changes = [
            e for e in m.events.all() if e.to_status == Milestone.WorkStatus.CHANGES_REQUESTED
        ]
        rows.append(
            {
                "milestone": m,
                "status": milestone_progress(m),
                "form": form,
                "changes": changes,
                "actions": milestone_actions(milestone=m, user=request.user),
            }
        )
    trail = contract_money_trail(contract=contract, viewer=request.user)
    context = {
        "contract": contract,
        "actions": contract_actions(contract=contract, user=request.user),
        "milestones": rows,
        "trail": trail,
        "reviews": contract_review_state(contract=contract, user=request.user),
        "payouts": payout_account_get(user_id=request.user.pk),
    }
    return render(
        request,
        "frontend/student/contract_detail.html",
        context,
        status=400 if failed else 200,
    )


@student_only
@require_GET
def contract_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _contract_page(request, own_contract(request, pk))


@student_only
@require_POST
def milestone_deliver(request: HttpRequest, pk: int) -> HttpResponse:
    """Deliver a funded milestone with a note, a link and files (`delivery_submit_with_files`)."""
    milestone = get_object_or_404(milestone_visible_to(user=request.user), pk=pk)
    form = DeliveryForm(request.POST, request.FILES, prefix=f"m{pk}")
    if form.is_valid():
        try:
            delivery_submit_with_files(milestone_id=pk, by=request.user, **form.cleaned_data)
        except DomainError as exc:
            if exc.field not in form.fields:  # the milestone's state, not what was typed
                messages.error(request, exc.message)
                return redirect("frontend:student-contract", pk=milestone.contract_id)
            form_add_domain_error(form, exc)
        else:
            messages.success(request, _("Delivery sent. The company will review it."))
            return redirect("frontend:student-contract", pk=milestone.contract_id)
    contract = own_contract(request, milestone.contract_id)
    return _contract_page(request, contract, failed=(pk, form))


@student_only
@require_http_methods(["GET", "POST"])
def contract_review(request: HttpRequest, pk: int) -> HttpResponse:
    """The student's review of the company, once the contract ended (`review_submit`)."""
    return review_page(
        request,
        own_contract(request, pk),
        CompanyReviewForm(request.POST or None),
        template="frontend/student/review.html",
        contract_url="frontend:student-contract",
    )


# --- money ----------------------------------------------------------------------------------


@student_only
@require_http_methods(["GET", "POST"])
def payouts(request: HttpRequest) -> HttpResponse:
    """The payout account's state; POST starts the onboarding and sends the student there."""
    if request.method == "POST":
        try:
            link = student_payouts_onboard(user=request.user)
        except TransientError:
            messages.error(
                request, _("The payment provider cannot be reached just now. Try again soon.")
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            return redirect(link.url)
        return redirect("frontend:student-payouts")
    account = payout_account_get(user_id=request.user.pk)
    return render(request, "frontend/student/payouts.html", {"account": account})


@student_only
@require_GET
def earnings(request: HttpRequest) -> HttpResponse:
    """Totals per currency, and what was paid each month of the last year as a chart."""
    user = request.user
    totals = student_earnings(student_ids=[user.pk])[user.pk]
    series = student_earnings_by_month(student_id=user.pk, months=12) or {"EUR": []}
    charts = [
        {"currency": currency, **_earnings_chart(points, currency)}
        for currency, points in sorted(series.items())
    ]
    return render(
        request,
        "frontend/student/earnings.html",
        {"totals": sorted(totals.items()), "charts": charts},
    )


def _earnings_chart(points: list, currency: str) -> dict[str, SafeString]:
    def fmt(cents: int) -> str:
        return format_money(cents, currency)

    title = _("What you were paid each month, in %(currency)s") % {"currency": currency}
    return {
        "chart": bar_chart(
            points,
            title=title,
            value_format=fmt,
            x_label=_("Month"),
            y_label=_("Paid to you"),
            chart_id=f"earnings-{currency.lower()}",
        ),
        "table": chart_table(
            points,
            caption=title,
            label_header=_("Month"),
            value_header=_("Paid to you"),
            value_format=fmt,
        ),
    }


urlpatterns = [
    path("", dashboard, name="student-dashboard"),
    path("verification/", verification, name="student-verification"),
    path("profile/", profile, name="student-profile"),
    path("skills/", skill_search, name="student-skill-search"),
    path("briefs/", briefs, name="student-briefs"),
    path("briefs/<int:pk>/", brief_detail, name="student-brief"),
    path("bids/", bids, name="student-bids"),
    path("bids/<int:pk>/withdraw/", bid_withdraw_view, name="student-bid-withdraw"),
    path("contracts/", contracts, name="student-contracts"),
    path("contracts/<int:pk>/", contract_detail, name="student-contract"),
    path("contracts/<int:pk>/review/", contract_review, name="student-review"),
    path("milestones/<int:pk>/deliver/", milestone_deliver, name="student-deliver"),
    path("payouts/", payouts, name="student-payouts"),
    path("earnings/", earnings, name="student-earnings"),
]
