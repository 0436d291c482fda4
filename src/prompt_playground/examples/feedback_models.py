"""The shipped example's response models: what the chat-extract-feedback prompt returns.

``ExtractedFeedback`` is the schema stored with the production version of the example prompt;
``ExtractedFeedbackV2`` (a fixed topic taxonomy, a shorter summary) is the one stored with the
staging version. A unit test
keeps the YAML's stored schemas equal to these models' JSON schemas.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Sentiment = Literal["positive", "neutral", "negative", "mixed"]
Urgency = Literal["low", "medium", "high"]
Topic = Annotated[str, Field(min_length=1, max_length=40)]


class ExtractedFeedback(BaseModel):
    """Structured feedback extracted from one customer-support chat."""

    model_config = ConfigDict(extra="forbid")

    sentiment: Sentiment = Field(
        description="The customer's overall sentiment across the whole conversation."
    )
    topics: list[Topic] = Field(
        max_length=5,
        description="Up to 5 short topic labels in English, lowercase (e.g. 'delivery', 'refund').",
    )
    summary: str = Field(
        max_length=200,
        description="One or two sentences in English summarising the customer's issue or feedback.",
    )
    urgency: Urgency = Field(
        description="How soon support must act: high = money, safety or access at risk now; "
        "medium = a problem blocking the customer; low = questions, praise, suggestions."
    )
    requires_follow_up: bool = Field(
        description="True when the support team still has to do something after this chat."
    )
    product: str | None = Field(
        default=None,
        max_length=60,
        description="The product or service the chat is about, if one is named; otherwise null.",
    )


TopicLabel = Literal[
    "delivery",
    "damaged or wrong item",
    "refund",
    "billing",
    "account access",
    "app or website",
    "product quality",
    "device failure",
    "safety",
    "subscription",
    "pricing",
    "shipping question",
    "feature request",
    "praise",
    "other",
]


# v1's free-text topics cannot be counted across chats ("late parcel", "delay", "shipping");
# v2 picks 1 to 3 labels from one list and keeps the summary to one short sentence.
class ExtractedFeedbackV2(ExtractedFeedback):
    """ExtractedFeedback with a fixed topic taxonomy and a one-sentence summary."""

    topics: list[TopicLabel] = Field(  # type: ignore[assignment]
        min_length=1,
        max_length=3,
        description="1 to 3 labels from the fixed taxonomy.",
    )
    summary: str = Field(
        max_length=120,
        description="One English sentence, at most 120 characters: the customer's issue.",
    )
