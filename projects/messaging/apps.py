from django.apps import AppConfig


class MessagingConfig(AppConfig):
    """Threads, messages and attachments checked by content."""

    name = "projects.messaging"
    label = "messaging"

    def ready(self) -> None:
        from projects.messaging.privacy import register

        register()
