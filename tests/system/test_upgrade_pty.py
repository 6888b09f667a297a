"""The real `tiertui` on an older database, in a pseudo-terminal: the upgrade offer, then the app.

Uses :class:`test_pty.Terminal` (the installed console script on a 120x40 pty, nothing mocked).
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

import pytest
from db_builder import sqlite_revision as revision
from terminal import TIERTUI, Terminal, terminal_env

from tiertui.storage import schema

FIRST_SCHEMA_DB = Path(__file__).resolve().parents[2] / "fixtures" / "databases" / "first-schema.db"
ESCAPE = b"\x1b"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")


def start(tmp_path: Path) -> tuple[Path, Terminal]:
    db = tmp_path / "old.db"
    shutil.copyfile(FIRST_SCHEMA_DB, db)
    return db, Terminal([str(TIERTUI), "--db", f"sqlite:///{db}", "--user", "pty-tester"], terminal_env(tmp_path))


def test_u_upgrades_and_the_app_opens(tmp_path):
    db, term = start(tmp_path)
    try:
        term.wait_for(r"This database needs an upgrade", timeout=60)
        term.wait_for(r"old\.backup-YYYYMMDD-HHMMSS\.db", timeout=10)
        mark = len(term.raw)
        term.press(b"u", 0.1)
        term.wait_for(r"Partners per tier", timeout=60, since=mark)  # the dashboard, on the upgraded file
        output = term.quit()
    finally:
        term.close()
    assert revision(db) == schema.HEAD
    [backup] = tmp_path.glob("old.backup-*.db")
    assert revision(backup) == "0001"
    assert f"Upgraded sqlite:///{db} from revision 0001 to {schema.HEAD}. Backup copy: {backup}" in output


def test_escape_quits_and_changes_nothing(tmp_path):
    db, term = start(tmp_path)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    try:
        term.wait_for(r"This database needs an upgrade", timeout=60)
        term.press(ESCAPE, 0.1)
        status = term.finish(timeout=30)
        output = term.screen_text()
    finally:
        term.close()
    assert status == 1
    assert "run `tiertui db upgrade` to upgrade it" in output
    assert "Traceback" not in output
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["old.db"]
