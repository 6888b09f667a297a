"""Pilot tests of the scorecard's words, its history view (H) and its copied summary (y)."""

from __future__ import annotations

import io
from datetime import date

import pytest
from helpers import palette_pick, settle
from rich.console import Console
from textual.widgets import Static
from textual.widgets._footer import FooterKey

from tiertui.app import TiertuiApp
from tiertui.app.screens.help import HelpScreen
from tiertui.app.screens.history import HistoryScreen
from tiertui.app.screens.scorecard import ScorecardScreen
from tiertui.services.demo import build_demo
from tiertui.storage import open_engine
from tiertui.storage.queries import fetchall

SIZE = (120, 40)
NARROW = (80, 24)


def shown(widget: Static, width: int = 200) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('carddemo') / 'demo.db'}"
    engine = open_engine(url)
    try:
        build_demo(engine, partners=150, seed=2026, user="dave", timeline=False)
    finally:
        engine.dispose()
    return url


def _pick(url: str, sql: str) -> list[str]:
    engine = open_engine(url)
    try:
        with engine.connect() as conn:
            return [r[0] for r in fetchall(conn, sql)]
    finally:
        engine.dispose()


async def test_the_gap_and_risks_read_as_sentences_with_notes(demo_url, tmp_path):
    app = TiertuiApp(demo_url, "dave", today=date(2026, 11, 30), blink=False, config_dir=tmp_path / "c")
    seen = {"gap": 0, "lapse": 0, "note": 0}
    pids = _pick(demo_url, "SELECT partner_id FROM partner ORDER BY partner_id LIMIT 150")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for pid in pids:
            app.open_scorecard(pid)
            await settle(pilot)
            screen = app.screen
            card = screen.data.card
            gap = " ".join(shown(screen.query_one("#gap", Static)).split())
            if card.gap is not None and not card.gap.closed:
                for sentence in card.gap.texts():
                    assert " ".join(sentence.split()) in gap
                seen["gap"] += 1
            for risk in card.risks:
                assert " ".join(risk.text.split()) in gap
                seen["lapse"] += risk.kind == "lapse"
            components = shown(screen.query_one("#components", Static))
            for c in card.components:
                if c.note:
                    line = next(x for x in components.splitlines() if x.startswith(c.label))
                    assert c.note in line
                    seen["note"] += 1
            app.pop_screen()
            await settle(pilot)
            if all(seen.values()):
                break
    assert all(seen.values()), seen


async def test_h_opens_why_it_moved_with_the_reasons_of_each_change(demo_url, tmp_path):
    pid = _pick(
        demo_url,
        "SELECT p.partner_id FROM level_result r JOIN partner p ON p.key = r.partner_key "
        "WHERE r.event = 'demoted' ORDER BY p.partner_id LIMIT 1",
    )[0]
    app = TiertuiApp(demo_url, "dave", today=date(2026, 11, 30), blink=False, config_dir=tmp_path / "c")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_scorecard(pid)
        await settle(pilot)
        await pilot.press("H")
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen)
        text = shown(app.screen.query_one("#history-lines", Static))
        lines = app.screen.lines
        assert len([x for x in text.splitlines() if x[2:4] == "20"]) == len(lines) >= 2
        down = [x for x in lines if x.change.startswith("▼")]
        assert down
        for line in down:
            assert line.change in text
            for reason in line.reasons:
                assert " ".join(reason.split()) in " ".join(text.split())
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ScorecardScreen)


async def test_y_copies_a_plain_summary_and_says_so(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_scorecard("P00007")
        await settle(pilot)
        card = app.screen.data.card
        await pilot.press("y")
        await settle(pilot)
        text = app.clipboard
        assert text.startswith(f"{app.screen.data.info.name} (P00007)\n")
        assert f"Period: {card.period}" in text and f"Tier: {card.effective}" in text
        assert "Score: " in text
        if card.gap is not None and not card.gap.closed:
            assert all(t in text for t in card.gap.texts())
        assert "\x1b" not in text and "\x07" not in text
        assert any("Copied the summary of P00007" in str(n.message) for n in app._notifications)
        app.copy_to_clipboard("")  # the palette's command does the same
        await palette_pick(pilot, "Copy the scorecard")
        assert app.clipboard == text


async def test_a_hostile_name_is_copied_visible(tmp_path):
    from tiertui.services.read.engine import PartnerInfo, PartnerScorecard
    from tiertui.services.read.summary import summary_text

    info = PartnerInfo(1, "P1", "Evil\x1b]52;c;AAAA\x07Corp", "NA", "", "Reseller", None, None, "", None, None)
    data = PartnerScorecard(info, [], None, None, None, [], [], [], {}, [], [])
    text = summary_text(data)
    assert "\x1b" not in text and "\x07" not in text and "Evil\\x1b]52" in text


@pytest.mark.parametrize("size", [SIZE, NARROW])
async def test_help_and_footer_list_the_new_keys(make_app, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        app.open_scorecard("P00007")
        await settle(pilot)
        await pilot.pause(0.6)  # the footer shows its keys once the first data is drawn
        footer = {(k.key, k.description) for k in app.screen.query(FooterKey)}
        assert {("H", "Why moved"), ("y", "Copy")} <= footer
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        labels = {label for _keys, label, _id in app.screen.rows()}
        assert {"Why moved", "Copy"} <= labels


def _lapse_card_app(demo_url: str, tmp_path):
    return TiertuiApp(demo_url, "dave", today=date(2026, 11, 30), blink=False, config_dir=tmp_path / "c")


async def _open_lapsing(pilot) -> None:
    await settle(pilot)
    pilot.app.open_scorecard("P000092")  # values not reported, and UC certifications that lapse
    await settle(pilot)
    pilot.app.screen.query_one("#scorecard").scroll_to_widget(
        pilot.app.screen.query_one("#gap"), animate=False, top=True
    )
    await settle(pilot)


def test_scorecard_not_reported_and_lapse_risk(snap_compare, demo_url, tmp_path):
    assert snap_compare(_lapse_card_app(demo_url, tmp_path), terminal_size=SIZE, run_before=_open_lapsing)


def test_scorecard_not_reported_and_lapse_risk_narrow(snap_compare, demo_url, tmp_path):
    assert snap_compare(_lapse_card_app(demo_url, tmp_path), terminal_size=NARROW, run_before=_open_lapsing)


def test_scorecard_components_narrow(snap_compare, demo_url, tmp_path):
    async def run(pilot):
        await settle(pilot)
        pilot.app.open_scorecard("P000092")
        await settle(pilot)

    assert snap_compare(_lapse_card_app(demo_url, tmp_path), terminal_size=NARROW, run_before=run)
