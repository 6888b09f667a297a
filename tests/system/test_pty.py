"""The real `tiertui` command in a pseudo-terminal: dashboard, ctrl+p lookup, scorecard, ctrl+q.

Nothing is mocked: the installed console script runs in its own session on a pty of a fixed size,
keys are written to the pty as a terminal would send them, and the screen is read back from the
escape-sequence stream (escapes stripped). Every wait is bounded; the process is killed on a timeout.
"""

from __future__ import annotations

import re
import sys

import pytest
from sqlalchemy import text
from terminal import CTRL_P, ENTER, TIERTUI, Terminal, terminal_env

from tiertui.services.demo import build_demo
from tiertui.services.exports import levelled_periods, scorecard_rows
from tiertui.storage import open_engine

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")


def _pick_partner(url: str) -> tuple[str, str, str, str]:
    """A partner whose name no other name contains, so typing it finds exactly that one."""
    engine = open_engine(url)
    try:
        period = levelled_periods(engine)[-1]
        tiers = {r.partner_id: r.effective_tier for r in scorecard_rows(engine, period)}
        with engine.connect() as conn:
            names = dict(conn.execute(text("SELECT partner_id, name FROM partner ORDER BY partner_id")).all())
    finally:
        engine.dispose()
    lowered = [n.casefold() for n in names.values()]
    counts = {t: list(tiers.values()).count(t) for t in set(tiers.values())}
    # the rarest tier first: reading the most common tier off the screen would prove little
    for partner_id, name in sorted(names.items(), key=lambda item: (counts.get(tiers.get(item[0]), 0), item[0])):
        if partner_id in tiers and sum(name.casefold() in other for other in lowered) == 1:
            return partner_id, name, tiers[partner_id], period
    raise AssertionError("no partner with a distinctive name in the demo database")


def test_real_app_lookup_scorecard_and_quit(tmp_path):
    url = f"sqlite:///{tmp_path / 'pty.db'}"
    engine = open_engine(url)
    try:
        build_demo(engine, partners=200, seed=7, user="pty-tester")  # its builder: its admin
    finally:
        engine.dispose()
    partner_id, name, tier, period = _pick_partner(url)

    term = Terminal([str(TIERTUI), "--db", url, "--user", "pty-tester"], terminal_env(tmp_path))
    try:
        term.wait_for(r"Partners per tier", timeout=60)
        term.wait_for(r"pending overrides", timeout=30)  # the figures are in: the dashboard is drawn

        mark = len(term.raw)
        term.press(CTRL_P, 0.3)
        term.wait_for(r"Search for", timeout=20, since=mark)
        mark = len(term.raw)
        term.type(name)
        term.wait_for(re.escape(f"({partner_id})"), timeout=20, since=mark)
        term.pump(0.5)  # let the palette settle on its best hit

        mark = len(term.raw)
        term.press(ENTER, 0.3)
        found = term.wait_for(r"Effective\s+[▲▼◆·]\s+([A-Za-z][\w ]*?)\s{2,}", timeout=30, since=mark)
        assert found.group(1).strip() == tier, f"{partner_id} shows {found.group(1)!r}, the DB says {tier!r}"
        assert partner_id in term.screen_text(mark)
        assert period in term.screen_text(mark)

        term.quit()
    finally:
        term.close()
