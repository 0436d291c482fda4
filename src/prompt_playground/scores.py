"""Scores sent to Langfuse on result traces, so accuracy shows next to each trace there.

The SDK queues scores and sends them from a background thread; what it cannot send it logs and
drops. So a score counts as posted only once Langfuse returns it when read back by its id.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from langfuse import Langfuse

from prompt_playground.compare import ScoreToPost
from prompt_playground.errors import PromptStoreError
from prompt_playground.prompts import translate_sdk_errors

#: How long to wait for Langfuse to show the posted scores (real Langfuse ingests them
#: asynchronously, usually within a few seconds).
CONFIRM_WITHIN_S = 15.0
_PAGE = 100
_MAX_PAGES = 100


def post_scores(
    langfuse: Langfuse,
    scores: Sequence[ScoreToPost],
    *,
    base_url: str,
    confirm_within_s: float = CONFIRM_WITHIN_S,
) -> int:
    """Send every score, then read them back; returns how many Langfuse confirmed (all of them).

    Raises:
        PromptStoreError: Langfuse cannot be reached or refuses the keys, or it does not show
            every score within ``confirm_within_s`` (the message says how many it did show).
    """
    if not scores:
        return 0
    since = datetime.now(UTC) - timedelta(minutes=5)  # tolerate clock skew with the server
    ids: set[str] = set()
    with translate_sdk_errors("post scores", base_url):
        for score in scores:
            score_id = uuid.uuid4().hex
            ids.add(score_id)
            langfuse.create_score(
                trace_id=score.trace_id,
                name=score.name,
                value=score.value,
                comment=score.comment,
                score_id=score_id,
            )
        langfuse.flush()
    deadline = time.monotonic() + confirm_within_s
    with translate_sdk_errors("confirm the posted scores (read them back)", base_url):
        confirmed = _found(langfuse, ids, since)
        while len(confirmed) < len(ids) and time.monotonic() < deadline:
            time.sleep(0.5)
            confirmed = _found(langfuse, ids, since)
    if len(confirmed) < len(ids):
        raise PromptStoreError(
            f"Langfuse at {base_url} confirmed {len(confirmed)} of {len(ids)} scores; the other "
            f"{len(ids) - len(confirmed)} did not show up within {confirm_within_s:.0f} s (the "
            "SDK drops scores it cannot send). Check that Langfuse is running and accepts the "
            "keys, then post again (posting again adds another set).",
        )
    return len(confirmed)


def _found(langfuse: Langfuse, ids: set[str], since: datetime) -> set[str]:
    """Which of ``ids`` Langfuse returns among the scores stamped since ``since``."""
    found: set[str] = set()
    cursor: str | None = None
    for _ in range(_MAX_PAGES):
        page = langfuse.api.scores.get_many(limit=_PAGE, from_timestamp=since, cursor=cursor)
        found.update(s.id for s in page.data if s.id in ids)
        cursor = getattr(page.meta, "cursor", None)
        if not cursor or found == ids:
            break
    return found
