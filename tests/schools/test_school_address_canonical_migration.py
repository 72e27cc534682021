"""Rows written before the canonical school address get it from the same function; two live
claims on one mailbox from before do not stop the migration."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from marketplace.errors import ValidationFailed
from schools.addresses import school_email_canonical
from schools.models import EnrolmentVerification
from schools.services import verification_request
from tests.factories import StudentFactory

BEFORE = ("schools", "0001_initial")


def _migrate(targets):  # type: ignore[no-untyped-def]
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state([t for t in targets if t[1] is not None]).apps


def _latest() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def _before() -> list[tuple[str, str]]:
    return [node for node in _latest() if node[0] != "schools"] + [BEFORE]


def _old_rows(apps) -> dict[str, int]:  # type: ignore[no-untyped-def]
    user = apps.get_model("marketplace", "User")
    school = apps.get_model("schools", "School").objects.create(name="École", country="FR")
    apps.get_model("schools", "SchoolDomain").objects.create(school=school, domain="school.edu")
    verification = apps.get_model("schools", "EnrolmentVerification")
    now = timezone.now()
    graduation = timezone.localdate() + dt.timedelta(days=300)
    rows = {
        # name: (address, status, age in days); the newer live duplicate is written first.
        "newer": ("ALICE+2@school.edu", "verified", 1),
        "older": ("alice@school.edu", "verified", 30),
        "pending": ("Alice@school.edu", "pending_email", 0),
        "rejected": ("alice+x@school.edu", "rejected", 60),
        "lookalike": ("\u0430lice@school.edu", "pending_review", 5),
        "bob": ("bob@school.edu", "pending_review", 2),
    }
    ids = {}
    for n, (name, (address, status, age)) in enumerate(rows.items()):
        student = user.objects.create(email=f"s{n}@example.com", role="student", password="!")
        ids[name] = verification.objects.create(
            student=student,
            school=school,
            school_email=address,
            program="MSc",
            graduation_date=graduation,
            status=status,
            created_at=now - dt.timedelta(days=age),
        ).pk
    ids["school"] = school.pk
    return ids


@pytest.mark.django_db(transaction=True)
def test_old_rows_get_their_canonical_address_and_collisions_are_logged(caplog):
    latest = _latest()
    old_apps = _migrate(_before())
    try:
        ids = _old_rows(old_apps)
    finally:
        with caplog.at_level(logging.WARNING, logger="schools.migrations"):
            _migrate(latest)

    rows = {
        name: EnrolmentVerification.objects.get(pk=pk)
        for name, pk in ids.items()
        if name != "school"
    }
    alice = school_email_canonical("alice@school.edu")
    assert rows["older"].school_email_canonical == alice
    assert rows["pending"].school_email_canonical == alice
    assert rows["rejected"].school_email_canonical == alice
    assert rows["bob"].school_email_canonical == school_email_canonical("bob@school.edu")
    # The newer live duplicate and the refused look-alike are left as they were, unkeyed.
    for name in ("newer", "lookalike"):
        assert rows[name].school_email_canonical is None
    assert {name: row.status for name, row in rows.items()} == {
        "newer": "verified",
        "older": "verified",
        "pending": "pending_email",
        "rejected": "rejected",
        "lookalike": "pending_review",
        "bob": "pending_review",
    }
    logged = {(r.getMessage(), r.verification_id) for r in caplog.records}
    assert ("verification.canonical_collision", ids["newer"]) in logged
    assert ("verification.canonical_refused", ids["lookalike"]) in logged

    # And the mailbox stays closed to anyone else, under any spelling.
    with pytest.raises(ValidationFailed) as exc:
        verification_request(
            student=StudentFactory(),
            school=rows["older"].school,
            school_email="Alice+3@School.edu",
            program="MSc",
            graduation_date=timezone.localdate() + dt.timedelta(days=300),
        )
    assert exc.value.field == "school_email"
