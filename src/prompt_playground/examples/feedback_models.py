"""The shipped example's response models: what the chat-extract-feedback prompt returns.

``ExtractedFeedback`` is the schema stored with the production version of the example prompt;
``ExtractedFeedbackV2`` (one extra field) is the one stored with the staging version. A unit test
keeps the YAML's stored schemas equal to these models' JSON schemas.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Sentiment = Literal["positive", "neutral", "negative", "mixed"]
Urgency = Literal["low", "medium", "high"]
Topic = Annotated[str, Field(max_length=40)]


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


class ExtractedFeedbackV2(ExtractedFeedback):
    """ExtractedFeedback plus the customer's language (the staging version's schema)."""

    language: str | None = Field(
        default=None,
        max_length=8,
        description="ISO 639-1 code of the language the customer wrote in (e.g. 'en', 'de').",
    )
