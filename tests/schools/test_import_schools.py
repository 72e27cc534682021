from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from schools.importing import schools_import, schools_import_records
from schools.models import School, SchoolDomain

pytestmark = pytest.mark.django_db


def _record(name, domains, code="FR", **extra):  # type: ignore[no-untyped-def]
    return {
        "name": name,
        "domains": domains,
        "web_pages": extra.pop("web_pages", [f"https://{domains[0]}/"] if domains else []),
        "country": extra.pop("country", "France"),
        "alpha_two_code": code,
        "state-province": extra.pop("state", None),
        **extra,
    }


def _write(tmp_path: Path, records, name="schools.json") -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path


def _domains(name: str, country: str = "FR") -> list[str]:
    school = School.objects.get(name=name, country=country)
    return sorted(school.domains.values_list("domain", flat=True))


def _run(path: Path) -> str:
    out = StringIO()
    call_command("import_schools", str(path), stdout=out)
    return out.getvalue()


def test_import_creates_schools_with_normalised_domains_and_a_rerun_changes_nothing(tmp_path):
    path = _write(
        tmp_path,
        [
            _record("HEC Paris", ["HEC.edu", "hec.fr"]),
            _record("École Supérieure", ["ÉCOLE.fr"], state="Île-de-France"),
            _record("Universität Wien", ["univie.ac.at"], code="at", country="Austria"),
        ],
    )

    first = schools_import(path=path)
    assert (first.created, first.updated, first.unchanged, first.skipped) == (3, 0, 0, 0)
    assert _domains("HEC Paris") == ["hec.edu", "hec.fr"]
    assert _domains("École Supérieure") == ["xn--cole-9oa.fr"]
    assert School.objects.get(name="École Supérieure").state_province == "Île-de-France"
    assert School.objects.get(name="Universität Wien").country == "AT"
    assert School.objects.get(name="HEC Paris").web_pages == ["https://HEC.edu/"]

    ids = set(School.objects.values_list("pk", flat=True))
    domain_ids = set(SchoolDomain.objects.values_list("pk", flat=True))
    second = schools_import(path=path)
    assert (second.created, second.updated, second.unchanged, second.skipped) == (0, 0, 3, 0)
    assert set(School.objects.values_list("pk", flat=True)) == ids
    assert set(SchoolDomain.objects.values_list("pk", flat=True)) == domain_ids


def test_duplicate_records_are_merged_into_one_school(tmp_path):
    path = _write(
        tmp_path,
        [
            _record("Keio University", ["keio.ac.jp"], code="JP", web_pages=["http://keio.ac.jp/"]),
            _record("Keio University", ["a2.keio.jp", "KEIO.ac.jp"], code="JP", state="Tokyo"),
            _record("Keio University", ["keio.fr"], code="FR"),
        ],
    )

    report = schools_import(path=path)

    assert (report.created, report.merged) == (2, 1)
    assert _domains("Keio University", "JP") == ["a2.keio.jp", "keio.ac.jp"]
    merged = School.objects.get(name="Keio University", country="JP")
    assert merged.web_pages == ["http://keio.ac.jp/", "https://a2.keio.jp/"]
    assert merged.state_province == "Tokyo"
    assert _domains("Keio University", "FR") == ["keio.fr"]


def test_a_changed_record_updates_the_school_in_place(tmp_path):
    schools_import(
        path=_write(
            tmp_path,
            [
                _record("Sciences Po", ["sciences-po.fr", "old.sciences-po.fr"]),
                _record("EPITA", ["epita.fr"]),
            ],
            "v1.json",
        )
    )
    school = School.objects.get(name="Sciences Po")

    report = schools_import(
        path=_write(
            tmp_path,
            [
                _record(
                    "Sciences Po",
                    ["sciences-po.fr", "sciencespo.fr"],
                    web_pages=["https://www.sciencespo.fr/"],
                    state="Paris",
                ),
                _record("EPITA", ["epita.fr"]),
            ],
            "v2.json",
        )
    )

    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    school.refresh_from_db()
    assert School.objects.get(name="Sciences Po").pk == school.pk
    assert _domains("Sciences Po") == ["sciences-po.fr", "sciencespo.fr"]
    assert school.web_pages == ["https://www.sciencespo.fr/"]
    assert school.state_province == "Paris"


def test_schools_missing_from_the_file_are_left_alone(tmp_path):
    schools_import(path=_write(tmp_path, [_record("Kept", ["kept.fr"])], "a.json"))
    report = schools_import(path=_write(tmp_path, [_record("Other", ["other.fr"])], "b.json"))

    assert (report.created, report.unchanged) == (1, 0)
    assert _domains("Kept") == ["kept.fr"]


def test_bad_records_are_skipped_and_counted(tmp_path):
    path = _write(
        tmp_path,
        [
            _record("No Domain", []),
            _record("Bad Domain", ["not a domain", ""]),
            _record("Three Letters", ["three.fr"], code="FRA"),
            _record("Null Code", ["null.fr"], code=None),
            _record("Digits", ["digits.fr"], code="F1"),
            _record("", ["noname.fr"]),
            "not an object",
            {"name": "No keys at all"},
            _record("Partly Good", ["bad domain", "good.fr"]),
        ],
    )

    report = schools_import(path=path)

    assert report.created == 1
    assert report.skipped == 8
    assert report.skipped_reasons == {
        "no usable domain": 2,
        "bad country code": 4,
        "no name": 1,
        "not an object": 1,
    }
    assert list(School.objects.values_list("name", flat=True)) == ["Partly Good"]
    assert _domains("Partly Good") == ["good.fr"]


def test_a_domain_may_belong_to_two_schools(tmp_path):
    schools_import(
        path=_write(
            tmp_path,
            [
                _record("Jazan University", ["jazanu.edu.sa"], code="SA"),
                _record("College of Technology at Jazan", ["jazanu.edu.sa"], code="SA"),
            ],
        )
    )

    assert SchoolDomain.objects.filter(domain="jazanu.edu.sa").count() == 2


def test_partner_flag_is_set_only_when_asked():
    records = [_record("Partner School", ["partner.fr"])]
    schools_import_records(records=records)
    assert School.objects.get(name="Partner School").is_partner is False

    report = schools_import_records(records=records, partner=True)
    assert report.updated == 1
    assert School.objects.get(name="Partner School").is_partner is True

    assert schools_import_records(records=records).unchanged == 1
    assert School.objects.get(name="Partner School").is_partner is True


def test_import_uses_bulk_queries_not_queries_per_school(django_assert_max_num_queries):
    records = [_record(f"School {i}", [f"s{i}.fr", f"mail.s{i}.fr"]) for i in range(300)]

    with django_assert_max_num_queries(15):
        report = schools_import_records(records=records)

    assert report.created == 300
    assert SchoolDomain.objects.count() == 600


def test_command_reports_the_counts(tmp_path):
    path = _write(tmp_path, [_record("A", ["a.fr"]), _record("B", [])])

    assert "created 1, updated 0, unchanged 0, skipped 1 (no usable domain: 1)" in _run(path)
    assert "created 0, updated 0, unchanged 1, skipped 1" in _run(path)


@pytest.mark.parametrize(
    "content",
    ['{"name": "not a list"}', "[{", b"\xff\xfe\x00bad"],
    ids=["object", "truncated", "not-utf8"],
)
def test_command_refuses_an_unreadable_file(tmp_path, content):
    path = tmp_path / "bad.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")

    with pytest.raises(CommandError):
        _run(path)
    assert School.objects.count() == 0


def test_command_refuses_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        _run(tmp_path / "missing.json")


@pytest.mark.realdata
def test_the_real_file_imports_once_and_then_is_unchanged(shared_data):
    path = shared_data / "universities" / "world_universities_and_domains.json"
    records = json.loads(path.read_text(encoding="utf-8"))
    distinct = {(r["name"].strip(), r["alpha_two_code"].upper()) for r in records}

    first = schools_import(path=path)
    assert first.created == len(distinct)
    assert (first.updated, first.unchanged, first.skipped) == (0, 0, 0)
    assert first.merged == len(records) - len(distinct)
    assert School.objects.count() == len(distinct)
    for domain in ("khio.no", "jazanu.edu.sa", "marun.edu.tr"):
        assert SchoolDomain.objects.filter(domain=domain).count() == 2
    assert SchoolDomain.objects.filter(domain="student.westherts.ac.uk").exists()

    second = schools_import(path=path)
    assert (second.created, second.updated, second.skipped) == (0, 0, 0)
    assert second.unchanged == len(distinct)
