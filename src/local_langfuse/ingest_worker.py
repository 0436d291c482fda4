"""The OTLP ingestion worker process (``python -m local_langfuse.ingest_worker``) and its wire.

:class:`~local_langfuse.ingest_pool.IngestPool` starts it and sends it jobs (picklable
callables) on its stdin; it answers each with ``(ok, result or exception)`` on its stdout, both
as length-prefixed pickles, and exits when its stdin closes. The pipe is private to the server
and its child, which is why pickle (and no validation) is fine here.
"""

from __future__ import annotations

import os
import pickle
import struct
import sys
from typing import IO, Any

_HEADER = struct.Struct("!Q")


def send(stream: IO[bytes], payload: Any) -> None:
    """Write one length-prefixed pickle (pickled first, so a failure writes nothing)."""
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def receive(stream: IO[bytes]) -> Any:
    """The next pickled message, or ``EOFError`` when the other side is gone."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


def serve() -> None:
    """Run each job sent on stdin and send back ``(ok, result or error)``, until end of input."""
    # Ingestion is background work: when the cores are busy, the server answering reads goes
    # first. With idle cores the worker runs at full speed all the same.
    os.nice(10)
    requests = sys.stdin.buffer
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a job prints goes to stderr, never into the replies
    while True:
        try:
            job = receive(requests)
        except EOFError:
            return
        try:
            reply: tuple[bool, Any] = (True, job())
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the server
            reply = (False, exc)
        try:
            send(replies, reply)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            send(replies, (False, RuntimeError(f"The job's result does not pickle: {exc}")))


if __name__ == "__main__":
    serve()
