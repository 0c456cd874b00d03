"""A reader in another process tails live.db while the writer runs flat out."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from core_helpers import fast_config, rows

from observability import EventLogger
from observability.core import builders
from observability.core.live_store import JOURNAL_SIZE_LIMIT

HERE = Path(__file__).parent


async def test_reader_sees_every_row_once_and_the_wal_stays_bounded(data_dir: Path) -> None:
    out = data_dir.parent / "seen.txt"
    stop = data_dir.parent / "stop"
    db = data_dir / "sqlite" / "live.db"
    async with EventLogger(data_dir=data_dir, config=fast_config(maxsize=50_000)) as logger:
        await logger.log_durable(builders.error(component="t", error_type="start", message="m"))
        reader = subprocess.Popen([sys.executable, str(HERE / "tail_reader.py"), str(db), str(out), str(stop)])
        n = 150_000
        for i in range(n):
            ev = builders.gate_decision(gate="spread", value=float(i % 9), threshold=5.0, direction="max",
                                        symbol="ETH/USDT", trace_id=f"t{i}", mode="runner")
            while not logger.log(ev):
                await asyncio.sleep(0.005)
            if i % 256 == 0:
                await asyncio.sleep(0)
        assert await logger.flush(timeout=120)
    stop.touch()
    assert reader.wait(timeout=60) == 0
    lines = out.read_text().split()
    wal_max = int(lines[-1])
    seen = [int(x) for x in lines[:-2]]
    stored = [r[0] for r in rows(data_dir, "SELECT seq FROM live_feed ORDER BY seq")]
    assert seen == stored, "the reader missed or repeated rows"
    assert len(seen) >= n + 1
    assert wal_max <= 2 * JOURNAL_SIZE_LIMIT, f"WAL grew to {wal_max} bytes"
