from django.apps import AppConfig


class ContractsConfig(AppConfig):
    """Contracts, milestones, deliveries and disputes; the work side of payment events."""

    name = "projects.contracts"
    label = "contracts"

    def ready(self) -> None:
        from projects.contracts.payment_events import payment_events_register
        from projects.contracts.privacy import register

        payment_events_register()
        register()
