"""Query-string filters of the brief and student lists (django-filter).

Every value is validated by a form field before any query runs, so a bad one
(letters in a number, an unknown choice or skill, a reversed range, NUL bytes,
a 10,000-character search) answers 400 naming the parameter, never 500.
Amounts are minor units of the currency (cents); dates are ISO 8601
(`2026-12-31`), compared in the site's time zone.
"""

from __future__ import annotations

from decimal import Decimal

import django_filters
from django import forms
from django.db.models import Count, F, Q, QuerySet

from marketplace.models import Skill, StudentProfile
from marketplace.money import CURRENCY_CHOICES
from projects.briefs.models import Project, ProjectQuerySet
from projects.briefs.search import search_briefs
from schools.models import EnrolmentVerification, School

MAX_SKILLS = 20
MAX_SEARCH = 200
MAX_AMOUNT = 10**12


class SkillListField(forms.CharField):
    """Comma-separated skill slugs → the list of Skill ids; unknown slugs are an error."""

    def clean(self, value: str | None) -> list[int] | None:  # type: ignore[override]
        value = super().clean(value)
        if not value:
            return None
        slugs = list(dict.fromkeys(s.strip().lower() for s in value.split(",") if s.strip()))
        if len(slugs) > MAX_SKILLS:
            raise forms.ValidationError(f"At most {MAX_SKILLS} skills.")
        found = dict(Skill.objects.filter(slug__in=slugs).values_list("slug", "pk"))
        missing = [s for s in slugs if s not in found]
        if missing:
            # Slugs as params: a "%" typed in one must not be read as a format directive.
            raise forms.ValidationError(
                "Unknown skills: %(slugs)s.", params={"slugs": ", ".join(missing[:5])}
            )
        return [found[s] for s in slugs]


class SkillsFilter(django_filters.Filter):
    field_class = SkillListField


class SchoolIdField(forms.IntegerField):
    """A school's id; an id no school has is an error, as an unknown skill is."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(min_value=1, max_value=2**63 - 1, **kwargs)  # type: ignore[arg-type]

    def clean(self, value: str | None) -> int | None:  # type: ignore[override]
        pk = super().clean(value)
        if pk is not None and not School.objects.filter(pk=pk).exists():
            raise forms.ValidationError("Unknown school.")
        return pk


class SchoolFilter(django_filters.Filter):
    field_class = SchoolIdField


class IntegerFilter(django_filters.Filter):
    field_class = forms.IntegerField


def _check_range(form: forms.Form, low: str, high: str) -> None:
    a, b = form.cleaned_data.get(low), form.cleaned_data.get(high)
    if a is not None and b is not None and a > b:
        form.add_error(low, f"{low} is above {high}.")


class RangeCheckedForm(forms.Form):
    #: (low, high) pairs of parameters that must not be reversed.
    ranges: tuple[tuple[str, str], ...] = ()

    def clean(self) -> dict:
        data = super().clean()
        for low, high in self.ranges:
            _check_range(self, low, high)
        return data


class ProjectFilterForm(RangeCheckedForm):
    ranges = (("budget_min", "budget_max"), ("deadline_after", "deadline_before"))


def _skills_match(queryset: QuerySet, relation: str, skill_ids: list[int], mode: str) -> QuerySet:
    """Rows having any (default) or all of `skill_ids` through `relation`, without duplicates."""
    model = queryset.model
    having = model.objects.filter(**{f"{relation}__in": skill_ids})
    if mode == "all":
        having = having.annotate(
            n=Count(relation, filter=Q(**{f"{relation}__in": skill_ids}), distinct=True)
        ).filter(n=len(skill_ids))
    return queryset.filter(pk__in=having.values("pk"))


class ProjectFilter(django_filters.FilterSet):
    """Filters of `GET /api/v1/projects/`.

    `search` (full text, see projects.briefs.search), `skills` (comma-separated slugs)
    with `skills_match=any|all`, `budget_min`/`budget_max` (minor units),
    `currency`, `category`, `kind`, `status`, `visibility`, `school` (briefs
    that school's students may see), `deadline_after`/`deadline_before`
    (inclusive dates), `created_since` (date), and `ordering`: `newest`
    (default), `relevance` (full-text rank, default when searching), `budget`,
    `-budget`, `deadline` (soonest first, briefs without one last), `-deadline`.
    """

    search = django_filters.CharFilter(method="filter_noop", max_length=MAX_SEARCH)
    skills = SkillsFilter(method="filter_noop")
    skills_match = django_filters.ChoiceFilter(
        method="filter_noop", choices=[("any", "any"), ("all", "all")]
    )
    budget_min = IntegerFilter(
        field_name="budget_cents", lookup_expr="gte", min_value=0, max_value=MAX_AMOUNT
    )
    budget_max = IntegerFilter(
        field_name="budget_cents", lookup_expr="lte", min_value=0, max_value=MAX_AMOUNT
    )
    category = django_filters.ChoiceFilter(choices=Project.Category.choices)
    kind = django_filters.ChoiceFilter(choices=Project.Kind.choices)
    status = django_filters.ChoiceFilter(choices=Project.Status.choices)
    visibility = django_filters.ChoiceFilter(choices=Project.Visibility.choices)
    currency = django_filters.ChoiceFilter(choices=CURRENCY_CHOICES)
    school = SchoolFilter(method="filter_school")
    deadline_after = django_filters.DateFilter(field_name="deadline", lookup_expr="gte")
    deadline_before = django_filters.DateFilter(field_name="deadline", lookup_expr="lte")
    created_since = django_filters.DateFilter(method="filter_created_since")
    ordering = django_filters.ChoiceFilter(
        method="filter_noop",
        choices=[
            (v, v) for v in ("newest", "relevance", "budget", "-budget", "deadline", "-deadline")
        ],
    )

    class Meta:
        model = Project
        fields: list[str] = []
        form = ProjectFilterForm

    def filter_noop(self, queryset: QuerySet[Project], name: str, value: object) -> QuerySet:
        # Applied together in filter_queryset: skills need skills_match, ordering needs search.
        return queryset

    def filter_school(self, queryset: ProjectQuerySet, name: str, value: int) -> QuerySet:
        return queryset.for_schools([value])

    def filter_created_since(
        self, queryset: QuerySet[Project], name: str, value: object
    ) -> QuerySet:
        return queryset.filter(created_at__date__gte=value)

    def filter_queryset(self, queryset: QuerySet[Project]) -> QuerySet[Project]:
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        if data.get("skills"):
            queryset = _skills_match(
                queryset, "skills", data["skills"], data.get("skills_match") or "any"
            )
        text = (data.get("search") or "").strip()
        if text:
            queryset = search_briefs(queryset, text)
        ordering = data.get("ordering") or ("relevance" if text else "newest")
        return queryset.order_by(*_PROJECT_ORDERINGS[ordering](bool(text)))


def _relevance(searching: bool) -> tuple:
    if searching:
        return (F("search_rank").desc(), "-created_at", "-id")
    return ("-created_at", "-id")


_PROJECT_ORDERINGS = {
    "newest": lambda searching: ("-created_at", "-id"),
    "relevance": _relevance,
    "budget": lambda searching: ("budget_cents", "-id"),
    "-budget": lambda searching: ("-budget_cents", "-id"),
    "deadline": lambda searching: (F("deadline").asc(nulls_last=True), "-id"),
    "-deadline": lambda searching: (F("deadline").desc(nulls_last=True), "-id"),
}


class StudentFilterForm(RangeCheckedForm):
    ranges = (("day_rate_min", "day_rate_max"),)


class StudentFilter(django_filters.FilterSet):
    """Filters of `GET /api/v1/students/` (companies and staff).

    `search` (name or headline words), `skills` with `skills_match=any|all`,
    `school` (id), `country` (ISO 3166 alpha-2 of the school), `day_rate_min` /
    `day_rate_max` (minor units), `currency`, `availability`, `rating_min`
    (1–5, average of public reviews), `verified` (`true`: verified today only),
    `ordering`: `newest` (default), `rating`, `day_rate`, `-day_rate`,
    `experience` (completed contracts).
    """

    search = django_filters.CharFilter(method="filter_search", max_length=MAX_SEARCH)
    skills = SkillsFilter(method="filter_noop")
    skills_match = django_filters.ChoiceFilter(
        method="filter_noop", choices=[("any", "any"), ("all", "all")]
    )
    school = SchoolFilter(method="filter_school")
    country = django_filters.CharFilter(method="filter_country", min_length=2, max_length=2)
    day_rate_min = IntegerFilter(
        field_name="day_rate_cents", lookup_expr="gte", min_value=0, max_value=MAX_AMOUNT
    )
    day_rate_max = IntegerFilter(
        field_name="day_rate_cents", lookup_expr="lte", min_value=0, max_value=MAX_AMOUNT
    )
    currency = django_filters.ChoiceFilter(choices=CURRENCY_CHOICES)
    availability = django_filters.ChoiceFilter(choices=StudentProfile.Availability.choices)
    rating_min = django_filters.NumberFilter(
        method="filter_rating_min", min_value=Decimal(1), max_value=Decimal(5), decimal_places=2
    )
    # A choice, not a BooleanFilter: that one reads "maybe" as "not given".
    verified = django_filters.ChoiceFilter(
        method="filter_verified", choices=[("true", "true"), ("false", "false")]
    )
    ordering = django_filters.ChoiceFilter(
        method="filter_noop",
        choices=[(v, v) for v in ("newest", "rating", "day_rate", "-day_rate", "experience")],
    )

    class Meta:
        model = StudentProfile
        fields: list[str] = []
        form = StudentFilterForm

    def filter_noop(self, queryset: QuerySet, name: str, value: object) -> QuerySet:
        return queryset

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        for word in value.split():
            queryset = queryset.filter(
                Q(user__first_name__icontains=word)
                | Q(user__last_name__icontains=word)
                | Q(headline__icontains=word)
            )
        return queryset

    def filter_school(self, queryset: QuerySet, name: str, value: int) -> QuerySet:
        return queryset.filter(user_id__in=_verified_student_ids().filter(school_id=value))

    def filter_country(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(
            user_id__in=_verified_student_ids().filter(school__country=value.upper())
        )

    def filter_rating_min(self, queryset: QuerySet, name: str, value: Decimal) -> QuerySet:
        # total / count ≥ value ⇔ 100 × total ≥ (100 × value) × count: integers only.
        hundredths = int(value * 100)
        return queryset.alias(total_x100=F("rating_total") * 100).filter(
            review_count__gt=0, total_x100__gte=F("review_count") * hundredths
        )

    def filter_verified(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        ids = _verified_student_ids()
        if value == "true":
            return queryset.filter(user_id__in=ids)
        return queryset.exclude(user_id__in=ids)

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        if data.get("skills"):
            queryset = _skills_match(
                queryset, "skills", data["skills"], data.get("skills_match") or "any"
            )
        return queryset.order_by(*_STUDENT_ORDERINGS[data.get("ordering") or "newest"])


_STUDENT_ORDERINGS = {
    "newest": ("-user__date_joined", "-user_id"),
    "rating": (F("rating_hundredths").desc(nulls_last=True), "-review_count", "user_id"),
    "day_rate": (F("day_rate_cents").asc(nulls_last=True), "user_id"),
    "-day_rate": (F("day_rate_cents").desc(nulls_last=True), "user_id"),
    "experience": ("-completed_contracts", "user_id"),
}


def _verified_student_ids() -> QuerySet:
    """Verifications in force today (their `student_id`s)."""
    return EnrolmentVerification.objects.in_force().values("student_id")
