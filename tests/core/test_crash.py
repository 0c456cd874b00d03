"""SIGKILL at random points: every durable-acknowledged event survives, seq stays strictly increasing."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import pytest
from core_helpers import fast_config

from observability import SyncEventLogger
from observability.core import builders

HERE = Path(__file__).parent


def crash_trial(data_dir: Path, seed: int, *, whole_group: bool) -> None:
    rng = random.Random(seed)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, str(HERE / "crash_engine.py"), str(data_dir)], stdout=subprocess.PIPE,
                            env=env, start_new_session=True, text=True)
    assert proc.stdout is not None
    acked = []
    target = rng.randint(1, 12)
    try:
        while len(acked) < target:
            line = proc.stdout.readline()
            assert line, "the engine died before it was killed"
            acked.append(line.strip())
    finally:
        # kill the engine alone (its writer drains and exits) or the engine and its writer together
        if whole_group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.send_signal(signal.SIGKILL)
        proc.wait()

    live = data_dir / "sqlite" / "live.db"
    conn = sqlite3.connect(live, timeout=30)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        stored = {r[0] for r in conn.execute("SELECT event_id FROM live_feed WHERE event_type = 'error'")}
        assert set(acked) <= stored, "a durable-acknowledged event was lost"
        seqs = [r[0] for r in conn.execute("SELECT seq FROM live_feed ORDER BY rowid")]
        assert all(b > a for a, b in pairwise(seqs))
        high = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'live_feed'").fetchone()[0]
    finally:
        conn.close()

    with SyncEventLogger(data_dir=data_dir, config=fast_config()) as again:
        ev = builders.error(component="restart", error_type="Marker", message="after", severity="CRITICAL")
        again.log_durable(ev, timeout=30)
    conn = sqlite3.connect(live, timeout=30)
    try:
        (seq,) = conn.execute("SELECT seq FROM live_feed WHERE event_id = ?", (ev["event_id"],)).fetchone()
        assert seq > high, "a restarted logger must continue the sequence"
    finally:
        conn.close()


@pytest.mark.parametrize("trial", range(20))
def test_durable_events_survive_sigkill_at_a_random_point(tmp_path: Path, trial: int) -> None:
    crash_trial(tmp_path / "data", seed=trial, whole_group=trial % 2 == 1)


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(20, 120))
def test_durable_events_survive_sigkill_many_trials(tmp_path: Path, trial: int) -> None:
    crash_trial(tmp_path / "data", seed=trial, whole_group=trial % 2 == 1)
