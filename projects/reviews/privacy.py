"""The reviews' share of a user's personal data: reviews written and received, replies.

On erasure a review keeps its ratings (others' reputations and rankings are
computed from them) but loses its text, whether the erased person wrote it or
it was about them; its author shows as "Erased user". A reply they wrote
reads as erased.
"""

from __future__ import annotations

from collections import defaultdict

from django.utils.translation import gettext_noop

from marketplace.models import User
from marketplace.privacy import (
    ERASED_TEXT,
    Exported,
    PersonalDataSection,
    personal_data_section_register,
    personal_text_redact,
)
from projects.reviews.models import Review, ReviewReply
from projects.reviews.selectors import review_is_visible

RATINGS = ["rating", "quality", "communication", "deadlines"]


def _row(review: Review, *, private: bool) -> dict:
    row = {
        "id": review.pk,
        "contract_id": review.contract_id,
        "role": review.role,
        **{name: getattr(review, name) for name in RATINGS},
        "comment": review.comment,
        "created_at": review.created_at,
    }
    if private:
        row["private_feedback"] = review.private_feedback
    return row


def _export(user: User) -> Exported:
    written = Review.objects.filter(author=user).order_by("created_at", "pk")
    received = list(
        Review.objects.filter(subject_user=user).select_related("contract").order_by("created_at")
    )
    sides: dict[int, set[str]] = defaultdict(set)
    for contract_id, role in Review.objects.filter(
        contract_id__in=[r.contract_id for r in received]
    ).values_list("contract_id", "role"):
        sides[contract_id].add(role)
    return Exported(
        {
            "reviews_written": [_row(r, private=True) for r in written],
            # Double-blind: a review about you is yours to read once it is shown to you.
            "reviews_received": [
                _row(r, private=False)
                for r in received
                if review_is_visible(review=r, user=user, sides_written=sides[r.contract_id])
            ],
            "replies_written": list(
                ReviewReply.objects.filter(author=user).values("review_id", "body", "created_at")
            ),
        }
    )


def _erase(user: User) -> None:
    written = Review.objects.filter(author=user)
    received = Review.objects.filter(subject_user=user)
    replies = ReviewReply.objects.filter(author=user)
    personal_text_redact(
        texts=[t for pair in written.values_list("comment", "private_feedback") for t in pair]
        + list(received.values_list("comment", flat=True))
        + list(replies.values_list("body", flat=True))
    )
    written.update(comment="", private_feedback="")
    received.update(comment="")
    replies.update(body=ERASED_TEXT)


def register() -> None:
    """Register the reviews' section (called from ReviewsConfig.ready)."""
    personal_data_section_register(
        PersonalDataSection(
            name="reviews",
            description=gettext_noop(
                "the reviews you wrote (ratings, comment, private feedback), the reviews about "
                "you that you may read, and your replies"
            ),
            exporter=_export,
            eraser=_erase,
            kept={
                "reviews.review": (
                    "ratings stay without their text: other people's reputations and rankings "
                    "are computed from them (legitimate interest, GDPR art. 6(1)(f))"
                ),
            },
        )
    )
