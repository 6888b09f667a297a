"""No key is dropped: 50 Down keys 10 ms apart on the partner list of the real app in a pty move the
cursor 50 rows; the row under the cursor is read off the screen by opening it (Enter: its scorecard)."""

from __future__ import annotations

import re
import sys
import time

import pytest
from sqlalchemy import text
from terminal import ENTER, TIERTUI, Terminal, terminal_env

from tiertui.services.demo import build_demo
from tiertui.storage import open_engine

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal"),
    pytest.mark.pty,
]
DOWN = b"\x1b[B"


def test_fifty_down_keys_ten_ms_apart_move_fifty_rows_on_the_partner_list(tmp_path):
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    engine = open_engine(url)
    try:
        build_demo(engine, partners=200, seed=7, user="pty-tester")
        with engine.connect() as conn:
            ids = [r[0] for r in conn.execute(text("SELECT partner_id, name FROM partner ORDER BY partner_id")).all()]
            names = dict(conn.execute(text("SELECT partner_id, name FROM partner")).all())
    finally:
        engine.dispose()
    natural = sorted(ids, key=lambda i: [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", i.casefold())])
    term = Terminal([str(TIERTUI), "--db", url, "--user", "pty-tester"], terminal_env(tmp_path))
    try:
        term.wait_for(r"pending overrides", timeout=60)
        term.press(b"l", 0.2)
        term.wait_for(r"200 partners", timeout=30)
        term.pump(1.0)
        for _ in range(50):
            term.press(DOWN, 0.01)
        term.pump(1.0)
        mark = len(term.raw)
        term.press(ENTER, 0.3)
        # the scorecard of the row under the cursor: the 51st in the list's order
        expected = {ids[50], natural[50]}  # the list's order by id (text or natural)
        found = term.wait_for("|".join(re.escape(names[i]) for i in expected), timeout=30, since=mark)
        assert found
        shown_id = next(i for i in expected if names[i] == found.group(0))
        assert shown_id in term.screen_text(mark)
        started = time.monotonic()
        term.quit()
        assert time.monotonic() - started < 30
    finally:
        term.close()
