from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    """Reviews, replies and the reputation figures ranked by matching."""

    name = "projects.reviews"
    label = "reviews"

    def ready(self) -> None:
        from projects.contracts.policies import contract_action_register
        from projects.reviews.policies import review_action, review_prefetch
        from projects.reviews.privacy import register

        contract_action_register("review", review_action, prefetch=review_prefetch)
        register()
