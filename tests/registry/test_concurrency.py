"""Two processes writing the same learning.db at once lose nothing and corrupt nothing."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
from datetime import UTC, datetime
from multiprocessing.synchronize import Barrier
from pathlib import Path

from observability.core.registry import Registry
from observability.paths import DataLayout

PER_PROCESS = 60


def _writer(root: str, worker: int, barrier: Barrier) -> None:
    reg = Registry(DataLayout(Path(root)))
    barrier.wait()
    for i in range(PER_PROCESS):
        reg.register_model(f"w{worker}-{i}".encode() * 100, name=f"model-{worker}", metrics={"auc": i / 100},
                           created_by=f"proc-{worker}", git_sha="c" * 40)
        # the same model from both processes at once: stored once, one row
        shared = reg.register_model(f"shared-{i}".encode(), name="shared", metrics={},
                                    created_by=f"proc-{worker}", git_sha="c" * 40)
        reg.record_config_change(f"k{worker}", i - 1, i, changed_by=f"proc-{worker}", gate=f"g{worker}")
        reg.set_alias("champion", shared.model_id, changed_by=f"proc-{worker}")
    reg.close()


def test_concurrent_registration_from_two_processes_loses_nothing(layout: DataLayout) -> None:
    Registry(layout).close()  # create the schema once, as `huracan-obs init` does
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_writer, args=(str(layout.root), w, barrier)) for w in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=90)
    assert [p.exitcode for p in procs] == [0, 0]

    with Registry(layout, readonly=True) as reg:
        models = reg.list_models()
        assert len(models) == 3 * PER_PROCESS
        assert sum(m.name == "shared" for m in models) == PER_PROCESS
        assert len(reg.config_changes()) == 2 * PER_PROCESS
        assert [c.new_value for c in reg.key_history("k1")] == list(range(PER_PROCESS))
        assert len(reg.alias_history("champion")) == 2 * PER_PROCESS
        assert reg.verify() == []
        assert reg.stray_artifacts() == []
        assert reg.config_at(datetime.now(UTC)) == {"k1": PER_PROCESS - 1, "k2": PER_PROCESS - 1}
    with sqlite3.connect(layout.learning_db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert len([d for d in layout.models_dir.iterdir() if not d.name.startswith(".")]) == 3 * PER_PROCESS


def test_threads_sharing_one_registry_lose_nothing(layout: DataLayout) -> None:
    import threading

    with Registry(layout) as reg:
        start = threading.Barrier(4)

        def work(t: int) -> None:
            start.wait()
            for i in range(25):
                rec = reg.register_model(f"t{t}-{i}".encode(), name="threaded", metrics={"i": i}, created_by=f"t{t}",
                                         git_sha="c" * 40)
                reg.record_config_change(f"thread.{t}", None, i, changed_by=f"t{t}")
                reg.set_alias(f"latest-{t}", rec.model_id, changed_by=f"t{t}")

        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert len(reg.list_models()) == 100
        assert len(reg.config_changes()) == 100
        assert all(len(reg.alias_history(f"latest-{t}")) == 25 for t in range(4))
        assert reg.config_at(datetime.now(UTC)) == {f"thread.{t}": 24 for t in range(4)}


def _register_forever(root: str) -> None:
    reg = Registry(DataLayout(Path(root)))
    i = 0
    while True:
        reg.register_model(bytes([i % 251]) * 200_000 + str(i).encode(), name="crashy", metrics={"i": i},
                           created_by="victim", git_sha="c" * 40)
        i += 1


def test_kill_9_during_registrations_leaves_every_committed_model_intact(layout: DataLayout) -> None:
    import os
    import signal
    import time

    Registry(layout).close()
    proc = mp.get_context("fork").Process(target=_register_forever, args=(str(layout.root),))
    proc.start()
    try:
        with Registry(layout, readonly=True) as ro:
            deadline = time.monotonic() + 60
            while len(ro.list_models()) < 15 and time.monotonic() < deadline:
                time.sleep(0.01)  # polling a condition in another process
    finally:
        assert proc.pid is not None
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
    with Registry(layout) as reg:
        count = len(reg.list_models())
        assert count >= 15
        assert reg.verify() == []  # no row points at a missing or half-written artifact
        assert all("not in learning.db" in s or ".tmp-" in s for s in reg.stray_artifacts())
        reg.register_model(b"after the crash", name="next", metrics={}, created_by="me", git_sha="c" * 40)
        assert len(reg.list_models()) == count + 1
    with sqlite3.connect(layout.learning_db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
