from django.apps import AppConfig


class BriefsConfig(AppConfig):
    """Briefs and bids: posting, search, filters and matching."""

    name = "projects.briefs"
    label = "briefs"

    def ready(self) -> None:
        from projects.briefs.privacy import register

        register()
