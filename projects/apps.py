from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"

    def ready(self) -> None:
        # Registers the tasks kept outside projects/tasks.py with Celery (autodiscovery
        # imports only `<app>.tasks`).
        from projects import lifecycle_tasks, review_tasks  # noqa: F401
