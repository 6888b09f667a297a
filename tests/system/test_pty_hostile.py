"""Hostile names in the real app on a pseudo-terminal: shown as typed, never run by the terminal.

Partners named by the hostile corpus (markup brackets, escape and OSC sequences, carriage returns,
bidirectional overrides) are listed by the installed ``tiertui`` on a pty. What reaches the
terminal is read byte for byte: the brackets arrive as typed, each escape arrives as visible text
(``\\x1b``), and none of the data's own control sequences (a screen clear, a window title, a
clipboard write) is ever written raw.
"""

from __future__ import annotations

import re
import sys

import pytest
from db_builder import seat_team, seed
from hostile_corpus import BIDI, ESCAPES, MARKUP, OVERWRITE
from terminal import TIERTUI, Terminal, terminal_env

from tiertui.services.levelling import run_levelling
from tiertui.storage import open_engine

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")

NAMES = [*MARKUP, *ESCAPES, *OVERWRITE, *BIDI]
# the data's own sequences, as raw bytes: none of them may reach the terminal
RAW = [
    b"\x1b[2J\x1b[31mRED",
    b"\x1b]0;title",
    b"\x1b]52;c;ZXZpbCBjbGlw",
    b"\x1b]8;;http://evil",
    b"\x1bP+q",
    b"\x9b31m",
]


def test_hostile_names_reach_the_terminal_as_text(tmp_path):
    url = f"sqlite:///{tmp_path / 'hostile.db'}"
    engine = open_engine(url)
    try:
        seat_team(engine)
        partners = [(f"H{i:02d}", name, "EMEA", "VAR", None, None) for i, name in enumerate(NAMES)]
        seed(engine, partners, [(pid, "2026-Q1", "revenue", 100.0 + i) for i, (pid, *_) in enumerate(partners)])
        run_levelling(engine, "admin")
    finally:
        engine.dispose()

    term = Terminal([str(TIERTUI), "--db", url, "--user", "admin"], terminal_env(tmp_path))
    try:
        term.wait_for(r"Partners per tier", timeout=60)
        mark = len(term.raw)
        term.press(b"l", 0.3)
        term.wait_for(r"H00", timeout=30, since=mark)
        term.pump(1.0)
        screen = term.screen_text(mark)
        # brackets as typed (the list may shorten a long name, never drop its brackets)
        assert "[/b]" in screen and "ACME [UK] Ltd" in screen, screen[-2000:]
        assert "[link=http://evil.example]EMEA" in screen, screen[-2000:]
        # escapes and controls arrive as visible text
        assert "\\x1b[2J\\x1b[31mRED" in screen, screen[-2000:]
        assert re.search(r"strategic\\r", screen), screen[-2000:]
        assert "\\u202eevil.exe" in screen, screen[-2000:]
        raw = bytes(term.raw)
        for sequence in RAW:
            assert sequence not in raw, sequence
        assert b"\x1b]0;title" not in raw and "\u202e".encode() not in raw
        assert term.quit() is not None
    finally:
        term.close()
