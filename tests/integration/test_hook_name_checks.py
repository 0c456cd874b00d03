"""EngineHook remembers which signal names passed its checks; that memory never lets a bad name through."""

from __future__ import annotations

from typing import Any

import pytest

from observability.integration import EngineHook, HookError
from observability.sim.generate import EventBuffer

T0 = 1_767_225_600.0


def _signal(hook: EngineHook, n: int, **kw: Any) -> str:
    args: dict[str, Any] = {"symbol": "BTC/USDT", "side": "long", "confidence": 0.7, "price": 100.0,
                            "model_id": "m1", "mode": "scalp", "features": {"ret": 1.0}, "ts": T0 + n}
    args.update(kw)
    return hook.on_signal(**args)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"model_id": "m" * 129}, "model_id"),
    ({"symbol": "S" * 41}, "symbol"),
    ({"strategy": "x" * 201}, "strategy"),
    ({"features": {"ret": 1.0, "": 2.0}}, "feature name"),
    ({"features": {"f" * 129: 1.0}}, "feature name"),
])
def test_a_bad_name_after_good_signals_is_still_refused_every_time(kwargs: dict[str, Any], field: str) -> None:
    buf = EventBuffer()
    hook = EngineHook(buf)
    for n in range(3):
        _signal(hook, n)
    for n in range(3, 5):  # refused, so never remembered as checked
        with pytest.raises(HookError, match=field):
            _signal(hook, n, **kwargs)
    assert [e["event_type"] for e in buf.events] == ["signal_received"] * 3


def test_a_symbol_that_is_not_text_is_a_hook_error() -> None:
    hook = EngineHook(EventBuffer())
    for symbol in (["BTC/USDT"], None, 7):
        with pytest.raises(HookError, match="symbol must name the instrument"):
            _signal(hook, 0, symbol=symbol)


def test_many_distinct_names_keep_being_checked_and_accepted() -> None:
    buf = EventBuffer()
    hook = EngineHook(buf)
    for n in range(5_000):  # more combinations than the memory holds: it starts over, nothing breaks
        _signal(hook, n, model_id=f"model-{n}")
    assert len(buf.events) == 5_000
    with pytest.raises(HookError, match="model_id"):
        _signal(hook, 5_001, model_id="m" * 129)
