from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    """Reviews, replies and the reputation figures ranked by matching."""

    name = "projects.reviews"
    label = "reviews"
