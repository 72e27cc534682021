from __future__ import annotations

import pytest

from tests.factories import CompanyMemberFactory, SkillFactory, VerifiedStudentFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("make_user", "url"),
    [(CompanyMemberFactory, "/company/skills/"), (VerifiedStudentFactory, "/student/skills/")],
    ids=["company", "student"],
)
def test_the_skill_picker_searches_and_leaves_out_chosen_skills(client, make_user, url):
    client.force_login(make_user())
    for name in ("Python", "PyTorch", "Django"):
        SkillFactory(name=name)
    html = client.get(url, {"q": "py", "skills": ["python"]}).content.decode()
    assert 'value="pytorch"' in html
    assert 'value="python"' not in html
    assert 'value="django"' not in html
