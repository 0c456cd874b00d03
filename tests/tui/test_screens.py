"""Pilot tests: every screen and key path of huracan-tui, on real live.db files."""

from __future__ import annotations

from collections.abc import Callable

from huracan_tui.app import HuracanApp
from huracan_tui.screens.detail import EventDetailScreen, HelpScreen, ProblemScreen, TimelineScreen
from huracan_tui.screens.feed import FeedScreen
from huracan_tui.screens.gates import GatesScreen
from huracan_tui.widgets.feed_view import FeedView
from observability.core import builders
from observability.core.ingest import ingest_events
from observability.core.live_store import open_live_db
from observability.paths import DataLayout

from .conftest import NOW, notices, screen_text, settled, wait_for
from .fixture_data import T0

AppFactory = Callable[..., HuracanApp]


async def test_overview_shows_engine_alive_queue_gates_trades_model_and_feed(filled: DataLayout,
                                                                              make_app: AppFactory) -> None:
    app = make_app(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        text = screen_text(app)
        assert "engine alive" in text
        assert "fill 14.0%" in text and "drops D:29" in text and "kill switch off" in text
        for gate in ("spread", "volatility", "liquidity", "risk_budget"):
            assert gate in text
        assert "Open trades (3)" in text
        assert "hit_rate" in text and "+0.030" in text
        assert "t-00022 take_profit" in text  # the newest rows of the feed are visible (follow mode)


async def test_engine_without_heartbeat_for_more_than_3s_is_loudly_stale(filled: DataLayout,
                                                                         make_app: AppFactory) -> None:
    app = make_app(filled, now=NOW + 10)
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot)
        assert "ENGINE STALE: no heartbeat for 11s" in screen_text(app)
        assert app.engine_status().loud


async def test_escape_goes_back_and_never_quits(filled: DataLayout, make_app: AppFactory) -> None:
    app = make_app(filled)
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot)
        for key in ("f", "g", "t", "m", "a", "r"):
            await pilot.press(key)
        assert app.current_mode == "reports"
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert app.current_mode == "reports" and not isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert app.current_mode == "metrics"
        for _ in range(12):
            await pilot.press("escape")
        assert app.is_running and app.current_mode == "overview"
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, "q to quit")


async def test_feed_filters_by_type_and_inverts_with_bang(filled: DataLayout, make_app: AppFactory) -> None:
    app = make_app(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        await pilot.press("f")
        await settled(pilot)
        screen = app.screen
        assert isinstance(screen, FeedScreen)
        await pilot.press("slash")
        await pilot.press(*"type:close")
        await pilot.press("enter")
        view = screen.query_one("#feed", FeedView)
        await wait_for(pilot, lambda: view.rows and all(r.event_type == "trade_closed" for r in view.rows), "filter")
        assert len(view.rows) == 15
        assert "filter: type:trade_closed" in screen_text(app)
        await pilot.press("exclamation_mark")
        await wait_for(pilot, lambda: view.rows and all(r.event_type != "trade_closed" for r in view.rows), "invert")
        assert "filter: !type:trade_closed" in screen_text(app)


async def test_bad_filter_is_a_one_line_error_and_keeps_the_old_filter(filled: DataLayout,
                                                                       make_app: AppFactory) -> None:
    app = make_app(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        await pilot.press("f", "slash", *"sev:LOUD", "enter")
        screen = app.screen
        assert isinstance(screen, FeedScreen) and screen.filter.empty
        await wait_for(pilot, lambda: "unknown severity 'LOUD'" in notices(app), "error notice")
        await pilot.press("escape")  # closes the filter box, stays on the feed
        assert app.current_mode == "feed"


async def test_scrolling_up_pauses_counts_new_rows_and_end_resumes(filled: DataLayout,
                                                                   make_app: AppFactory) -> None:
    app = make_app(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        await pilot.press("f")
        await settled(pilot)
        view = app.screen.query_one("#feed", FeedView)
        await pilot.press("up", "up")
        assert not view.following
        paused_on = view.selected()
        writer = open_live_db(filled.live_db)
        ingest_events(writer, [builders.error(component="exec", error_type="Late", message=f"n{i}",
                                              ts_event=T0 + 100 + i) for i in range(5)])
        writer.close()
        await wait_for(pilot, lambda: view.new_count == 5, "+5 new")
        assert "PAUSED" in screen_text(app) and "+5 new" in screen_text(app)
        assert view.selected() == paused_on  # the cursor stays on the same event while paused
        await pilot.press("end")
        assert view.following and view.new_count == 0
        assert view.selected() is not None and view.selected().payload_dict()["message"] == "n4"  # type: ignore[union-attr]
        await pilot.press("up")
        await pilot.press("G")
        assert view.following


async def test_enter_opens_the_event_and_then_its_timeline(filled: DataLayout, make_app: AppFactory) -> None:
    app = make_app(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        await pilot.press("f")
        await settled(pilot)
        await pilot.press("up", "enter")
        assert isinstance(app.screen, EventDetailScreen)
        row = app.screen.row
        assert row.event_id in screen_text(app)
        await pilot.press("enter")
        assert isinstance(app.screen, TimelineScreen) and app.screen.trace_id == row.trace_id
        await settled(pilot)
        assert f"Decision timeline {row.trace_id}" in screen_text(app)
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, FeedScreen)


async def test_gate_inspection_picks_gates_and_drills_into_a_decision(filled: DataLayout,
                                                                      make_app: AppFactory) -> None:
    app = make_app(filled)
    async with app.run_test(size=(160, 50)) as pilot:
        await settled(pilot)
        await pilot.press("g")
        await settled(pilot)
        screen = app.screen
        assert isinstance(screen, GatesScreen) and screen.gate == "spread"
        await pilot.press("4")
        await wait_for(pilot, lambda: "model_confidence pass 91.7% (22/24)" in screen_text(app), "gate 4 detail")
        text = screen_text(app)
        assert "target 75.0%" in text and "value distribution" in text and "counterfactuals" in text
        assert "FAIL" in text  # failures are listed first
        await pilot.press("right")
        await wait_for(pilot, lambda: screen.gate == "regime" and "regime pass" in screen_text(app), "next gate")
        await pilot.press("left", "left", "left")
        await wait_for(pilot, lambda: "volatility pass" in screen_text(app), "previous gates")
        first = screen.decisions[0]
        assert not first.passed
        await pilot.press("enter")
        assert isinstance(app.screen, TimelineScreen) and app.screen.trace_id == first.trace_id
        await settled(pilot)
        text = screen_text(app)
        assert "blocked by volatility; shadow" in text and "FAIL" in text


async def test_spread_threshold_change_history_and_counterfactuals(filled: DataLayout,
                                                                   make_app: AppFactory) -> None:
    app = make_app(filled)
    async with app.run_test(size=(160, 50)) as pilot:
        await settled(pilot)
        await pilot.press("g")
        await settled(pilot)
        text = screen_text(app)
        assert "10.0 → 8.0 by mechanic: tighter spreads" in text
        screen = app.screen
        assert isinstance(screen, GatesScreen)
        detail = app.data.gate_detail("spread")
        live = [c for c in detail.counterfactuals if c.shift == 0]
        assert live and live[0].would_pass == 24 and live[0].delta == 0


async def test_trace_prompt_opens_the_decision_timeline(filled: DataLayout, make_app: AppFactory) -> None:
    app = make_app(filled)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        await pilot.press("colon", *"trace trace-00003", "enter")
        assert isinstance(app.screen, TimelineScreen)
        await settled(pilot)
        text = screen_text(app)
        assert "Decision timeline trace-00003" in text
        assert "blocked by model_confidence; shadow -0.31 USDT" in text
        assert "model_confidence: 0.4323 >= 0.55 FAIL" in text and "(-30.0 bps) avoided" in text
        await pilot.press("colon", *"gate regime", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, GatesScreen) and app.screen.gate == "regime", "gate")


async def test_trades_screen_lists_pnl_lineage_and_shadows_and_opens_a_timeline(filled: DataLayout,
                                                                                make_app: AppFactory) -> None:
    app = make_app(filled)
    async with app.run_test(size=(160, 50)) as pilot:
        await settled(pilot)
        await pilot.press("t")
        await settled(pilot)
        text = screen_text(app)
        assert "3 open, 15 closed" in text
        assert "take_profit" in text and "0123abcd" in text and "snap-1" in text
        assert "sh-00003" in text and "model_confidence" in text
        await pilot.press("enter")
        assert isinstance(app.screen, TimelineScreen)
        assert app.screen.trace_id.startswith("trace-")


async def test_models_metrics_and_reports_screens(filled: DataLayout, make_app: AppFactory) -> None:
    report = filled.reports_dir / "daily-2026-09-21.md"
    report.write_text("# Daily report\n\n15 trades closed, win rate 66.7%.\n")
    report.with_suffix(".verification.json").write_text('{"ok": true, "checked": 2}')
    app = make_app(filled)
    async with app.run_test(size=(160, 50)) as pilot:
        await settled(pilot)
        await pilot.press("m")
        await settled(pilot)
        text = screen_text(app)
        assert "m-abc123" in text and "weekly retrain" in text and "Champion history" in text
        assert "lineage: m-abc123 ← m-000fff" in text
        await pilot.press("a")
        await settled(pilot)
        text = screen_text(app)
        assert "Win rate" in text and "60.0 %" in text and "logger dropped 29 events" in text
        assert "Net P&L" in text and "warn" in text
        await pilot.press("r")
        await settled(pilot)
        text = screen_text(app)
        assert "VERIFIED" in text and "daily-2026-09-21.md" in text and "15 trades closed" in text


async def test_help_palette_and_remapped_keys_come_from_one_table(filled: DataLayout, make_app: AppFactory) -> None:
    app = make_app(filled, keys={"show_gates": "x"})
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        await pilot.press("g")
        assert app.current_mode == "overview"  # g is no longer bound
        await pilot.press("x")
        assert app.current_mode == "gates"
        await pilot.press("question_mark")
        text = screen_text(app)
        assert "x" in text and "Gates screen" in text and "Live feed screen" in text
        await pilot.press("escape", "ctrl+p")
        await pilot.press(*"Trades and shadow")
        await wait_for(pilot, lambda: "Trades and shadow trades" in screen_text(app), "palette hit")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.current_mode == "trades", "palette command to run")


async def test_missing_data_dir_shows_a_clear_waiting_screen_then_the_data(layout: DataLayout,
                                                                           make_app: AppFactory) -> None:
    app = make_app(DataLayout(layout.root / "not-yet"))
    async with app.run_test(size=(100, 30)) as pilot:
        await settled(pilot)
        text = screen_text(app)
        assert "No live feed yet" in text and "WAITING for live.db" in text
        for key in ("f", "g", "t", "m", "a", "r"):
            await pilot.press(key)
            await settled(pilot)
        assert "no report yet" in screen_text(app)


async def test_empty_database_then_rows_arrive(layout: DataLayout, make_app: AppFactory) -> None:
    open_live_db(layout.live_db).close()
    app = make_app(layout)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.3)
        assert "NO HEARTBEAT" in screen_text(app)
        writer = open_live_db(layout.live_db)
        ingest_events(writer, [builders.error(component="x", error_type="Boom", message="first row",
                                              ts_event=T0)])
        writer.close()
        await wait_for(pilot, lambda: "x: Boom: first row" in screen_text(app), "first row on screen")


async def test_newer_schema_shows_a_problem_screen_not_a_traceback(layout: DataLayout,
                                                                   make_app: AppFactory) -> None:
    writer = open_live_db(layout.live_db)
    writer.execute("UPDATE schema_meta SET value = '9' WHERE key = 'schema_version'")
    writer.close()
    app = make_app(layout)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ProblemScreen), "problem screen")
        await wait_for(pilot, lambda: "schema version 9 is newer" in " ".join(screen_text(app).split()),
                       "the explanation")
        await pilot.press("escape")
        assert app.is_running
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, "quit")


async def test_a_burst_is_coalesced_and_the_window_stays_bounded(filled: DataLayout, make_app: AppFactory) -> None:
    app = make_app(filled, feed_window=200)
    async with app.run_test(size=(100, 30)) as pilot:
        await settled(pilot)
        writer = open_live_db(filled.live_db)
        ingest_events(writer, [builders.market_context(symbol="BTCUSDT", price=100.0 + i * 0.01, spread_bps=1.0,
                                                       volatility_bps=5.0, ts_event=T0 + 200 + i * 0.001)
                               for i in range(5000)])
        writer.close()
        await wait_for(pilot, lambda: app.coalesced > 0, "coalescing")
        assert len(app.window) <= 200
        assert "coalesced" in screen_text(app)
        view = app.screen.query_one("#ov-feed", FeedView)
        assert len(view.rows) <= 200


async def test_scrolling_past_the_window_pages_older_rows_in_and_end_returns_to_the_newest(
        filled: DataLayout, make_app: AppFactory) -> None:
    app = make_app(filled, feed_window=100)
    async with app.run_test(size=(120, 30)) as pilot:
        await settled(pilot)
        await pilot.press("f")
        await settled(pilot)
        view = app.screen.query_one("#feed", FeedView)
        newest = view.rows[-1]
        first = view.rows[0].seq
        await pilot.press("home", "up")
        await wait_for(pilot, lambda: view.rows[0].seq < first, "older rows paged in")
        assert len(view.rows) == 100 and view.rows[-1] != newest  # bounded: the newest fell out
        assert view.selected() is not None and view.selected().seq < first  # type: ignore[union-attr]
        await pilot.press("end")
        await wait_for(pilot, lambda: view.following and view.rows[-1] == newest, "newest rows back")
