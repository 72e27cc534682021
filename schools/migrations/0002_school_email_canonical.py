"""Add the canonical school address and fill it for the rows from before.

Two live claims from before whose canonical forms collide (`a@x` and `A+1@x`,
both verified) cannot both hold the key once 0003 makes it unique: the older
claim keeps it, the newer keeps its status and its address as typed, gets no
canonical form, and is logged for staff to review. An address the canonical
form refuses (a look-alike character, say) is left without one and logged too.
"""

import logging

from django.db import migrations, models

logger = logging.getLogger("schools.migrations")

LIVE = ("pending_review", "verified")
BATCH = 1000


def fill_canonical(apps, schema_editor):  # type: ignore[no-untyped-def]
    # The function itself, not a copy: one rule for the old rows and the new ones.
    from marketplace.errors import ValidationFailed
    from schools.addresses import school_email_canonical

    verification_model = apps.get_model("schools", "EnrolmentVerification")
    taken: dict[str, int] = {}
    changed = []
    rows = verification_model.objects.order_by("created_at", "pk").only(
        "pk", "school_email", "status"
    )
    for row in rows.iterator(chunk_size=BATCH):
        try:
            canonical = school_email_canonical(row.school_email)
        except ValidationFailed as exc:
            logger.warning(
                "verification.canonical_refused",
                extra={"verification_id": row.pk, "reason": exc.message},
            )
            continue
        if row.status in LIVE:
            if canonical in taken:
                logger.warning(
                    "verification.canonical_collision",
                    extra={"verification_id": row.pk, "kept_verification_id": taken[canonical]},
                )
                continue
            taken[canonical] = row.pk
        row.school_email_canonical = canonical
        changed.append(row)
        if len(changed) >= BATCH:
            verification_model.objects.bulk_update(changed, ["school_email_canonical"])
            changed = []
    verification_model.objects.bulk_update(changed, ["school_email_canonical"])


class Migration(migrations.Migration):
    dependencies = [
        ("schools", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="enrolmentverification",
            name="school_email_canonical",
            field=models.CharField(
                blank=True,
                db_index=True,
                editable=False,
                help_text="The address as `schools.addresses.school_email_canonical` spells it.",
                max_length=254,
                null=True,
            ),
        ),
        migrations.RunPython(fill_canonical, migrations.RunPython.noop, elidable=False),
    ]
