"""Widgets and fields the forms of several roles share."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from marketplace.models import Skill

# An amount typed in a currency's major unit (converted to minor units with `cents_from`).
AMOUNT = {"max_digits": 14, "decimal_places": 2, "min_value": Decimal("0.01")}


class DateInput(forms.DateInput):
    """The browser's date picker. Its value is always ISO 8601 (`2027-02-02`, HTML Living
    Standard, "valid date string") whatever the page's language: a French `02/02/2027`
    would be dropped by the browser and saved back as no date."""

    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None, format: str | None = None) -> None:
        super().__init__(attrs, format=format or "%Y-%m-%d")


class PickerWidget(forms.CheckboxSelectMultiple):
    """The chosen items as removable chips, plus an htmx search that offers more."""

    template_name = "frontend/widgets/picker.html"

    def __init__(self, *, search_url_name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.search_url_name = search_url_name

    def get_context(self, name: str, value: Any, attrs: dict | None) -> dict:
        context = super().get_context(name, value, attrs)
        context["widget"]["search_url_name"] = self.search_url_name
        return context

    def optgroups(self, name: str, value: list, attrs: dict | None = None) -> list:
        # Only the chosen items are rendered: the catalogue is searched, never listed whole.
        field = self.choices.field  # type: ignore[attr-defined]
        key = field.to_field_name or "pk"
        chosen = field.queryset.filter(**{f"{key}__in": [v for v in value if v]})
        shown = copy.copy(self)
        shown.choices = [(field.prepare_value(o), field.label_from_instance(o)) for o in chosen]
        return super(PickerWidget, shown).optgroups(name, value, attrs)


SKILLS_HELP = _("Type to search, then tick the skills to add; untick to remove.")


def skills_field(*, search_url_name: str, **kwargs: Any) -> forms.ModelMultipleChoiceField:
    """Optional skills, chosen by slug with the picker searching at `search_url_name`."""
    return forms.ModelMultipleChoiceField(
        label=_("Skills"),
        queryset=Skill.objects.all(),
        to_field_name="slug",
        required=False,
        widget=PickerWidget(search_url_name=search_url_name),
        **kwargs,
    )


def text_area(label: str, *, rows: int, max_length: int, **kwargs: Any) -> forms.CharField:
    """A text typed on several lines, in a box `rows` lines high."""
    return forms.CharField(
        label=label, max_length=max_length, widget=forms.Textarea(attrs={"rows": rows}), **kwargs
    )
