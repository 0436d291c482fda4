"""Posting accuracy scores through the unmodified SDK: only scores Langfuse confirms count."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from langfuse import Langfuse

from local_langfuse import LocalLangfuseServer
from prompt_playground.compare import ScoreToPost
from prompt_playground.scores import post_scores
from tests.support.servers import free_port


def test_posted_scores_are_read_back_before_they_are_counted(
    langfuse: Langfuse, lf_server: LocalLangfuseServer
) -> None:
    trace_id = Langfuse.create_trace_id()
    scores = [
        ScoreToPost(trace_id=trace_id, name="accuracy", value=1.0),
        ScoreToPost(trace_id=trace_id, name="accuracy.sentiment", value=0.0, comment="x"),
    ]
    assert post_scores(langfuse, scores, base_url=lf_server.base_url) == 2
    stored = langfuse.api.scores.get_many(trace_id=trace_id).data
    assert sorted(s.name for s in stored) == ["accuracy", "accuracy.sentiment"]


def test_nothing_to_post_sends_nothing(langfuse: Langfuse, lf_server: LocalLangfuseServer) -> None:
    assert post_scores(langfuse, [], base_url=lf_server.base_url) == 0


def test_scores_are_not_reported_as_posted_while_langfuse_is_down() -> None:
    """Run apart: the SDK keeps one client per public key, and this one points at a dead port."""
    port = free_port()
    script = textwrap.dedent(
        f"""
        from langfuse import Langfuse
        from prompt_playground.compare import ScoreToPost
        from prompt_playground.errors import PlaygroundError
        from prompt_playground.scores import post_scores

        url = "http://127.0.0.1:{port}"
        lf = Langfuse(public_key="pk-lf-down", secret_key="sk-lf-down", base_url=url)
        score = ScoreToPost(trace_id=Langfuse.create_trace_id(), name="accuracy", value=1.0)
        try:
            count = post_scores(lf, [score], base_url=url, confirm_within_s=1)
        except PlaygroundError as exc:
            print("ERROR:", exc.message)
        else:
            print("POSTED:", count)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert "POSTED" not in done.stdout, done.stdout
    assert "ERROR:" in done.stdout, done.stderr[-2000:]
    assert "unreachable" in done.stdout
    assert f"127.0.0.1:{port}" in done.stdout
