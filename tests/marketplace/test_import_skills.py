from __future__ import annotations

import csv
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from marketplace.importing import skills_import
from marketplace.models import Skill
from marketplace.services import skill_slug

pytestmark = pytest.mark.django_db

ONET_HEADER = "skill,category,hot_technology,in_demand,occupation_count\n"


def _write(tmp_path: Path, text: str, name: str = "skills.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _run(path: Path) -> str:
    out = StringIO()
    call_command("import_skills", str(path), stdout=out)
    return out.getvalue()


def test_onet_file_creates_skills_with_category_and_names_holding_commas(tmp_path):
    path = _write(
        tmp_path,
        ONET_HEADER
        + "Microsoft Excel,Spreadsheet software,Y,Y,856\n"
        + '"Network modeling, mapping, and analysis software",Network software,N,N,3\n'
        + "Python,Object or component oriented development software,Y,Y,300\n",
    )

    report = skills_import(path=path)

    assert (report.created, report.updated, report.unchanged, report.skipped) == (3, 0, 0, 0)
    comma = Skill.objects.get(slug="network-modeling-mapping-and-analysis-software")
    assert comma.name == "Network modeling, mapping, and analysis software"
    assert comma.category == "Network software"
    assert Skill.objects.get(slug="microsoft-excel").category == "Spreadsheet software"


def test_a_rerun_changes_nothing_and_a_new_category_updates_in_place(tmp_path):
    skills_import(path=_write(tmp_path, ONET_HEADER + "Figma,Graphics software,Y,N,9\n", "a.csv"))
    pk = Skill.objects.get(slug="figma").pk

    again = skills_import(
        path=_write(tmp_path, ONET_HEADER + "Figma,Graphics software,Y,N,9\n", "b.csv")
    )
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)

    changed = skills_import(
        path=_write(tmp_path, ONET_HEADER + "Figma,Design software,Y,N,9\n", "c.csv")
    )
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 0)
    skill = Skill.objects.get(slug="figma")
    assert (skill.pk, skill.category) == (pk, "Design software")


def test_tag_file_is_detected_by_its_header_and_keeps_known_categories(tmp_path):
    skills_import(path=_write(tmp_path, ONET_HEADER + "JavaScript,Web platform software,Y,Y,1\n"))

    report = skills_import(
        path=_write(
            tmp_path,
            "skill,count_kadiroruc_dedup,count_raufh10\n"
            "Javascript,1442,2\nWeb Development,1987,3\nShopify Templates,155,0\n",
            "tags.csv",
        )
    )

    assert (report.created, report.unchanged) == (2, 1)
    assert Skill.objects.get(slug="javascript").category == "Web platform software"
    assert Skill.objects.get(slug="javascript").name == "JavaScript"
    assert Skill.objects.get(slug="web-development").category == ""


def test_rows_without_a_usable_slug_are_skipped_and_same_slugs_merged(tmp_path):
    path = _write(
        tmp_path,
        "skill\nC++\nC#\n+++\n   \nNode.js\nNODE.JS\n",
    )

    report = skills_import(path=path)

    assert (report.created, report.skipped, report.merged) == (3, 2, 1)
    assert report.skipped_reasons == {"no usable name": 2}
    assert Skill.objects.get(slug="c-plus-plus").name == "C++"
    assert Skill.objects.get(slug="c-sharp").name == "C#"
    assert Skill.objects.get(slug="nodejs").name == "Node.js"


def test_command_prints_counts_and_refuses_a_file_without_skill_column(tmp_path):
    assert "Skills: created 1, updated 0, unchanged 0, skipped 0" in _run(
        _write(tmp_path, "skill\nRust\n")
    )
    with pytest.raises(CommandError, match="skill"):
        _run(_write(tmp_path, "name,category\nRust,Languages\n", "bad.csv"))
    with pytest.raises(CommandError, match="Cannot read"):
        _run(tmp_path / "missing.csv")


@pytest.mark.realdata
def test_real_onet_and_tag_files(shared_data):
    onet = shared_data / "skills" / "onet_technology_skills_unique.csv"
    tags = shared_data / "briefs" / "skill_tags.csv"
    with onet.open(encoding="utf-8", newline="") as handle:
        names = [row["skill"] for row in csv.DictReader(handle)]
    slugs = {skill_slug(n) for n in names}
    with_comma = [n for n in names if "," in n]
    assert len(with_comma) == 18

    first = skills_import(path=onet)
    assert first.created == len(slugs) == Skill.objects.count()
    assert first.merged == len(names) - len(slugs)
    for name in with_comma:
        assert Skill.objects.get(slug=skill_slug(name)).name == name

    again = skills_import(path=onet)
    assert (again.created, again.updated, again.unchanged) == (0, 0, len(slugs))

    with tags.open(encoding="utf-8", newline="") as handle:
        tag_slugs = {skill_slug(row["skill"]) for row in csv.DictReader(handle)}
    from_tags = skills_import(path=tags)
    assert from_tags.created == len(tag_slugs - slugs)
    assert Skill.objects.count() == len(slugs | tag_slugs)
