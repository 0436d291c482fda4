"""Background runs: a daemon thread with its own event loop per run, so a page never owns a run.

Pages start a run here and then only poll the run store; a page rerun (or another tab) finds the
live handle again by run id to cancel it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prompt_playground.errors import PlaygroundError
from prompt_playground.runner import PreparedVariant, RunRequest
from prompt_playground.runstore import RunRecord

if TYPE_CHECKING:
    from prompt_playground.bootstrap import Services

logger = logging.getLogger(__name__)


@dataclass
class RunHandle:
    """A run in progress in this process: cancel it, or wait for it."""

    run_id: str
    thread: threading.Thread
    cancel_event: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        """Ask the run to stop; rows already finished stay in the run store."""
        self.cancel_event.set()

    @property
    def running(self) -> bool:
        return not self.done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)


_handles: dict[str, RunHandle] = {}
_lock = threading.Lock()


def get_handle(run_id: str) -> RunHandle | None:
    """The live handle of a run started by this process, if any."""
    with _lock:
        return _handles.get(run_id)


def start_run(
    services: Services,
    request: RunRequest,
    prepared: Sequence[PreparedVariant],
    *,
    after: Callable[[RunRecord], None] | None = None,
) -> RunHandle:
    """Record the run, then run it in a daemon thread; returns at once. ``after`` gets the
    finished run in that thread (e.g. to record it as Langfuse dataset runs).

    The run record (with its samples) exists in the store when this returns, so a page can poll
    it immediately. A failure outside the per-sample boundary marks the run ``failed`` with a
    message (never leaves it ``running``).
    """
    runner = services.runner()
    record = runner.start_run(request, prepared)
    cancel = threading.Event()
    done = threading.Event()

    def target() -> None:
        try:
            finished = asyncio.run(runner.run(request, prepared, cancel=cancel, record=record))
        except PlaygroundError as exc:
            logger.warning("Run %s failed: %s", record.id, exc.message)
            services.store.finish_run(record.id, "failed", exc.message)
        except Exception as exc:
            logger.exception("Run %s failed", record.id)
            services.store.finish_run(record.id, "failed", f"{type(exc).__name__}: {exc}")
        else:
            if after is not None:
                try:
                    after(finished)
                except Exception:  # the run itself finished: it stays as it ended
                    logger.exception("Run %s: the step after the run failed", record.id)
        finally:
            done.set()

    thread = threading.Thread(target=target, name=f"run-{record.id}", daemon=True)
    handle = RunHandle(run_id=record.id, thread=thread, cancel_event=cancel, done=done)
    with _lock:
        _handles[record.id] = handle
    handle.thread.start()
    return handle


def cancel_run(run_id: str) -> bool:
    """Cancel a live run by id; False when this process is not running it."""
    handle = get_handle(run_id)
    if handle is None or not handle.running:
        return False
    handle.cancel()
    return True
