"""The models now live in `briefs`, `contracts`, `reviews` and `messaging`.

They leave this app's state only: the tables and rows stay, adopted by those
apps' first migrations.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0004_search_vector"),
        ("briefs", "0001_initial"),
        ("contracts", "0001_initial"),
        ("reviews", "0001_initial"),
        ("messaging", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="Attachment"),
                migrations.DeleteModel(name="ThreadRead"),
                migrations.DeleteModel(name="Message"),
                migrations.DeleteModel(name="Thread"),
                migrations.DeleteModel(name="ReviewReply"),
                migrations.DeleteModel(name="Review"),
                migrations.DeleteModel(name="Dispute"),
                migrations.DeleteModel(name="MilestoneEvent"),
                migrations.DeleteModel(name="Delivery"),
                migrations.DeleteModel(name="Milestone"),
                migrations.DeleteModel(name="Contract"),
                migrations.DeleteModel(name="Bid"),
                migrations.DeleteModel(name="Project"),
            ],
            database_operations=[],
        ),
    ]
