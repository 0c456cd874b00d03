"""The engine's side of the pipe to the writer process: spawn, encode, and ack bookkeeping.

I/O-agnostic: the async logger drives it from event-loop callbacks, the threaded logger from
its own threads. It numbers every event line it encodes (ordinals), keeps the encoded chunks
until the writer acknowledges them (so a restarted writer can be sent them again; live.db
ignores duplicates by event_id), and resolves `log_durable` waiters when their ordinal commits.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import select
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import orjson

from observability.config.observability_config import ObservabilityConfig
from observability.errors import DataDirError, EventValidationError, ObservabilityError
from observability.paths import DataLayout

_F_SETPIPE_SZ = 1031
_APPEND_NL = orjson.OPT_APPEND_NEWLINE


class Waiter(Protocol):
    def set_result(self, result: Any, /) -> None: ...
    def set_exception(self, exception: BaseException, /) -> None: ...
    def done(self) -> bool: ...


@dataclass
class Chunk:
    first: int
    end: int
    data: bytes
    sent_at: float


class WriterStartError(ObservabilityError):
    """The writer process could not open the data directory."""


def spawn_writer(
    layout: DataLayout, config: ObservabilityConfig, *, start_timeout: float = 30.0
) -> subprocess.Popen[bytes]:
    """Start the writer process and wait for its ready line (or its one-line fatal error)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "observability.core.writer_process", "--data-dir", str(layout.root),
         "--config-json", config.model_dump_json()],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    with contextlib.suppress(OSError):
        fcntl.fcntl(proc.stdin.fileno(), _F_SETPIPE_SZ, 1 << 20)
    out_fd = proc.stdout.fileno()
    deadline = time.monotonic() + start_timeout
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([out_fd], [], [], left)[0]:
            proc.kill()
            raise WriterStartError(f"{layout.live_db}: the writer process did not start within {start_timeout:.0f} s")
        part = os.read(out_fd, 4096)
        if not part:
            code = proc.wait()
            raise WriterStartError(f"{layout.live_db}: the writer process exited at start (code {code})")
        line += part
    msg = orjson.loads(line.split(b"\n", 1)[0])
    if "fatal" in msg:
        proc.wait()
        raise DataDirError(str(msg["fatal"]))
    return proc


def encode(items: list[tuple[Any, ...]]) -> tuple[bytes, int, list[tuple[int, Waiter]]]:
    """NDJSON for queued items; returns (data, event lines, [(index within chunk, waiter)])."""
    parts: list[bytes] = []
    waiters: list[tuple[int, Waiter]] = []
    dumps = orjson.dumps
    for item in items:
        ev, ts = item[0], item[1]
        try:
            if type(ev) is dict:
                ev["ts_logged"] = ts
                line = dumps(ev, option=_APPEND_NL)
            elif hasattr(ev, "model_dump_json"):
                ev.ts_logged = datetime.fromtimestamp(ts, tz=UTC)
                line = ev.model_dump_json().encode() + b"\n"
            else:
                raise TypeError(f"events must be dicts or Pydantic events, got {type(ev).__name__}")
        except (TypeError, ValueError) as exc:
            # Sent as a non-JSON line so the writer dead-letters it with this reason, in order.
            reason = f"unserialisable event: {exc}; {ev!r}"[:4000].replace("\n", " ")
            line = (reason + "\n").encode()
        if len(item) == 3:
            waiters.append((len(parts), item[2]))
        parts.append(line)
    return b"".join(parts), len(parts), waiters


class WriterLink:
    """Ordinals, in-flight chunks and waiters for one logger across writer restarts."""

    def __init__(self) -> None:
        self.sent = 0
        self.acked = 0
        self.base = 0
        self.dead_total = 0
        self.last_error: str | None = None
        self.inflight: deque[Chunk] = deque()
        self._waiters: deque[tuple[int, Waiter]] = deque()
        self._ackbuf = b""

    def register(self, data: bytes, n: int, waiters: list[tuple[int, Waiter]]) -> None:
        first = self.sent
        self.sent += n
        self.inflight.append(Chunk(first, self.sent, data, time.monotonic()))
        for i, w in waiters:
            self._waiters.append((first + i, w))

    def restart(self) -> bytes:
        """A new writer starts counting at 0: re-base and return every unacknowledged chunk."""
        self._ackbuf = b""
        self.base = self.inflight[0].first if self.inflight else self.sent
        self.acked = self.base
        return b"".join(c.data for c in self.inflight)

    def feed(self, data: bytes) -> None:
        self._ackbuf += data
        *lines, self._ackbuf = self._ackbuf.split(b"\n")
        for line in lines:
            try:
                msg = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # not a reply (the protocol has its own fd; this is defensive)
            if isinstance(msg, dict):
                self._on_reply(msg)

    def _on_reply(self, msg: dict[str, Any]) -> None:
        if "err" in msg:
            self.last_error = str(msg["err"])
            return
        if "n" not in msg:
            return
        self.last_error = None
        dead = {self.base + int(o): str(e) for o, e in msg.get("dead", [])}
        self.dead_total += len(dead)
        self.acked = self.base + int(msg["n"])
        while self.inflight and self.inflight[0].end <= self.acked:
            self.inflight.popleft()
        while self._waiters and self._waiters[0][0] < self.acked:
            ordinal, w = self._waiters.popleft()
            if w.done():
                continue
            if ordinal in dead:
                w.set_exception(EventValidationError(f"event rejected by the writer: {dead[ordinal]}"))
            else:
                w.set_result(None)

    def fail_waiters(self, exc: BaseException) -> None:
        while self._waiters:
            _, w = self._waiters.popleft()
            if not w.done():
                w.set_exception(exc)

    @property
    def lag_events(self) -> int:
        return self.sent - self.acked

    def lag_seconds(self) -> float:
        return time.monotonic() - self.inflight[0].sent_at if self.inflight else 0.0


class FallbackError(ObservabilityError):
    """Neither fallback place could take the unwritten events (both disks full or unwritable)."""


def write_fallback(layout: DataLayout, chunks: list[bytes]) -> Path | None:
    """Keep events the writer could not take in an NDJSON file the next writer replays.

    The data directory comes first; when its disk is full (the likely reason the writer could not
    take them) the spare folder in the system temp directory, which the next writer replays too.
    """
    data = b"".join(chunks)
    if not data.strip():
        return None
    name = f"unwritten-{time.time_ns()}-{os.getpid()}.ndjson"
    problems = []
    for folder in layout.fallback_dirs:
        tmp = folder / f"{name}.tmp"
        try:
            if folder != layout.spare_fallback_dir:
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            elif not layout.spare_fallback_ready(create=True):
                raise PermissionError(errno.EPERM, "not a folder only this user can enter; remove it")
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, folder / name)
            return folder / name
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            problems.append(f"{folder}: {exc.strerror or exc}")
    events = sum(1 for line in data.splitlines() if line[:1] == b"{")
    raise FallbackError(f"{events} unwritten events could not be kept ({'; '.join(problems)}); "
                        "free disk space in the data directory before the engine stops")
