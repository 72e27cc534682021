"""The work side's models moved from the `projects` app into `briefs`, `contracts`, `reviews`
and `messaging`: a database migrated before the move keeps every row, and their content
types, through it."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from projects.briefs.models import Bid, Project
from projects.contracts.models import Contract, Delivery, Dispute, Milestone, MilestoneEvent
from projects.messaging.models import Attachment, Message, Thread, ThreadRead
from projects.reviews.models import Review, ReviewReply

LAST_OLD_MIGRATION = ("projects", "0004_search_vector")
MOVED = {
    "briefs": ["project", "bid"],
    "contracts": ["contract", "milestone", "delivery", "milestoneevent", "dispute"],
    "reviews": ["review", "reviewreply"],
    "messaging": ["thread", "message", "threadread", "attachment"],
}


def _migrate(targets: list[tuple[str, str | None]]):  # type: ignore[no-untyped-def]
    """Migrate to `targets` (`(app, None)` unapplies an app); the models of that state."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state([t for t in targets if t[1] is not None]).apps


def _latest() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def _before_the_move() -> list[tuple[str, str | None]]:
    """Every other app as it is now, `projects` still holding the models, the new apps unborn."""
    moved = {"projects", *MOVED}
    others = [node for node in _latest() if node[0] not in moved]
    return [*others, LAST_OLD_MIGRATION, *((app, None) for app in MOVED)]


def _old_rows(apps) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """One row of every model the move touches, written with the models as they were."""
    get = apps.get_model
    now = timezone.now()
    user = get("marketplace", "User")
    owner = user.objects.create(email="owner@example.com", role="company", password="!")
    student = user.objects.create(email="ana@school.example", role="student", password="!")
    company = get("marketplace", "Company").objects.create(name="Acme")
    skill = get("marketplace", "Skill").objects.create(name="Django", slug="django")
    school = get("schools", "School").objects.create(name="École", country="FR")
    project = get("projects", "Project").objects.create(
        company=company,
        created_by=owner,
        title="A shop",
        description="An online shop",
        budget_cents=150_000,
        currency="EUR",
        status="in_progress",
        visibility="schools",
    )
    project.skills.add(skill)
    project.allowed_schools.add(school)
    bid = get("projects", "Bid").objects.create(
        project=project,
        student=student,
        amount_cents=150_000,
        estimated_days=10,
        cover_letter="I build shops.",
        status="accepted",
    )
    contract = get("projects", "Contract").objects.create(
        project=project,
        bid=bid,
        company=company,
        student=student,
        amount_cents=150_000,
        currency="EUR",
        status="completed",
        completed_at=now,
    )
    escrow = get("payments", "Escrow").objects.create(
        reference="milestone-1",
        company=company,
        payee=student,
        currency="EUR",
        amount_cents=150_000,
        company_fee_cents=7_500,
        student_commission_cents=0,
        status="released",
        gateway="dummy",
        last_error="",
    )
    milestone = get("projects", "Milestone").objects.create(
        contract=contract,
        position=1,
        title="Everything",
        amount_cents=150_000,
        currency="EUR",
        work_status="approved",
        escrow=escrow,
        due_date=dt.date(2026, 1, 31),
    )
    delivery = get("projects", "Delivery").objects.create(milestone=milestone, note="Done")
    get("projects", "MilestoneEvent").objects.create(
        milestone=milestone, actor=student, from_status="pending", to_status="submitted"
    )
    get("projects", "Dispute").objects.create(
        milestone=milestone, opened_by=owner, reason="Late", status="resolved"
    )
    review = get("projects", "Review").objects.create(
        contract=contract,
        role="company_to_student",
        author=owner,
        subject_user=student,
        rating=5,
        quality=5,
        communication=4,
        deadlines=5,
        comment="Great",
    )
    get("projects", "ReviewReply").objects.create(review=review, author=student, body="Thanks")
    thread = get("projects", "Thread").objects.create(project=project, student=student)
    message = get("projects", "Message").objects.create(thread=thread, author=student, body="Hi")
    get("projects", "ThreadRead").objects.create(thread=thread, user=owner, last_read_at=now)
    get("projects", "Attachment").objects.create(
        uuid=uuid.uuid4(),
        delivery=delivery,
        uploaded_by=student,
        name="shop.zip",
        content_type="application/zip",
        size=10,
        sha256="0" * 64,
        storage_name="private/shop.zip",
    )
    get("projects", "Attachment").objects.create(
        uuid=uuid.uuid4(),
        message=message,
        uploaded_by=student,
        name="note.txt",
        content_type="text/plain",
        size=3,
        sha256="1" * 64,
        storage_name="private/note.txt",
    )
    return {
        "project": project.pk,
        "skill": skill.pk,
        "school": school.pk,
        "contract": contract.pk,
        "milestone": milestone.pk,
        "escrow": escrow.pk,
    }


@pytest.mark.django_db(transaction=True)
def test_every_moved_row_survives_the_move_into_the_new_apps():
    latest = _latest()
    old_apps = _migrate(_before_the_move())
    try:
        content_types = {
            model: ContentType.objects.get_or_create(app_label="projects", model=model)[0].pk
            for models in MOVED.values()
            for model in models
        }
        ids = _old_rows(old_apps)
    finally:
        _migrate(latest)

    for model in (Project, Bid, Contract, Milestone, Delivery, MilestoneEvent, Dispute, Review):
        assert model.objects.count() == 1, model
    for model in (ReviewReply, Thread, Message, ThreadRead):
        assert model.objects.count() == 1, model
    assert Attachment.objects.count() == 2

    project = Project.objects.get(pk=ids["project"])
    assert project.title == "A shop"
    assert list(project.skills.values_list("pk", flat=True)) == [ids["skill"]]
    assert list(project.allowed_schools.values_list("pk", flat=True)) == [ids["school"]]
    milestone = Milestone.objects.select_related("contract__bid", "escrow").get()
    assert milestone.contract.pk == ids["contract"]
    assert milestone.contract.bid.project_id == ids["project"]
    assert milestone.escrow.pk == ids["escrow"]
    assert milestone.deliveries.get().files.get().name == "shop.zip"
    assert Review.objects.get().reply.body == "Thanks"
    assert Thread.objects.get().messages.get().attachments.get().name == "note.txt"

    for app_label, models in MOVED.items():
        for model in models:
            content_type = ContentType.objects.get(pk=content_types[model])
            assert (content_type.app_label, content_type.model) == (app_label, model)
    assert not ContentType.objects.filter(app_label="projects").exists()
