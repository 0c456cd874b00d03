"""Replay through the same screens (pause, step, speed), key remapping config, and the CLI's one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from huracan_tui.app import HuracanApp
from huracan_tui.cli import main
from huracan_tui.replay import ReplayFeed, load_rows, parse_period
from huracan_tui.settings import load_settings
from huracan_tui.widgets.feed_view import FeedView
from observability.analytics.live_feed import FeedRow
from observability.analytics.windows import WindowError
from observability.errors import ConfigError
from observability.paths import DataLayout

from .conftest import screen_text, settled, wait_for
from .fixture_data import T0


class FakeClock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


async def test_replay_plays_pauses_steps_and_changes_speed(filled: DataLayout) -> None:
    period = parse_period(f"{T0}..{T0 + 30}")
    rows = load_rows(filled, period)
    assert rows and all(T0 * 1e6 <= r.ts_event <= (T0 + 30) * 1e6 for r in rows)
    clock = FakeClock(1000.0)
    replay = ReplayFeed(rows, period, clock)
    app = HuracanApp(filled, clock=clock, replay=replay)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        clock.t += 1.0  # one replayed second: only the events of T0..T0+1 are delivered
        first_second = sum(r.ts_event <= (T0 + 1) * 1e6 for r in rows)
        await wait_for(pilot, lambda: app.rows_seen == first_second, "first replayed second")
        assert all(r.ts_event <= (T0 + 1) * 1e6 for r in app.window)
        assert "REPLAY x1" in screen_text(app)
        await pilot.press("space")
        assert replay.paused
        before = replay.position
        clock.t += 100.0
        await pilot.pause(0.3)
        assert replay.position == before  # paused: time does not move the replay
        await pilot.press("right_square_bracket", "right_square_bracket", "right_square_bracket")
        assert replay.position == before + 3
        await pilot.press("left_square_bracket")
        assert replay.position == before + 2
        view = app.screen.query_one("#ov-feed", FeedView)
        assert view.rows[-1] == rows[before + 1]
        assert app.data.until_us == rows[before + 1].ts_event  # panes see only the replayed past
        await pilot.press("plus", "plus")
        assert replay.speed == 4.0
        await pilot.press("minus")
        assert replay.speed == 2.0
        await wait_for(pilot, lambda: "REPLAY PAUSED" in screen_text(app), "paused label")
        await pilot.press("space")
        clock.t += 30.0
        await wait_for(pilot, lambda: replay.position == len(rows), "replay to the end at x2")


async def test_replay_keys_without_replay_say_how_to_use_them(filled: DataLayout) -> None:
    app = HuracanApp(filled, clock=lambda: T0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot)
        await pilot.press("space")
        assert "--replay FROM..TO" in "\n".join(n.message for n in app._notifications)


def test_bad_replay_period_is_a_one_line_error(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    assert main(["--data-dir", str(data_dir), "--replay", "yesterday"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "use FROM..TO" in err
    with pytest.raises(WindowError, match="end must be after the start"):
        parse_period("2026-01-02..2026-01-01")


def test_keys_are_remappable_and_checked(tmp_path: Path) -> None:
    good = tmp_path / "tui.yaml"
    good.write_text("keys: {show_gates: x, feed_follow: 'end,F'}\nstale_after_s: 5\n")
    settings = load_settings(good)
    assert settings.keys == {"show_gates": "x", "feed_follow": "end,F"} and settings.stale_after_s == 5
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("keys:\n  show_gatez: x\n")
    with pytest.raises(ConfigError, match=r"unknown.yaml:1: keys: .*unknown command id\(s\) \['show_gatez'\]"):
        load_settings(unknown)
    clash = tmp_path / "clash.yaml"
    clash.write_text("keys:\n  show_gates: f\n")
    with pytest.raises(ConfigError, match="key 'f' is bound to both 'show_feed' and 'show_gates'"):
        load_settings(clash)


def test_bad_config_file_is_a_one_line_cli_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "tui.yaml"
    bad.write_text("stale_after_s: -1\n")
    assert main(["--config", str(bad), "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "stale_after_s" in err


def test_the_shipped_config_is_valid() -> None:
    assert load_settings().stale_after_s == 3.0


def test_replay_reads_a_period_already_exported_to_parquet_and_pruned_from_live_db(filled: DataLayout) -> None:
    from observability.core.io.exporter import export_once
    from observability.core.live_store import open_live_db, prune_live_feed

    period = parse_period(f"{T0}..{T0 + 100}")
    before = load_rows(filled, period)
    export_once(filled, wait=True)
    writer = open_live_db(filled.live_db)
    assert prune_live_feed(writer, older_than_us=int((T0 + 1000) * 1e6)) == len(before) + 2  # + 2 events before T0
    writer.close()
    after = load_rows(filled, period)
    assert [r.event_id for r in after] == [r.event_id for r in before]
    def present(row: FeedRow) -> dict[str, object]:  # Parquet keeps no keys whose value is null
        return {k: v for k, v in row.payload_dict().items() if v is not None}

    assert [present(r) for r in after] == [present(r) for r in before]
