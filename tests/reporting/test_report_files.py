"""Report files are replaced whole, even when two report jobs (cron and a person) write at once."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from observability.reporting.report_pipeline import write_atomic


def _writer(target: Path, fill: bytes) -> None:
    for _ in range(200):
        write_atomic(target, fill * 200_000)


def test_concurrent_writers_never_mix_or_crash(tmp_path: Path) -> None:
    target = tmp_path / "daily-2026-11-26.md"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(target, fill)) for fill in (b"a", b"b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert [p.exitcode for p in procs] == [0, 0]
    content = target.read_bytes()
    assert content in (b"a" * 200_000, b"b" * 200_000)
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary file left behind
    assert target.stat().st_mode & 0o777 == 0o600
