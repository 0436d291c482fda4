"""Label history against the real SDK and local-langfuse: concurrent promotions of one label
record a chain of moves, never two moves from the same stale "previous version"."""

from __future__ import annotations

import contextlib
import threading

from langfuse import Langfuse

from local_langfuse import LocalLangfuseServer
from prompt_playground.history import LabelHistory
from prompt_playground.models import Variant
from prompt_playground.prompts import LangfusePromptStore, PromptVersion
from tests.support.postgres import Backend


class RacingPrompts(LangfusePromptStore):
    """The real store, but a promotion reading the label's holder waits (up to 1 s) for the
    other promotion to read it too: the interleaving that makes both see the same holder."""

    def __init__(self, langfuse: Langfuse, base_url: str) -> None:
        super().__init__(langfuse, base_url=base_url)
        self.both_read = threading.Barrier(2, timeout=1.0)

    def get(self, name: str, variant: Variant | None = None) -> PromptVersion:
        found = super().get(name, variant)
        if variant is not None and variant.label == "production":
            # promotions serialised: the other one is not reading now, the barrier breaks
            with contextlib.suppress(threading.BrokenBarrierError):
                self.both_read.wait()
        return found


def test_two_concurrent_promotions_of_one_label_record_a_chain_of_moves(
    langfuse: Langfuse, lf_server: LocalLangfuseServer, unique: str, backend: Backend
) -> None:
    prompts = RacingPrompts(langfuse, lf_server.base_url)
    name = f"race-{unique}"
    for n in range(3):
        prompts.create_version(
            name,
            type="text",
            prompt=f"v{n + 1}: {{{{text}}}}",
            labels=["production"] if n == 0 else [],
        )
    # Two histories on one store: two replicas (or the app and the CLI) promoting at once.
    target = backend.target("label-history.sqlite3")
    history, other = LabelHistory(target), LabelHistory(target)
    errors: list[BaseException] = []

    def promote(version: int) -> None:
        mine = history if version == 2 else other
        try:
            mine.promote(prompts, name, version, "production", note=f"to v{version}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=promote, args=(v,)) for v in (2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors

    first, second = sorted(history.moves(name), key=lambda m: m.id)
    assert first.from_version == 1
    assert second.from_version == first.to_version  # not the stale v1
    holder = prompts.get(name, Variant(label="production")).version
    assert holder == second.to_version


def test_a_promotion_to_the_holder_records_nothing(
    langfuse: Langfuse, lf_server: LocalLangfuseServer, unique: str, backend: Backend
) -> None:
    prompts = LangfusePromptStore(langfuse, base_url=lf_server.base_url)
    name = f"noop-{unique}"
    prompts.create_version(name, type="text", prompt="hi", labels=["production"])
    history = LabelHistory(backend.target("label-history.sqlite3"))
    promotion, move = history.promote(prompts, name, 1, "production")
    assert not promotion.changed
    assert move is None
    assert history.moves(name) == []
