"""Query-string filters of the brief list (django-filter). Bad values answer 400 with the field."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q, QuerySet

from marketplace.money import CURRENCY_CHOICES
from projects.models import Project


class IntegerFilter(django_filters.Filter):
    field_class = forms.IntegerField


class ProjectFilterForm(forms.Form):
    def clean(self) -> dict:
        data = super().clean()
        low, high = data.get("budget_min"), data.get("budget_max")
        if low is not None and high is not None and low > high:
            self.add_error("budget_min", "budget_min is above budget_max.")
        return data


class ProjectFilter(django_filters.FilterSet):
    """`search` (title/description text), `skills` (comma-separated slugs, any of them),
    `budget_min`/`budget_max` (minor units), `category`, `kind`, `status`, `currency`."""

    search = django_filters.CharFilter(method="filter_search", max_length=200)
    skills = django_filters.CharFilter(method="filter_skills", max_length=2000)
    budget_min = IntegerFilter(field_name="budget_cents", lookup_expr="gte", min_value=0)
    budget_max = IntegerFilter(field_name="budget_cents", lookup_expr="lte", min_value=0)
    category = django_filters.ChoiceFilter(choices=Project.Category.choices)
    kind = django_filters.ChoiceFilter(choices=Project.Kind.choices)
    status = django_filters.ChoiceFilter(choices=Project.Status.choices)
    currency = django_filters.ChoiceFilter(choices=CURRENCY_CHOICES)

    class Meta:
        model = Project
        fields: list[str] = []
        form = ProjectFilterForm

    def filter_search(
        self, queryset: QuerySet[Project], name: str, value: str
    ) -> QuerySet[Project]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(title__icontains=value) | Q(description__icontains=value))

    def filter_skills(
        self, queryset: QuerySet[Project], name: str, value: str
    ) -> QuerySet[Project]:
        slugs = [s.strip() for s in value.split(",") if s.strip()]
        if not slugs:
            return queryset
        matching = Project.objects.filter(skills__slug__in=slugs).values("pk")
        return queryset.filter(pk__in=matching)
