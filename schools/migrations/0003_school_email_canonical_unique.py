"""One live claim per school mailbox: the unique key moves to the canonical address.

A migration of its own, after the data one: PostgreSQL refuses to alter a table
with pending trigger events in the transaction that updated its rows.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("schools", "0002_school_email_canonical"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="enrolmentverification",
            name="verification_one_live_per_email",
        ),
        migrations.AddConstraint(
            model_name="enrolmentverification",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status__in", ["pending_review", "verified"])),
                fields=("school_email_canonical",),
                name="verification_one_live_per_email",
            ),
        ),
    ]
