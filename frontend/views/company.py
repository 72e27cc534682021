"""The company's pages: briefs, matches, bids, contracts, funding, deliveries, money, reviews,
spending charts and the company's own reputation.

Each view finds its object through the selector the API uses (404 outside the
company's scope), then calls one service, which checks the role and the state.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from frontend.charts import bar_chart, chart_table
from frontend.forms import Form, form_add_domain_error
from frontend.forms.company import (
    BriefForm,
    ContractCancelForm,
    DisputeForm,
    MilestoneFormSet,
    NoteForm,
    ReplyForm,
    ReviewForm,
    TestCardForm,
    formset_add_domain_error,
    milestone_initial,
)
from frontend.money import format_money
from frontend.money_trail import contract_money_trail
from frontend.shortcuts import paginate, role_required
from frontend.views import common
from frontend.views.common import PICKER_RESULTS, act, own_contract, review_page
from marketplace.errors import DomainError
from marketplace.models import User
from marketplace.selectors import user_company_id
from payments.models import Escrow
from projects.briefs.matching import match_candidates, schools_in_force, score_parts
from projects.briefs.models import Bid, Project
from projects.briefs.permissions import can_manage_project
from projects.briefs.policies import bid_actions, brief_actions
from projects.briefs.selectors import bid_list_for_project, bid_visible_to, project_list
from projects.briefs.services import (
    bid_reject,
    bid_shortlist,
    project_cancel,
    project_create,
    project_publish,
    project_update,
)
from projects.contracts.disputes import milestone_dispute
from projects.contracts.models import Contract, Milestone
from projects.contracts.policies import contract_actions, milestone_actions
from projects.contracts.reports import company_spending_by_month, company_spending_by_project
from projects.contracts.selectors import (
    contract_list,
    contract_visible_to,
    milestone_progress,
    milestone_visible_to,
)
from projects.contracts.services import (
    MilestoneSpec,
    bid_accept,
    contract_cancel,
    milestone_approve,
    milestone_fund,
    milestone_request_changes,
)
from projects.reviews.selectors import company_reputation, review_list_public_for_company
from projects.reviews.services import review_reply_create
from schools.selectors import school_list

company_only = role_required(User.Role.COMPANY)


def _own_project(request: HttpRequest, pk: int) -> Project:
    """The brief if visible (404 otherwise), and only when the user's company owns it (403)."""
    project = get_object_or_404(project_list(user=request.user), pk=pk)
    if not can_manage_project(request.user, project):
        raise PermissionDenied
    return project


def _company_briefs(request: HttpRequest):  # type: ignore[no-untyped-def]
    return project_list(user=request.user).filter(company_id=user_company_id(user=request.user))


def _act_on_form(
    request: HttpRequest,
    form: Form,
    invalid: str,
    action: Callable[..., object],
    success: str,
    **kwargs: object,
) -> None:
    """`act` with the form's cleaned fields as more of the service's arguments.

    A form that does not validate runs nothing: the `invalid` message says what is missing.
    """
    if form.is_valid():
        act(request, action, success, **kwargs, **form.cleaned_data)
    else:
        messages.error(request, invalid)


@company_only
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """The company's briefs (newest first) and how many contracts are running."""
    briefs = paginate(request, _company_briefs(request))
    contracts = contract_visible_to(user=request.user).aggregate(
        active=Count("pk", filter=Q(status=Contract.Status.ACTIVE)),
        disputed=Count("pk", filter=Q(status=Contract.Status.DISPUTED)),
        completed=Count("pk", filter=Q(status=Contract.Status.COMPLETED)),
    )
    return render(
        request, "frontend/company/dashboard.html", {"page": briefs, "contracts": contracts}
    )


@company_only
@require_http_methods(["GET", "POST"])
def brief_create(request: HttpRequest) -> HttpResponse:
    form = BriefForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = project_create(by=request.user, **form.service_kwargs())
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            messages.success(request, _("Brief saved as a draft. Publish it when it is ready."))
            return redirect("frontend:company-brief", pk=project.pk)
    return render(request, "frontend/company/brief_form.html", {"form": form, "project": None})


@company_only
@require_http_methods(["GET", "POST"])
def brief_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit a brief; once the policy refuses (work started, cancelled…) its reason, no form."""
    project = _own_project(request, pk)
    edit = brief_actions(project=project, user=request.user)["edit"]
    form = BriefForm(request.POST or None, initial=BriefForm.initial_for(project))
    if request.method == "POST" and edit.allowed and form.is_valid():
        try:
            project_update(project_id=project.pk, by=request.user, **form.service_kwargs())
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            messages.success(request, _("Brief saved."))
            return redirect("frontend:company-brief", pk=project.pk)
    context = {"form": form, "project": project, "edit": edit}
    return render(request, "frontend/company/brief_form.html", context)


@company_only
@require_GET
def brief_detail(request: HttpRequest, pk: int) -> HttpResponse:
    project = _own_project(request, pk)
    contract = contract_visible_to(user=request.user).filter(project=project).first()
    context = {
        "project": project,
        "contract": contract,
        "actions": brief_actions(project=project, user=request.user),
    }
    return render(request, "frontend/company/brief_detail.html", context)


@company_only
@require_POST
def brief_publish(request: HttpRequest, pk: int) -> HttpResponse:
    project = _own_project(request, pk)
    act(request, project_publish, _("Brief published: students can now bid."), project_id=pk)
    return redirect("frontend:company-brief", pk=project.pk)


@company_only
@require_POST
def brief_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    project = _own_project(request, pk)
    act(request, project_cancel, _("Brief cancelled; its open bids were declined."), project_id=pk)
    return redirect("frontend:company-brief", pk=project.pk)


@company_only
@require_GET
def brief_matches(request: HttpRequest, pk: int) -> HttpResponse:
    """Students ranked for the brief, each with the parts of the score as reasons."""
    project = _own_project(request, pk)
    page = paginate(request, match_candidates(project=project))
    schools = schools_in_force(student_ids=[p.user_id for p in page])
    rows = [
        {
            "profile": p,
            "school": schools.get(p.user_id),
            "parts": score_parts(profile=p, school=schools.get(p.user_id)),
        }
        for p in page
    ]
    return render(
        request,
        "frontend/company/matches.html",
        {"project": project, "page": page, "rows": rows},
    )


@company_only
@require_GET
def brief_bids(request: HttpRequest, pk: int) -> HttpResponse:
    project = _own_project(request, pk)
    page = paginate(request, bid_list_for_project(project=project, user=request.user))
    rows = [{"bid": bid, "actions": bid_actions(bid=bid, user=request.user)} for bid in page]
    return render(
        request, "frontend/company/bids.html", {"project": project, "page": page, "rows": rows}
    )


def _own_bid(request: HttpRequest, pk: int) -> Bid:
    bid = get_object_or_404(bid_visible_to(user=request.user), pk=pk)
    if not can_manage_project(request.user, bid.project):
        raise PermissionDenied
    return bid


@company_only
@require_POST
def bid_shortlist_view(request: HttpRequest, pk: int) -> HttpResponse:
    bid = _own_bid(request, pk)
    act(request, bid_shortlist, _("Bid shortlisted."), bid_id=pk)
    return redirect("frontend:company-bids", pk=bid.project_id)


@company_only
@require_POST
def bid_reject_view(request: HttpRequest, pk: int) -> HttpResponse:
    bid = _own_bid(request, pk)
    act(request, bid_reject, _("Bid declined; the student is told."), bid_id=pk)
    return redirect("frontend:company-bids", pk=bid.project_id)


@company_only
@require_http_methods(["GET", "POST"])
def bid_accept_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Accept a bid with its milestones (one for the whole amount unless split).

    When the policy refuses (a decided bid, a brief no longer open…) the page
    says why instead of offering the form, and a POST changes nothing.
    """
    bid = _own_bid(request, pk)
    accept = bid_actions(bid=bid, user=request.user)["accept"]
    formset = MilestoneFormSet(
        request.POST or None,
        currency=bid.currency,
        total_cents=bid.amount_cents,
        initial=milestone_initial(
            title=bid.project.title,
            amount_cents=bid.amount_cents,
            currency=bid.currency,
            days=bid.estimated_days,
        ),
        prefix="milestones",
    )
    if request.method == "POST" and accept.allowed and formset.is_valid():
        specs = [
            MilestoneSpec(
                title=f.cleaned_data["title"],
                amount_cents=f.cleaned_data["amount_cents"],
                due_date=f.cleaned_data.get("due_date"),
            )
            for f in formset.forms
            if f.cleaned_data
        ]
        try:
            contract = bid_accept(bid_id=bid.pk, by=request.user, milestones=specs)
        except DomainError as exc:
            formset_add_domain_error(formset, exc)
        else:
            messages.success(
                request, _("Bid accepted: the contract is ready. Fund the first milestone.")
            )
            return redirect("frontend:company-contract", pk=contract.pk)
    context = {"bid": bid, "formset": formset, "accept": accept}
    return render(request, "frontend/company/bid_accept.html", context)


@company_only
@require_GET
def contracts(request: HttpRequest) -> HttpResponse:
    page = paginate(request, contract_list(user=request.user))
    return render(request, "frontend/company/contracts.html", {"page": page})


@company_only
@require_GET
def contract_detail(request: HttpRequest, pk: int) -> HttpResponse:
    contract = own_contract(request, pk)
    milestones = [
        {
            "milestone": m,
            "status": milestone_progress(m),
            "open_dispute": _open_dispute(m),
            "actions": milestone_actions(milestone=m, user=request.user),
        }
        for m in contract.milestones.all()
    ]
    # contract_cancel re-checks everything under lock.
    actions = contract_actions(contract=contract, user=request.user)
    return render(
        request,
        "frontend/company/contract_detail.html",
        {
            "contract": contract,
            "actions": actions,
            "milestones": milestones,
            "note_form": NoteForm(),
            "dispute_form": DisputeForm(),
            "cancel_form": ContractCancelForm() if actions.allowed("cancel") else None,
            "refund_cents": sum(
                row["milestone"].escrow.charge_cents
                for row in milestones
                if row["milestone"].escrow.status == Escrow.Status.FUNDED
            ),
        },
    )


@company_only
@require_POST
def contract_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Cancel a contract before any delivery; funded milestones are refunded in full."""
    contract = own_contract(request, pk)
    _act_on_form(
        request,
        ContractCancelForm(request.POST),
        _("Say why the contract is cancelled."),
        contract_cancel,
        _("Contract cancelled: the money held in escrow is refunded to you in full."),
        contract_id=contract.pk,
    )
    return redirect("frontend:company-contract", pk=contract.pk)


def _open_dispute(milestone: Milestone) -> bool:
    return any(d.status == d.Status.OPEN for d in milestone.disputes.all())


def _own_milestone(request: HttpRequest, pk: int) -> Milestone:
    return get_object_or_404(milestone_visible_to(user=request.user), pk=pk)


@company_only
@require_http_methods(["GET", "POST"])
def milestone_fund_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Pay a milestone into escrow: the test card form (dummy gateway) or Stripe.js."""
    milestone = _own_milestone(request, pk)
    stripe = settings.PAYMENT_GATEWAY == "stripe"
    form = None if stripe else TestCardForm(request.POST or None)
    context: dict[str, object] = {"milestone": milestone, "form": form, "stripe": stripe}
    if request.method == "POST" and (stripe or form.is_valid()):  # type: ignore[union-attr]
        method = None if stripe else form.cleaned_data["payment_method"]  # type: ignore[union-attr]
        try:
            result = milestone_fund(milestone_id=pk, by=request.user, payment_method=method)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            if result.status == "succeeded":
                messages.success(request, _("Payment received: the money is held in escrow."))
                return redirect("frontend:company-contract", pk=milestone.contract_id)
            # Stripe.js confirms the card in the browser, then posts here again.
            context.update(client_secret=result.client_secret, charge=result)
    context["fund"] = milestone_actions(milestone=milestone, user=request.user)["fund"]
    context["fee_cents"] = milestone.escrow.company_fee_cents
    context["charge_cents"] = milestone.amount_cents + milestone.escrow.company_fee_cents
    context["publishable_key"] = settings.STRIPE_PUBLISHABLE_KEY
    return render(request, "frontend/company/fund.html", context)


@company_only
@require_POST
def milestone_approve_view(request: HttpRequest, pk: int) -> HttpResponse:
    milestone = _own_milestone(request, pk)
    try:
        approved = milestone_approve(milestone_id=pk, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if approved.escrow.status == Escrow.Status.RELEASED:
            messages.success(request, _("Delivery approved: the money is released to the student."))
        else:
            messages.success(
                request,
                _(
                    "Delivery approved. The money goes to the student as soon as their "
                    "payout account can receive it."
                ),
            )
    return redirect("frontend:company-contract", pk=milestone.contract_id)


@company_only
@require_POST
def milestone_changes_view(request: HttpRequest, pk: int) -> HttpResponse:
    milestone = _own_milestone(request, pk)
    _act_on_form(
        request,
        NoteForm(request.POST),
        _("Say what should change."),
        milestone_request_changes,
        _("Changes requested; the student is told."),
        milestone_id=pk,
    )
    return redirect("frontend:company-contract", pk=milestone.contract_id)


@company_only
@require_POST
def milestone_dispute_view(request: HttpRequest, pk: int) -> HttpResponse:
    milestone = _own_milestone(request, pk)
    _act_on_form(
        request,
        DisputeForm(request.POST),
        _("Say what the dispute is about."),
        milestone_dispute,
        _("Dispute opened: the money stays frozen until the platform settles it."),
        milestone_id=pk,
    )
    return redirect("frontend:company-contract", pk=milestone.contract_id)


@company_only
@require_GET
def contract_money(request: HttpRequest, pk: int) -> HttpResponse:
    """The contract's ledger entries told as sentences, with totals."""
    contract = own_contract(request, pk)
    trail = contract_money_trail(contract=contract, viewer=request.user)
    return render(request, "frontend/company/money.html", {"contract": contract, "trail": trail})


@company_only
@require_http_methods(["GET", "POST"])
def contract_review(request: HttpRequest, pk: int) -> HttpResponse:
    """The company's review of the student, once the contract ended."""
    return review_page(
        request,
        own_contract(request, pk),
        ReviewForm(request.POST or None),
        template="frontend/company/review.html",
        contract_url="frontend:company-contract",
    )


def _company_id(request: HttpRequest) -> int:
    """The signed-in member's company (403 for a company account outside any company)."""
    company_id = user_company_id(user=request.user)
    if company_id is None:
        raise PermissionDenied
    return company_id


def _spending_figure(
    points: list,
    *,
    currency: str,
    title: str,
    label: str,
    chart_id: str,
    limit: int | None = None,
    label_format: Callable[[Any], str] | None = None,
) -> dict[str, object]:
    """A bar chart of one currency's cents (the first `limit` points) and the table of all.

    Labels are months (the charts' localised default) unless `label_format` is given.
    """
    fmt = partial(format_money, currency=currency)
    labels = {"label_format": label_format} if label_format else {}
    return {
        "currency": currency,
        "count": len(points),
        "chart": bar_chart(
            points[:limit],
            title=title,
            value_format=fmt,
            x_label=label,
            y_label=_("Spent"),
            chart_id=chart_id,
            **labels,
        ),
        "table": chart_table(
            points,
            caption=title,
            label_header=label,
            value_header=_("Spent"),
            value_format=fmt,
            **labels,
        ),
    }


TOP_BRIEFS = 10


@company_only
@require_GET
def spending(request: HttpRequest) -> HttpResponse:
    """What the company paid, net of refunds: per month of the last year, and per brief.

    One chart per currency for each; a brief chart draws the `TOP_BRIEFS`
    largest, its table lists every brief. Two queries.
    """
    company_id = _company_id(request)
    by_month = company_spending_by_month(company_id=company_id, months=12)
    by_brief = company_spending_by_project(company_id=company_id)
    month_figures = [
        _spending_figure(
            points,
            currency=currency,
            title=_("What you spent each month, in %(currency)s") % {"currency": currency},
            label=_("Month"),
            chart_id=f"month-{currency.lower()}",
        )
        for currency, points in by_month.items()
    ]
    brief_figures = [
        _spending_figure(
            [(s.title, s.cents) for s in by_brief if s.currency == currency],
            currency=currency,
            title=_("What you spent per brief, in %(currency)s") % {"currency": currency},
            label=_("Brief"),
            chart_id=f"brief-{currency.lower()}",
            limit=TOP_BRIEFS,
            label_format=str,
        )
        for currency in sorted({s.currency for s in by_brief})
    ]
    return render(
        request,
        "frontend/company/spending.html",
        {"month_figures": month_figures, "brief_figures": brief_figures, "top": TOP_BRIEFS},
    )


@company_only
@require_GET
def reputation(request: HttpRequest) -> HttpResponse:
    """What students say about the company: its scores and their public reviews, to answer."""
    company_id = _company_id(request)
    page = paginate(request, review_list_public_for_company(company_id=company_id))
    rows = [
        {"review": r, "form": None if hasattr(r, "reply") else ReplyForm(prefix=f"review-{r.pk}")}
        for r in page
    ]
    return render(
        request,
        "frontend/company/reputation.html",
        {"reputation": company_reputation(company_id=company_id), "page": page, "rows": rows},
    )


@company_only
@require_POST
def review_reply_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Answer a student's public review of the company, once."""
    reviews = review_list_public_for_company(company_id=_company_id(request))
    review = get_object_or_404(reviews, pk=pk)
    _act_on_form(
        request,
        ReplyForm(request.POST, prefix=f"review-{review.pk}"),
        _("Write an answer."),
        review_reply_create,
        _("Your answer is published under the review."),
        review_id=review.pk,
    )
    return redirect("frontend:company-reputation")


# The same suggestions as the student's picker, behind the company's role check.
skill_search = company_only(require_GET(common.skill_search))


@company_only
@require_GET
def school_search(request: HttpRequest) -> HttpResponse:
    """The schools picker's suggestions (an htmx fragment)."""
    chosen = [v for v in request.GET.getlist("allowed_schools") if v.isdigit()]
    schools = school_list(search=request.GET.get("q", "").strip()[:200]).exclude(pk__in=chosen)
    results = [(s.pk, f"{s.name} ({s.country})") for s in schools[:PICKER_RESULTS]]
    return render(
        request,
        "frontend/widgets/picker_results.html",
        {"results": results, "field": "allowed_schools"},
    )
