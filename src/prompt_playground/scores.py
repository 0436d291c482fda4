"""Scores sent to Langfuse on result traces, so accuracy shows next to each trace there."""

from __future__ import annotations

from collections.abc import Sequence

from langfuse import Langfuse

from prompt_playground.compare import ScoreToPost
from prompt_playground.prompts import translate_sdk_errors


def post_scores(langfuse: Langfuse, scores: Sequence[ScoreToPost], *, base_url: str) -> int:
    """Queue every score, flush them to Langfuse, and say how many were sent."""
    with translate_sdk_errors("post scores", base_url):
        for score in scores:
            langfuse.create_score(
                trace_id=score.trace_id,
                name=score.name,
                value=score.value,
                comment=score.comment,
            )
        langfuse.flush()
    return len(scores)
