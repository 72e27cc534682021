from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data, the real-data brief importer and the marketplace simulation."""

    name = "projects.demo"
    label = "demo"
