"""The promotion policy: the evidence a version needs before it takes a label.

Kept apart from :mod:`prompt_playground.gate` so settings can hold it without loading the
statistics libraries.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PromotionPolicy(BaseModel):
    """The rules the gate checks on a run of the candidate against the label's holder.

    Written as JSON in ``PLAYGROUND_PROMOTION_POLICY``; keys left out keep their defaults.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_samples: int = Field(
        default=20, ge=1, description="Fewest samples that both variants were run on."
    )
    alpha: float = Field(
        default=0.05, gt=0, lt=1, description="Significance level of every rule's test."
    )
    no_field_worse: bool = Field(
        default=True,
        description="No field with expected values significantly worse (Holm-adjusted).",
    )
    schema_valid_not_worse: bool = Field(
        default=True,
        description="The share of answers that match the response schema not significantly lower.",
    )
    error_rate_not_worse: bool = Field(
        default=True,
        description="The share of calls that end in an error not significantly higher.",
    )
    self_consistency_not_lower: bool = Field(
        default=True,
        description="With repeats: no field's self-consistency significantly lower (Holm).",
    )

    def __str__(self) -> str:
        return self.model_dump_json()
