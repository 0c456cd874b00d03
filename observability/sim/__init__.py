"""The simulated Huracan engine: demo, tests and benchmarks drive the real hooks with it.

- `generate_events(seed, sim_seconds, ...)`: a pure iterator of wire events (no logger, no clock).
- `run_simulation(data_dir, rate=..., duration=..., speed=...)`: paced in real time through an EventLogger.
- `python -m observability.sim ...`: the same as a background process (`huracan-tui --demo`).
"""

from observability.sim.engine import DEFAULT_SYMBOLS, SimSettings, Simulator
from observability.sim.generate import EventBuffer, generate_events

__all__ = ["DEFAULT_SYMBOLS", "EventBuffer", "SimSettings", "Simulator", "generate_events"]
