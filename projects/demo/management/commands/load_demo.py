"""`manage.py load_demo`: the small hand-written demo data set (idempotent)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.test.utils import override_settings

from marketplace.management.progress import quiet_info_logs
from projects.demo.services import demo_load


class Command(BaseCommand):
    help = "Load the demo schools, companies, students, briefs and contracts (once)."

    def handle(self, *args: Any, **options: Any) -> None:
        # The demo confirms its school addresses itself: nothing to mail to real domains.
        with (
            override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"),
            quiet_info_logs(verbosity=options["verbosity"]),
        ):
            report = demo_load()
        if report.created:
            self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        else:
            self.stdout.write("Demo data already present; nothing changed.")
        self.stdout.write(f"Log in with any of these, password {report.password}:")
        width = max(len(email) for _, email, _ in report.logins)
        for role, email, note in report.logins:
            self.stdout.write(f"  {role:<12} {email:<{width}}  {note}")
        if not settings.TWO_FACTOR_REQUIRED:
            self.stdout.write(
                self.style.WARNING(
                    "Demo: staff and coordinators sign in without a second factor here "
                    "(TWO_FACTOR_REQUIRED=false); production requires it."
                )
            )
