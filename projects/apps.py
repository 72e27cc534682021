from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    """The work side's history before it was split into the apps of this package.

    It holds no models: its migrations created the tables that `briefs`,
    `contracts`, `reviews` and `messaging` took over (their first migrations
    adopt them as they are), so existing databases keep their data.
    """

    name = "projects"
