"""Bulk import of schools from the public "university-domains-list" JSON.

The file is a list of objects with `name`, `domains`, `web_pages`, `country`,
`alpha_two_code` and `state-province` (hyphenated, mostly null), as published
by https://github.com/Hipo/university-domains-list. A school is identified by
(name, alpha-2 country code):

- records with the same key in one file are merged (union of domains and web
  pages, first non-empty country name and state);
- an existing school is updated in place: its domains become exactly the
  file's (added and removed), its web pages, country name and state follow the
  file; schools absent from the file are left alone;
- domains are stored by `schools.domains.normalize_domain` (lower-case IDNA);
  unusable ones are dropped, and a record left without any, or with a bad
  country code or name, is skipped and counted.

The whole import is one transaction of bulk statements, a handful of queries
per 500 schools, so the 10,000-school file takes seconds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction

from marketplace.errors import ValidationFailed
from marketplace.importing import BATCH_SIZE, ImportFileError, ImportReport, ProgressCallback
from schools.domains import normalize_domain
from schools.models import School, SchoolDomain

COUNTRY_CODE = re.compile(r"[A-Za-z]{2}")
NAME_MAX = School._meta.get_field("name").max_length or 300
COUNTRY_NAME_MAX = School._meta.get_field("country_name").max_length or 100
STATE_MAX = School._meta.get_field("state_province").max_length or 200
DOMAIN_MAX = 253


@dataclass
class SchoolRecord:
    """One school as the file describes it, after merging; `domains` normalised, deduplicated."""

    name: str
    country: str
    country_name: str
    state_province: str
    web_pages: list[str]
    domains: list[str]

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.country)


def _text(value: Any) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def _domains(values: Any) -> list[str]:
    found: list[str] = []
    if not isinstance(values, list):
        return found
    for value in values:
        if not isinstance(value, str):
            continue
        try:
            domain = normalize_domain(value.strip())
        except ValidationFailed:
            continue
        if len(domain) <= DOMAIN_MAX and domain not in found:
            found.append(domain)
    return found


def _web_pages(values: Any) -> list[str]:
    if not isinstance(values, list):
        return []
    pages: list[str] = []
    for value in values:
        page = value.strip() if isinstance(value, str) else ""
        if page and page not in pages:
            pages.append(page)
    return pages


def schools_parse(
    *, records: Iterable[Any], report: ImportReport
) -> dict[tuple[str, str], SchoolRecord]:
    """Validate and merge raw records into one `SchoolRecord` per (name, country).

    Counts refused records in `report.skipped` (reasons: `not an object`,
    `no name`, `bad country code`, `no usable domain`) and merged ones in
    `report.merged`. Never raises for a bad record.
    """
    schools: dict[tuple[str, str], SchoolRecord] = {}
    for raw in records:
        if not isinstance(raw, dict):
            report.skip("not an object")
            continue
        name = _text(raw.get("name"))
        if not name or len(name) > NAME_MAX:
            report.skip("no name")
            continue
        code = raw.get("alpha_two_code")
        if not isinstance(code, str) or not COUNTRY_CODE.fullmatch(code.strip()):
            report.skip("bad country code")
            continue
        domains = _domains(raw.get("domains"))
        if not domains:
            report.skip("no usable domain")
            continue
        record = SchoolRecord(
            name=name,
            country=code.strip().upper(),
            country_name=_text(raw.get("country"))[:COUNTRY_NAME_MAX],
            state_province=_text(raw.get("state-province"))[:STATE_MAX],
            web_pages=_web_pages(raw.get("web_pages")),
            domains=domains,
        )
        earlier = schools.get(record.key)
        if earlier is None:
            schools[record.key] = record
            continue
        report.merged += 1
        earlier.domains += [d for d in record.domains if d not in earlier.domains]
        earlier.web_pages += [p for p in record.web_pages if p not in earlier.web_pages]
        earlier.country_name = earlier.country_name or record.country_name
        earlier.state_province = earlier.state_province or record.state_province
    return schools


def _batches(items: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(items), BATCH_SIZE):
        yield items[start : start + BATCH_SIZE]


@transaction.atomic
def schools_import_records(
    *,
    records: Iterable[Any],
    partner: bool = False,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Create, update or leave alone the schools described by raw list records.

    With `partner`, every school of the records is also marked a partner school
    (the public file says nothing about partnership, so a plain import never
    changes the flag). Returns the counts: `created` and `updated` schools,
    `unchanged` ones (already exactly as in the records), `skipped` records and
    `merged` duplicates. Runs in one transaction; a failure leaves the database
    as it was.
    """
    report = ImportReport()
    wanted = schools_parse(records=records, report=report)
    countries = {country for _, country in wanted}

    existing: dict[tuple[str, str], School] = {
        (s.name, s.country): s
        for s in School.objects.filter(country__in=countries).only(
            "pk", "name", "country", "country_name", "state_province", "web_pages", "is_partner"
        )
    }
    current_domains: dict[int, dict[str, int]] = {}
    for pk, school_id, domain in SchoolDomain.objects.filter(
        school__country__in=countries
    ).values_list("pk", "school_id", "domain"):
        current_domains.setdefault(school_id, {})[domain] = pk

    to_create: list[School] = []
    to_update: list[School] = []
    domain_rows: list[tuple[tuple[str, str], str]] = []
    domain_deletes: list[int] = []
    for key, record in wanted.items():
        school = existing.get(key)
        if school is None:
            to_create.append(
                School(
                    name=record.name,
                    country=record.country,
                    country_name=record.country_name,
                    state_province=record.state_province,
                    web_pages=record.web_pages,
                    is_partner=partner,
                )
            )
            domain_rows += [(key, d) for d in record.domains]
            continue
        have = current_domains.get(school.pk, {})
        added = [d for d in record.domains if d not in have]
        removed = [pk for d, pk in have.items() if d not in record.domains]
        fields_changed = (
            school.country_name != record.country_name
            or school.state_province != record.state_province
            or school.web_pages != record.web_pages
            or (partner and not school.is_partner)
        )
        if fields_changed:
            school.country_name = record.country_name
            school.state_province = record.state_province
            school.web_pages = record.web_pages
            school.is_partner = school.is_partner or partner
            to_update.append(school)
        if fields_changed or added or removed:
            report.updated += 1
        else:
            report.unchanged += 1
        domain_rows += [(key, d) for d in added]
        domain_deletes += removed

    total = len(to_create) + len(to_update)
    done = 0
    for batch in _batches(to_create):
        School.objects.bulk_create(batch)
        done += len(batch)
        if progress:
            progress("schools", done, total)
    for batch in _batches(to_update):
        School.objects.bulk_update(
            batch, ["country_name", "state_province", "web_pages", "is_partner"]
        )
        done += len(batch)
        if progress:
            progress("schools", done, total)
    report.created = len(to_create)

    # Ids of the new schools, read back rather than trusting bulk_create on every backend.
    school_ids = {key: school.pk for key, school in existing.items()}
    if to_create:
        new_keys = {s.name for s in to_create}
        for pk, name, country in School.objects.filter(country__in=countries).values_list(
            "pk", "name", "country"
        ):
            if name in new_keys:
                school_ids[(name, country)] = pk
    new_domains = [SchoolDomain(school_id=school_ids[key], domain=d) for key, d in domain_rows]
    total = len(new_domains) + len(domain_deletes)
    done = 0
    for batch in _batches(domain_deletes):
        SchoolDomain.objects.filter(pk__in=batch).delete()
        done += len(batch)
        if progress:
            progress("domains", done, total)
    for batch in _batches(new_domains):
        SchoolDomain.objects.bulk_create(batch)
        done += len(batch)
        if progress:
            progress("domains", done, total)
    return report


def schools_import(*, path: Path, progress: ProgressCallback | None = None) -> ImportReport:
    """Import a university-domains-list JSON file; see `schools_import_records`.

    Raises ImportFileError for a missing or unreadable file, invalid JSON or a
    top level that is not a list.
    """
    try:
        with path.open(encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as exc:
        raise ImportFileError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportFileError(f"{path} is not valid JSON: {exc}.") from exc
    if not isinstance(data, list):
        raise ImportFileError(f"{path} must hold a JSON list of schools.")
    return schools_import_records(records=data, progress=progress)
