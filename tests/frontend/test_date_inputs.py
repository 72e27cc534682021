"""Date pickers keep their value in every language (ISO 8601 is the only value they take)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import translation

from frontend.forms.company import BriefForm
from tests.factories import CompanyMemberFactory, ProjectFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_saved_deadline_is_shown_as_an_iso_date(client, language: str):
    member = CompanyMemberFactory()
    project = ProjectFactory(
        company=member.company_membership.company,
        created_by=member,
        deadline=dt.date(2027, 2, 2),
    )
    client.force_login(member)
    client.cookies["django_language"] = language
    html = client.get(f"/company/briefs/{project.pk}/edit/").content.decode()
    assert 'value="2027-02-02"' in html


def test_french_pages_read_the_iso_date_back():
    with translation.override("fr"):
        field = BriefForm.base_fields["deadline"]
        assert field.clean("2027-02-02") == dt.date(2027, 2, 2)
