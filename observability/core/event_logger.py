"""EventLogger (asyncio) and SyncEventLogger (threads): the engine's non-blocking logger.

`log()` costs a deque append and a depth check (~0.5 µs); it never blocks and never raises on
a full queue. Serialisation (orjson, a few hundred events per loop callback so no callback
stalls the loop) and the hand-off to the writer *process* happen off the caller's hot path;
validation, SQLite inserts and commits happen in that process, on the other core.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import select
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from observability.config.observability_config import ObservabilityConfig, load_observability_config
from observability.core import builders
from observability.core.event_queue import EventQueue
from observability.core.queue_monitor import AlertSink, QueueMonitor, status_of
from observability.core.schemas import HealthSnapshot
from observability.core.writer_link import FallbackError, WriterLink, encode, spawn_writer, write_fallback
from observability.errors import ObservabilityError
from observability.paths import DataLayout, resolve_data_dir

KillSwitchCallback = Callable[[dict[str, Any]], None]


class LoggerClosedError(ObservabilityError):
    """log_durable() after aclose(), or the logger was never started."""


@dataclass(frozen=True)
class CloseReport:
    """What aclose()/close() could and could not write."""

    accepted: int
    written: int
    dead_lettered: int
    dropped: int
    unwritten: int
    fallback_file: Path | None
    elapsed_s: float
    error: str | None = None
    """Set when the unwritten events could not be kept anywhere (they are lost): says why."""

    def __str__(self) -> str:
        tail = f"; {self.unwritten} unwritten kept in {self.fallback_file}" if self.unwritten else ""
        if self.error:
            tail = f"; {self.error}"
        return (f"accepted {self.accepted}, written {self.written}, dead-lettered {self.dead_lettered}, "
                f"dropped {self.dropped}{tail}")


class _LoggerBase:
    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        config: ObservabilityConfig | None = None,
        *,
        on_kill_switch: KillSwitchCallback | None = None,
        alert_sinks: Sequence[AlertSink] = (),
    ) -> None:
        self.config = config if config is not None else load_observability_config()
        self.layout = DataLayout(resolve_data_dir(data_dir if data_dir is not None else self.config.data_dir))
        self._kill_cb = on_kill_switch
        self._q = EventQueue(self.config.queue, on_fire=self._on_fire)
        self._link = WriterLink()
        self.monitor = QueueMonitor(self.config.alerts, alert_sinks)
        self._proc: subprocess.Popen[bytes] | None = None
        self._writer_alive = False
        self._writer_exit: str | None = None
        self._closed = False
        self._rate_mark = (time.monotonic(), 0, 0)
        self._rates = (0.0, 0.0)

    # -- public, shared ---------------------------------------------------------------------------

    @property
    def kill_switch_active(self) -> bool:
        return self._q.kill_switch_active

    def reset_kill_switch(self) -> None:
        """Re-arm the kill switch by hand (it also re-arms by itself below the lower mark)."""
        self._q.reset_kill_switch()
        self._wake()

    def health(self) -> HealthSnapshot:
        q, link = self._q, self._link
        snap = HealthSnapshot(
            ts=datetime.now(UTC), status="ok", queue_depth=q.depth, queue_maxsize=q.maxsize,
            fill_ratio=q.fill_ratio, accepted_total=q.accepted_total, dropped_total=q.dropped_total,
            dropped_by_severity=dict(q.dropped_by_severity), dropped_by_type=dict(q.dropped_by_type),
            written_total=link.acked - link.dead_total, dead_letter_total=link.dead_total,
            writer_lag_events=link.lag_events, writer_lag_s=round(link.lag_seconds(), 4),
            events_per_s=round(self._rates[0], 1), written_per_s=round(self._rates[1], 1),
            kill_switch=q.kill_switch_active, kill_switch_fired_total=q.kill_switch_fired_total,
            writer_alive=self._writer_alive, writer_error=link.last_error or self._writer_exit, pid=os.getpid(),
        )
        snap.status = "stopped" if self._closed else status_of(snap, self.config.alerts)  # type: ignore[assignment]
        return snap

    # -- internals shared by both flavours ---------------------------------------------------------

    def _wake(self) -> None:
        raise NotImplementedError

    def _on_fire(self, info: dict[str, Any]) -> None:
        if self._kill_cb is not None:
            self._call_user(self._kill_cb, info)

    def _call_user(self, fn: KillSwitchCallback, info: dict[str, Any]) -> None:
        raise NotImplementedError

    def _health_line(self) -> tuple[bytes, list[Any]]:
        """Roll the rate window, evaluate alerts, and encode the snapshot for the `health` table."""
        now = time.monotonic()
        t0, a0, w0 = self._rate_mark
        accepted, written = self._q.accepted_total, self._link.acked
        if now > t0:
            self._rates = ((accepted - a0) / (now - t0), (written - w0) / (now - t0))
        self._rate_mark = (now, accepted, written)
        snap = self.health()
        alerts = self.monitor.check(snap)
        for alert in alerts:
            self._q.put_critical(builders.health(
                status=snap.status, queue_depth=snap.queue_depth, fill_ratio=snap.fill_ratio,
                dropped=snap.dropped_by_severity, writer_lag_s=snap.writer_lag_s, events_per_s=snap.events_per_s,
                kill_switch=snap.kill_switch, message=alert.message, severity=alert.severity,
            ))
        data = snap.model_dump(mode="json")
        data["ts"] = time.time()
        return b"!H" + orjson.dumps(data) + b"\n", alerts

    def _unwritten_chunks(self) -> tuple[list[bytes], int]:
        self._q.close()
        items = self._q.take(len(self._q))
        self._q.fail_waiters(items, LoggerClosedError("logger closed before the event was committed; "
                                                      "it is kept in the fallback file"))
        data, n, _ = encode(items)
        chunks = [c.data for c in self._link.inflight] + [data]
        return chunks, n + self._link.lag_events

    def _keep_unwritten(self, started: float) -> CloseReport:
        """Report of a close that could not write everything: the rest goes to a fallback file."""
        chunks, unwritten = self._unwritten_chunks()
        try:
            return self._report(started, write_fallback(self.layout, chunks), unwritten)
        except FallbackError as exc:
            return self._report(started, None, unwritten, error=str(exc))

    def _report(self, started: float, fallback: Path | None, unwritten: int, error: str | None = None) -> CloseReport:
        link = self._link
        return CloseReport(
            accepted=self._q.accepted_total, written=link.acked - link.dead_total, dead_lettered=link.dead_total,
            dropped=self._q.dropped_total, unwritten=unwritten, fallback_file=fallback,
            elapsed_s=time.monotonic() - started, error=error,
        )


class EventLogger(_LoggerBase):
    """The asyncio logger. Call `log()` only from the loop's thread (use SyncEventLogger elsewhere)."""

    def __init__(self, data_dir: str | os.PathLike[str] | None = None, config: ObservabilityConfig | None = None,
                 *, on_kill_switch: KillSwitchCallback | None = None, alert_sinks: Sequence[AlertSink] = ()) -> None:
        super().__init__(data_dir, config, on_kill_switch=on_kill_switch, alert_sinks=alert_sinks)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scheduled = False
        self._out: bytearray | None = None
        self._in_fd = -1
        self._out_fd = -1
        self._progress: asyncio.Event | None = None
        self._health_handle: asyncio.TimerHandle | None = None
        self._restart_task: asyncio.Task[None] | None = None
        self._restart_delay = 0.25

    async def __aenter__(self) -> EventLogger:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Create the data directory (0700), start the writer process, and begin draining."""
        if self._loop is not None:
            return
        loop = asyncio.get_running_loop()
        self.layout.ensure()
        self._progress = asyncio.Event()
        proc = await loop.run_in_executor(None, spawn_writer, self.layout, self.config)
        self._loop = loop
        self._attach(proc)
        self._health_handle = loop.call_later(self.config.writer.health_interval_seconds, self._health_tick)
        self._wake()

    # -- hot path -------------------------------------------------------------------------------

    def log(self, event: Any) -> bool:
        """Queue `event` (a builders dict or a Pydantic event); False if its tier dropped it."""
        if self._q.put(event):
            if not self._scheduled and self._loop is not None:
                self._scheduled = True
                self._loop.call_soon(self._drain)
            return True
        return False

    async def log_durable(self, event: Any, timeout: float | None = None) -> None:
        """Queue `event` on the never-drop lane and return once it is committed to live.db.

        Raises EventValidationError if the writer rejected it (it is then in dead_letter).
        """
        if self._closed or self._loop is None:
            raise LoggerClosedError("log_durable() needs a started, open logger (await logger.start())")
        fut: asyncio.Future[None] = self._loop.create_future()
        self._q.put_durable(event, fut)
        self._wake()
        await asyncio.wait_for(asyncio.shield(fut), timeout)

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything accepted so far is committed (or dead-lettered); False on timeout."""
        self._send_control(b"!F\n")
        deadline = None if timeout is None else time.monotonic() + timeout
        assert self._progress is not None
        while len(self._q) or self._q.pending or self._link.lag_events:
            self._wake()
            self._progress.clear()
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), None if left is None else min(left, 0.5))
        return True

    async def aclose(self, timeout: float | None = None) -> CloseReport:
        """Drain, flush and stop the writer within `timeout` (config writer.close_timeout_seconds).

        Whatever could not be written in time is kept in data/fallback/ and replayed by the next
        writer, and counted in the report.
        """
        started = time.monotonic()
        if self._closed:
            return self._report(started, None, 0)
        limit = self.config.writer.close_timeout_seconds if timeout is None else timeout
        if self._loop is None:
            self._closed = True
            self._q.close()
            return self._keep_unwritten(started)
        ok = await self.flush(timeout=limit)
        self._closed = True
        self._q.close()
        if self._health_handle:
            self._health_handle.cancel()
        if self._restart_task:
            self._restart_task.cancel()
        proc = self._proc
        self._detach()
        if proc is not None:
            with contextlib.suppress(OSError):
                if proc.stdin:
                    proc.stdin.close()
            left = max(0.1, limit - (time.monotonic() - started))
            try:
                await asyncio.get_running_loop().run_in_executor(None, proc.wait, left)
            except subprocess.TimeoutExpired:
                proc.kill()
                await asyncio.get_running_loop().run_in_executor(None, proc.wait)
            if proc.stdout and not proc.stdout.closed:
                with contextlib.suppress(OSError, ValueError):
                    self._link.feed(proc.stdout.read() or b"")
                proc.stdout.close()
        report = self._report(started, None, 0)
        if not ok or self._link.lag_events or len(self._q):
            report = self._keep_unwritten(started)
        self._link.fail_waiters(LoggerClosedError("logger closed before the event was committed"))
        return report

    # -- loop callbacks -----------------------------------------------------------------------------

    def _wake(self) -> None:
        if not self._scheduled and self._loop is not None:
            self._scheduled = True
            self._loop.call_soon(self._drain)

    def _call_user(self, fn: KillSwitchCallback, info: dict[str, Any]) -> None:
        if self._loop is not None:
            self._loop.call_soon(fn, info)
        else:
            fn(info)

    def _drain(self) -> None:
        self._scheduled = False
        if self._out is not None or not self._writer_alive:
            return
        items = self._q.take(self.config.writer.chunk_events)
        if not items:
            return
        data, n, waiters = encode(items)
        self._link.register(data, n, waiters)
        if self._write(data):
            self._q.handed()
        if len(self._q) and self._out is None:
            self._wake()

    def _write(self, data: bytes) -> bool:
        """Write without blocking; True when all of it is in the pipe, else the rest waits for writability."""
        if self._out is not None:
            self._out += data
            return False
        try:
            written = os.write(self._in_fd, data)
        except BlockingIOError:
            written = 0
        except OSError:
            return False  # the writer is gone; the reader sees EOF and restarts it, re-sending in-flight chunks
        if written < len(data):
            assert self._loop is not None
            self._out = bytearray(data[written:])
            self._loop.add_writer(self._in_fd, self._on_writable)
            return False
        return True

    def _on_writable(self) -> None:
        assert self._out is not None
        try:
            written = os.write(self._in_fd, self._out)
        except BlockingIOError:
            return
        except OSError:
            self._drop_output()
            return
        del self._out[:written]
        if not self._out:
            self._drop_output()
            self._q.handed()
            self._wake()

    def _drop_output(self) -> None:
        self._out = None
        if self._loop is not None and self._in_fd >= 0:
            self._loop.remove_writer(self._in_fd)

    def _send_control(self, line: bytes) -> None:
        if self._writer_alive:
            self._write(line)

    def _on_readable(self) -> None:
        try:
            data = os.read(self._out_fd, 1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._on_writer_exit()
            return
        self._link.feed(data)
        assert self._progress is not None
        self._progress.set()
        if len(self._q) and self._out is None:
            self._wake()

    def _health_tick(self) -> None:
        assert self._loop is not None
        line, alerts = self._health_line()
        self._send_control(line)
        if alerts and self.monitor.sinks:
            self._loop.run_in_executor(None, self.monitor.notify, alerts)
        self._wake()
        self._health_handle = self._loop.call_later(self.config.writer.health_interval_seconds, self._health_tick)

    # -- writer process lifecycle ---------------------------------------------------------------------

    def _attach(self, proc: subprocess.Popen[bytes]) -> None:
        assert self._loop is not None and proc.stdin is not None and proc.stdout is not None
        self._proc = proc
        self._in_fd = proc.stdin.fileno()
        self._out_fd = proc.stdout.fileno()
        os.set_blocking(self._in_fd, False)
        os.set_blocking(self._out_fd, False)
        self._loop.add_reader(self._out_fd, self._on_readable)
        self._writer_alive = True
        self._writer_exit = None

    def _detach(self) -> None:
        if self._loop is not None:
            if self._out_fd >= 0:
                self._loop.remove_reader(self._out_fd)
            if self._in_fd >= 0:
                self._loop.remove_writer(self._in_fd)
        self._out = None
        self._q.handed()  # a chunk cut short is in the in-flight list, re-sent to the next writer
        self._writer_alive = False

    def _on_writer_exit(self) -> None:
        proc = self._proc
        self._detach()
        code = proc.poll() if proc is not None else None
        self._writer_exit = f"writer process exited (code {code}); restarting"
        if proc is not None:
            for pipe in (proc.stdin, proc.stdout):
                with contextlib.suppress(OSError):
                    if pipe:
                        pipe.close()
        if not self._closed and self._loop is not None:
            self._restart_task = self._loop.create_task(self._restart())

    async def _restart(self) -> None:
        assert self._loop is not None
        while not self._closed:
            await asyncio.sleep(self._restart_delay)
            try:
                proc = await self._loop.run_in_executor(None, spawn_writer, self.layout, self.config)
            except ObservabilityError as exc:
                self._writer_exit = f"writer restart failed: {exc}"
                self._restart_delay = min(self._restart_delay * 2, 10.0)
                continue
            self._restart_delay = 0.25
            self._attach(proc)
            resend = self._link.restart()
            if resend:
                self._write(resend)
            self._wake()
            return


class SyncEventLogger(_LoggerBase):
    """The same logger for threaded code: `log()` is safe from any thread and never blocks."""

    def __init__(self, data_dir: str | os.PathLike[str] | None = None, config: ObservabilityConfig | None = None,
                 *, on_kill_switch: KillSwitchCallback | None = None, alert_sinks: Sequence[AlertSink] = ()) -> None:
        super().__init__(data_dir, config, on_kill_switch=on_kill_switch, alert_sinks=alert_sinks)
        self._wake_event = threading.Event()
        self._lock = threading.Lock()
        self._progress = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._stop = False
        self._started = False

    def __enter__(self) -> SyncEventLogger:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        if self._started:
            return
        self.layout.ensure()
        self._spawn()
        self._writer_alive = True
        self._started = True
        for target, name in ((self._drain_loop, "huracan-obs-drain"), (self._ack_loop, "huracan-obs-acks")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def log(self, event: Any) -> bool:
        if self._q.put(event):
            if not self._wake_event.is_set():
                self._wake_event.set()
            return True
        return False

    def log_durable(self, event: Any, timeout: float | None = None) -> None:
        if self._closed or not self._started:
            raise LoggerClosedError("log_durable() needs a started, open logger (call start())")
        fut: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._q.put_durable(event, fut)
        self._wake_event.set()
        fut.result(timeout)

    def flush(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        self._wake_event.set()
        with self._progress:
            while len(self._q) or self._q.pending or self._link.lag_events:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._wake_event.set()
                self._progress.wait(0.05 if left is None else min(left, 0.05))
        return True

    def close(self, timeout: float | None = None) -> CloseReport:
        started = time.monotonic()
        if self._closed:
            return self._report(started, None, 0)
        limit = self.config.writer.close_timeout_seconds if timeout is None else timeout
        ok = self.flush(limit) if self._started else False
        self._closed = True
        self._q.close()
        self._stop = True
        self._wake_event.set()
        for t in self._threads:
            t.join(timeout=2.0)
        proc = self._proc
        if proc is not None:
            with contextlib.suppress(OSError):
                if proc.stdin:
                    proc.stdin.close()
            try:
                proc.wait(max(0.1, limit - (time.monotonic() - started)))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._writer_alive = False
        report = self._report(started, None, 0)
        if not ok or self._link.lag_events or len(self._q):
            report = self._keep_unwritten(started)
        with self._lock:
            self._link.fail_waiters(LoggerClosedError("logger closed before the event was committed"))
        return report

    def _wake(self) -> None:
        self._wake_event.set()

    def _call_user(self, fn: KillSwitchCallback, info: dict[str, Any]) -> None:
        threading.Thread(target=fn, args=(info,), daemon=True).start()

    def _write_all(self, data: bytes) -> bool:
        """Write to the non-blocking pipe, giving up when the logger is stopping (close stays bounded).

        A chunk cut short stays in the in-flight list, so close() keeps it in the fallback file;
        the writer ignores the torn last line.
        """
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdin.closed:
            return False
        fd = proc.stdin.fileno()
        view = memoryview(data)
        while view:
            if self._stop:
                return False
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:
                select.select([], [fd], [], 0.05)
            except OSError:
                return False
        return True

    def _spawn(self) -> None:
        self._proc = spawn_writer(self.layout, self.config)
        assert self._proc.stdin is not None
        os.set_blocking(self._proc.stdin.fileno(), False)

    def _drain_loop(self) -> None:
        interval = self.config.writer.health_interval_seconds
        next_health = time.monotonic() + interval
        while not self._stop:
            self._wake_event.wait(timeout=min(0.05, max(0.0, next_health - time.monotonic())))
            self._wake_event.clear()
            if not self._writer_alive:
                self._restart()
                continue
            while self._writer_alive:
                items = self._q.take(self.config.writer.chunk_events)
                if not items:
                    break
                data, n, waiters = encode(items)
                with self._lock:
                    self._link.register(data, n, waiters)
                ok = self._write_all(data)
                self._q.handed()  # in the pipe, or in the in-flight list for the next writer
                if not ok:
                    break
            if time.monotonic() >= next_health:
                next_health = time.monotonic() + interval
                line, alerts = self._health_line()
                self._write_all(line)
                if alerts and self.monitor.sinks:  # a slow sink (Telegram) must not hold up draining
                    threading.Thread(target=self.monitor.notify, args=(alerts,), daemon=True).start()

    def _ack_loop(self) -> None:
        while not self._stop or self._link.lag_events:
            proc = self._proc
            if proc is None or proc.stdout is None:
                return
            try:
                data = os.read(proc.stdout.fileno(), 1 << 16)
            except OSError:
                data = b""
            if not data:
                self._writer_alive = False
                self._writer_exit = f"writer process exited (code {proc.poll()}); restarting"
                self._wake_event.set()
                with self._progress:
                    self._progress.notify_all()
                return
            with self._lock:
                self._link.feed(data)
            with self._progress:
                self._progress.notify_all()

    def _restart(self) -> None:
        time.sleep(0.25)
        try:
            self._spawn()
        except ObservabilityError as exc:
            self._writer_exit = f"writer restart failed: {exc}"
            return
        with self._lock:
            resend = self._link.restart()
        self._writer_alive = True
        t = threading.Thread(target=self._ack_loop, name="huracan-obs-acks", daemon=True)
        t.start()
        self._threads.append(t)
        if resend:
            self._write_all(resend)
