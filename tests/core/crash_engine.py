"""A tiny engine for the crash tests: logs continuously, prints each durable-acknowledged id."""

from __future__ import annotations

import asyncio
import sys

from core_helpers import fast_config

from observability import EventLogger
from observability.core import builders


async def main(data_dir: str) -> None:
    async with EventLogger(data_dir=data_dir, config=fast_config()) as logger:
        i = 0
        while True:
            for k in range(50):
                logger.log(builders.gate_decision(gate="spread", value=float(k), threshold=5.0, direction="max",
                                                  symbol="BTC/USDT", trace_id=f"t{i}-{k}", mode="scalp"))
            ev = builders.error(component="crash-test", error_type="Marker", message=str(i), severity="CRITICAL")
            await logger.log_durable(ev)
            print(ev["event_id"], flush=True)
            i += 1


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
