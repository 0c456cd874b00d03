"""Arrow's allocator, for the processes of ours that export: keep the memory it freed for the next chunk.

Why: Arrow allocates with mimalloc, which hands freed memory back to the kernel ~10 ms after it is freed.
An export frees a chunk's columns and at once allocates the next chunk's; the kernel then maps and zeroes
every page again (2 MiB pages here): on simulator data that was ~0.3-0.7 µs/row of system time per
exported row, ~10% of an export's CPU, with twice the page faults. Our maintenance process (which runs
the scheduled exports) and the CLI keep the memory instead: the peak of an export, ~0.5 GB for a 200k-row
chunk, stays mapped for the next one, in a process apart from the engine's. mimalloc reads the setting
when pyarrow loads, so it is set in the environment the process starts with, and one the user set wins.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Final

KEEP_FREED_MEMORY: Final = {"MIMALLOC_PURGE_DELAY": "-1"}
"""mimalloc's purge delay in ms; -1: never give freed memory back to the kernel."""


def keep_freed_memory(env: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """`env` with KEEP_FREED_MEMORY added where the user has not set those variables themselves."""
    for name, value in KEEP_FREED_MEMORY.items():
        env.setdefault(name, value)
    return env
