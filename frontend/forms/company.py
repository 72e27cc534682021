"""Forms of the company's pages: briefs, accepting a bid, funding, reviewing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from frontend.forms import Form, cents_from
from frontend.forms.fields import (
    AMOUNT,
    SKILLS_HELP,
    DateInput,
    PickerWidget,
    skills_field,
    text_area,
)
from frontend.labels import CATEGORY_LABELS, KIND_LABELS, VISIBILITY_LABELS
from frontend.money import from_minor
from marketplace.errors import DomainError
from marketplace.money import CURRENCY_CHOICES
from projects.briefs.models import Project
from schools.models import School


class BriefForm(Form):
    """A brief as the company writes it; the budget is typed in the currency's major unit."""

    service_fields = {"budget_cents": "budget"}

    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(label=_("Description"), max_length=20_000, widget=forms.Textarea)
    category = forms.ChoiceField(label=_("Category"), choices=list(CATEGORY_LABELS.items()))
    kind = forms.ChoiceField(label=_("Kind"), choices=list(KIND_LABELS.items()))
    skills = skills_field(search_url_name="frontend:skill-search", help_text=SKILLS_HELP)
    budget = forms.DecimalField(label=_("Budget"), **AMOUNT)
    currency = forms.ChoiceField(label=_("Currency"), choices=CURRENCY_CHOICES, initial="EUR")
    deadline = forms.DateField(label=_("Deadline"), required=False, widget=DateInput)
    visibility = forms.ChoiceField(
        label=_("Who can see it"),
        choices=list(VISIBILITY_LABELS.items()),
        widget=forms.RadioSelect,
        initial=Project.Visibility.ALL,
    )
    allowed_schools = forms.ModelMultipleChoiceField(
        label=_("Schools"),
        queryset=School.objects.all(),
        required=False,
        widget=PickerWidget(search_url_name="frontend:school-search"),
        help_text=_("Only for briefs restricted to chosen schools."),
    )

    @classmethod
    def initial_for(cls, project: Project) -> dict[str, object]:
        """The form's initial values for an existing brief."""
        return {
            "title": project.title,
            "description": project.description,
            "category": project.category,
            "kind": project.kind,
            "skills": [s.slug for s in project.skills.all()],
            "budget": from_minor(project.budget_cents, project.currency),
            "currency": project.currency,
            "deadline": project.deadline,
            "visibility": project.visibility,
            "allowed_schools": [s.pk for s in project.allowed_schools.all()],
        }

    def service_kwargs(self) -> dict[str, object]:
        """The cleaned values as project_create / project_update take them."""
        data = dict(self.cleaned_data)
        data["budget_cents"] = data.pop("budget_cents")
        data.pop("budget")
        data["skills"] = [s.slug for s in data["skills"]]
        data["allowed_schools"] = [s.pk for s in data["allowed_schools"]]
        return data

    def clean(self) -> dict:
        data = super().clean()
        if "currency" in data:
            data["budget_cents"] = cents_from(self, "budget", data["currency"])
        return data


class MilestoneForm(Form):
    title = forms.CharField(label=_("Milestone"), max_length=200)
    amount = forms.DecimalField(label=_("Amount"), **AMOUNT)
    due_date = forms.DateField(label=_("Due date"), required=False, widget=DateInput)


class BaseMilestoneFormSet(forms.BaseFormSet):
    """Milestones of an accepted bid, amounts typed in the bid's currency.

    The rules (they add up to the bid, none is due in the past) are
    `bid_accept`'s: its refusal is shown above the milestones
    (`formset_add_domain_error`).
    """

    def __init__(self, *args: Any, currency: str, total_cents: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.total_cents = total_cents

    def clean(self) -> None:
        if any(self.errors):
            return
        for form in self.forms:
            if not form.has_changed() and form.empty_permitted:
                continue
            cents = cents_from(form, "amount", self.currency)
            if cents is None:
                return
            form.cleaned_data["amount_cents"] = cents


def formset_add_domain_error(formset: forms.BaseFormSet, exc: DomainError) -> None:
    """Show a service's refusal above the formset's forms (its non-form errors)."""
    formset.non_form_errors().append(exc.message)


MilestoneFormSet = forms.formset_factory(
    MilestoneForm,
    formset=BaseMilestoneFormSet,
    extra=2,
    min_num=1,
    validate_min=True,
    max_num=50,
    validate_max=True,
)


def milestone_initial(*, title: str, amount_cents: int, currency: str, days: int) -> list[dict]:
    """One milestone for the whole bid, due when the student said they would be done."""
    return [
        {
            "title": title[:200],
            "amount": from_minor(amount_cents, currency),
            "due_date": timezone.localdate() + dt.timedelta(days=days),
        }
    ]


class TestCardForm(Form):
    """The dummy gateway's card form: the test payment methods it knows, clearly labelled."""

    payment_method = forms.ChoiceField(
        label=_("Test card"),
        choices=[
            ("pm_card_visa", _("Visa test card: the payment succeeds")),
            ("pm_card_chargeDeclined", _("Declined test card: the bank refuses")),
        ],
        widget=forms.RadioSelect,
        initial="pm_card_visa",
    )


class NoteForm(Form):
    note = text_area(_("What should change?"), rows=4, max_length=10_000)


class DisputeForm(Form):
    reason = text_area(_("What is the dispute about?"), rows=4, max_length=10_000)


STARS = [(n, str(n)) for n in range(5, 0, -1)]


class ReviewForm(Form):
    """Stars 1–5 on four criteria and a comment; the service checks the window."""

    rating = forms.TypedChoiceField(
        label=_("Overall"), choices=STARS, coerce=int, widget=forms.RadioSelect
    )
    quality = forms.TypedChoiceField(
        label=_("Quality of the work"), choices=STARS, coerce=int, widget=forms.RadioSelect
    )
    communication = forms.TypedChoiceField(
        label=_("Communication"), choices=STARS, coerce=int, widget=forms.RadioSelect
    )
    deadlines = forms.TypedChoiceField(
        label=_("Deadlines kept"), choices=STARS, coerce=int, widget=forms.RadioSelect
    )
    comment = text_area(_("Comment"), rows=4, max_length=5_000, required=False)
    private_feedback = text_area(
        _("Private feedback for the platform"),
        rows=3,
        max_length=5_000,
        required=False,
        help_text=_("Read by the platform's staff only."),
    )


class ContractCancelForm(Form):
    """Why the company cancels a contract; told to the student."""

    prefix = "cancel"
    reason = text_area(
        _("Why do you cancel the contract?"),
        rows=3,
        max_length=10_000,
        help_text=_("The student reads it."),
    )


class ReplyForm(Form):
    """The company's one public answer to a student's review (prefixed per review)."""

    body = text_area(_("Your public answer"), rows=3, max_length=5_000)
