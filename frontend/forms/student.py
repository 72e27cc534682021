"""Forms of the student's pages: verification, profile, brief search, bids, deliveries, reviews."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.validators import URLValidator
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from frontend.forms import Form, cents_from
from frontend.forms.company import ReviewForm
from frontend.forms.fields import AMOUNT, SKILLS_HELP, DateInput, skills_field, text_area
from frontend.labels import CATEGORY_LABELS, KIND_LABELS
from frontend.money import from_minor
from marketplace.models import StudentProfile
from marketplace.money import CURRENCY_CHOICES
from marketplace.selectors import student_profile_skills
from marketplace.services import MAX_PORTFOLIO_LINKS
from schools.models import School

ANY = [("", _("Any"))]


class SchoolEmailForm(Form):
    """Step one of a verification: the school address, to find the schools that accept it."""

    school_email = forms.EmailField(
        label=_("Your school e-mail"),
        max_length=254,
        help_text=_("The address your school gave you, e.g. firstname.lastname@school.edu."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


class VerificationForm(SchoolEmailForm):
    """Step two: the school (among those accepting the address), the programme, the graduation."""

    school = forms.ModelChoiceField(
        label=_("Your school"),
        queryset=School.objects.none(),
        widget=forms.RadioSelect,
        empty_label=None,
    )
    program = forms.CharField(
        label=_("Programme"), max_length=200, help_text=_("e.g. MSc Computer Science")
    )
    graduation_date = forms.DateField(
        label=_("Expected graduation date"),
        widget=DateInput,
        help_text=_("Your verification lasts until then."),
    )

    def __init__(self, *args: Any, schools: QuerySet[School], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["school"]
        field.queryset = schools  # type: ignore[attr-defined]
        if len(schools) == 1:
            field.initial = schools[0].pk


class ProfileForm(Form):
    """The student's profile; the day rate is typed in the currency's major unit."""

    service_fields = {"day_rate_cents": "day_rate"}

    headline = forms.CharField(
        label=_("Headline"),
        max_length=200,
        required=False,
        help_text=_("One line companies read first, e.g. “Django developer, 3rd year”."),
    )
    bio = forms.CharField(
        label=_("About you"), max_length=10_000, required=False, widget=forms.Textarea
    )
    skills = skills_field(search_url_name="frontend:student-skill-search", help_text=SKILLS_HELP)
    day_rate = forms.DecimalField(
        label=_("Day rate"),
        required=False,
        max_digits=12,
        decimal_places=2,
        min_value=Decimal(0),
        help_text=_("What you charge for a day of work, in the currency below."),
    )
    currency = forms.ChoiceField(label=_("Currency"), choices=CURRENCY_CHOICES, initial="EUR")
    availability = forms.ChoiceField(
        label=_("Availability"),
        choices=[
            (StudentProfile.Availability.AVAILABLE, _("Available")),
            (StudentProfile.Availability.BUSY, _("Busy")),
            (StudentProfile.Availability.UNAVAILABLE, _("Unavailable")),
        ],
        widget=forms.RadioSelect,
    )
    portfolio_links = text_area(
        _("Portfolio links"),
        rows=4,
        max_length=5_000,
        required=False,
        help_text=_("Up to 5 links to your work (http or https), one per line."),
    )

    @classmethod
    def initial_for(cls, profile: StudentProfile) -> dict[str, object]:
        """The form's initial values for the student's current profile."""
        rate = profile.day_rate_cents
        return {
            "headline": profile.headline,
            "bio": profile.bio,
            "skills": [s.slug for s in student_profile_skills(profile)],
            "day_rate": None if rate is None else from_minor(rate, profile.currency),
            "currency": profile.currency,
            "availability": profile.availability,
            "portfolio_links": "\n".join(profile.portfolio_links),
        }

    def clean_portfolio_links(self) -> list[str]:
        links = [line.strip() for line in self.cleaned_data["portfolio_links"].splitlines()]
        links = [link for link in links if link]
        if len(links) > MAX_PORTFOLIO_LINKS:
            raise forms.ValidationError(
                _("At most %(count)s links."),
                code="too_many",
                params={"count": MAX_PORTFOLIO_LINKS},
            )
        check = URLValidator(schemes=["http", "https"])
        for link in links:
            try:
                check(link)
            except forms.ValidationError as exc:
                raise forms.ValidationError(
                    _("%(link)s is not a web address (http or https)."),
                    code="invalid",
                    params={"link": link[:100]},
                ) from exc
        return links

    def clean(self) -> dict:
        data = super().clean()
        if "currency" in data:
            data["day_rate_cents"] = cents_from(self, "day_rate", data["currency"])
        return data

    def service_kwargs(self) -> dict[str, object]:
        """The cleaned values as `student_profile_update` takes them."""
        data = dict(self.cleaned_data)
        data.pop("day_rate")
        data["skills"] = [s.slug for s in data["skills"]]
        return data


ORDERINGS = [
    ("newest", _("Newest first")),
    ("relevance", _("Best match for the search")),
    ("budget", _("Smallest budget first")),
    ("-budget", _("Largest budget first")),
    ("deadline", _("Soonest deadline first")),
    ("-deadline", _("Latest deadline first")),
]


class BriefSearchForm(Form):
    """The brief search as people type it; `filter_data` turns it into `ProjectFilter` params."""

    search = forms.CharField(label=_("Keywords"), max_length=200, required=False)
    skills = skills_field(search_url_name="frontend:student-skill-search")
    skills_match = forms.ChoiceField(
        label=_("Briefs with"),
        choices=[("any", _("any of these skills")), ("all", _("all of these skills"))],
        required=False,
        widget=forms.RadioSelect,
        initial="any",
    )
    currency = forms.ChoiceField(
        label=_("Currency"),
        choices=[("", _("Any currency"))] + list(CURRENCY_CHOICES),
        required=False,
        help_text=_("Budgets are in this currency (euros when none is chosen)."),
    )
    budget_min = forms.DecimalField(label=_("Budget from"), required=False, **AMOUNT)
    budget_max = forms.DecimalField(label=_("Budget up to"), required=False, **AMOUNT)
    category = forms.ChoiceField(
        label=_("Category"), choices=ANY + list(CATEGORY_LABELS.items()), required=False
    )
    kind = forms.ChoiceField(
        label=_("Kind"), choices=ANY + list(KIND_LABELS.items()), required=False
    )
    deadline_after = forms.DateField(label=_("Deadline from"), required=False, widget=DateInput)
    deadline_before = forms.DateField(label=_("Deadline until"), required=False, widget=DateInput)
    ordering = forms.ChoiceField(label=_("Sort"), choices=ORDERINGS, required=False)

    def clean(self) -> dict:
        data = super().clean()
        currency = data.get("currency") or "EUR"
        for name in ("budget_min", "budget_max"):
            data[f"{name}_cents"] = cents_from(self, name, currency)
        return data

    def is_filtered(self) -> bool:
        """Whether the student narrowed the list (sorting alone does not)."""
        data = self.cleaned_data
        narrowing = [n for n in self.fields if n not in ("ordering", "skills_match", "skills")]
        return any(data.get(n) not in (None, "") for n in narrowing) or bool(data.get("skills"))

    def filter_data(self) -> dict[str, str]:
        """`ProjectFilter`'s query parameters (open briefs): skills as slugs, amounts in cents."""
        data = self.cleaned_data
        params: dict[str, str] = {"status": "open"}
        for name in ("search", "category", "kind", "ordering", "currency"):
            if data.get(name):
                params[name] = data[name]
        if data.get("skills"):
            params["skills"] = ",".join(s.slug for s in data["skills"])
            params["skills_match"] = data.get("skills_match") or "any"
        for name in ("budget_min", "budget_max"):
            if data.get(f"{name}_cents") is not None:
                params[name] = str(data[f"{name}_cents"])
                params["currency"] = data.get("currency") or "EUR"
        for name in ("deadline_after", "deadline_before"):
            if data.get(name):
                params[name] = data[name].isoformat()
        return params


class BidForm(Form):
    """A bid in the brief's currency, typed in its major unit."""

    service_fields = {"amount_cents": "amount"}

    amount = forms.DecimalField(label=_("Your price"), **AMOUNT)
    estimated_days = forms.IntegerField(
        label=_("Days of work"),
        min_value=1,
        max_value=3650,
        help_text=_("How many days you need to deliver."),
    )
    cover_letter = forms.CharField(
        label=_("Cover letter"),
        max_length=10_000,
        widget=forms.Textarea,
        help_text=_("Why you, what you would do, and links to similar work."),
    )

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.fields["amount"].help_text = _("In %(currency)s, the brief's currency.") % {
            "currency": currency
        }

    def clean(self) -> dict:
        data = super().clean()
        data["amount_cents"] = cents_from(self, "amount", self.currency)
        return data


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented recipe)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)] if data else []


class DeliveryForm(Form):
    """A delivery: a note, a link and files, checked again by `delivery_submit_with_files`."""

    note = text_area(_("What you deliver"), rows=4, max_length=10_000, required=False)
    url = forms.URLField(
        label=_("Link"),
        max_length=500,
        required=False,
        assume_scheme="https",
        help_text=_("A repository, a shared folder or the live site."),
    )
    files = MultipleFileField(
        label=_("Files"),
        required=False,
        help_text=_("PDF, images, ZIP, Office documents or plain text."),
    )


class CompanyReviewForm(ReviewForm):
    """The student's review of the company: the same stars, named for what a student judges."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["quality"].label = _("Clarity of the brief and feedback")
        self.fields["deadlines"].label = _("Decisions and payments on time")
