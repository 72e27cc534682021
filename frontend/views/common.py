"""What the pages of several roles share: running a service, a contract, reviews, the skill picker.

These helpers carry no role check of their own: each role's module decorates
its views (`role_required`) and names its own templates and URLs.
"""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from frontend.forms import form_add_domain_error
from marketplace.errors import DomainError
from marketplace.selectors import skill_list
from projects.contracts.models import Contract
from projects.contracts.selectors import contract_list
from projects.reviews.selectors import contract_review_state
from projects.reviews.services import review_submit

PICKER_RESULTS = 10


def act(request: HttpRequest, action: Callable[..., object], success: str, **kw: object) -> bool:
    """Run a service; say what happened in a message. True when it succeeded."""
    try:
        action(by=request.user, **kw)
    except DomainError as exc:
        messages.error(request, exc.message)
        return False
    messages.success(request, success)
    return True


def own_contract(request: HttpRequest, pk: int) -> Contract:
    """A contract the user is a party to (404 otherwise)."""
    return get_object_or_404(contract_list(user=request.user), pk=pk)


def review_page(
    request: HttpRequest,
    contract: Contract,
    form: forms.Form,
    *,
    template: str,
    contract_url: str,
) -> HttpResponse:
    """The review form of `contract`; a valid POST saves it (`review_submit`), then back to it.

    `contract_url` names the contract's page of the reviewer's role.
    """
    if request.method == "POST" and form.is_valid():
        try:
            review_submit(contract_id=contract.pk, by=request.user, **form.cleaned_data)
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            messages.success(request, _("Thank you: your review is saved."))
            return redirect(contract_url, pk=contract.pk)
    state = contract_review_state(contract=contract, user=request.user)
    return render(request, template, {"contract": contract, "form": form, "reviews": state})


def skill_search(request: HttpRequest) -> HttpResponse:
    """The skills picker's suggestions (an htmx fragment), leaving out those already chosen."""
    skills = skill_list(search=request.GET.get("q", "").strip()[:200]).exclude(
        slug__in=request.GET.getlist("skills")
    )[:PICKER_RESULTS]
    return render(
        request,
        "frontend/widgets/picker_results.html",
        {"results": [(s.slug, s.name) for s in skills], "field": "skills"},
    )
