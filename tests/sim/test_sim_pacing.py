"""The demo's pacing: it delivers what the pipeline takes and waits instead of dropping."""

from __future__ import annotations

from observability.config.observability_config import ObservabilityConfig, QueueConfig
from observability.paths import DataLayout
from observability.sim.runner import run_simulation


async def test_a_small_queue_makes_the_simulator_wait_instead_of_dropping(layout: DataLayout) -> None:
    """At a rate far above what a 400-event queue holds between drains, nothing is dropped: the
    simulator generates a quarter of the queue per slice and waits while it is half full."""
    config = ObservabilityConfig(queue=QueueConfig(maxsize=400))
    summary = await run_simulation(layout.root, seed=5, rate=40_000, duration=1.0, config=config,
                                   use_registry=False)
    assert summary.events > 1_000
    assert summary.dropped == 0
    assert summary.close_report is not None
    assert summary.close_report.written == summary.events and summary.close_report.dropped == 0


async def test_the_achieved_rate_counts_the_run_not_the_drain(layout: DataLayout) -> None:
    summary = await run_simulation(layout.root, seed=5, rate=2_000, duration=0.5, use_registry=False)
    assert 0.5 <= summary.run_s <= summary.elapsed_s
    assert summary.events_per_s == summary.events / summary.run_s
