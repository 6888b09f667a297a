"""The README's newcomer path, run as a new user runs it on a fresh machine.

A copy of the project (what git tracks, no virtual environment), a new, empty HOME, and the
README's exact lines typed into bash on a pseudo-terminal: the quick start's first line installs
tiertui into a fresh virtual environment and opens the app on the demo; the line the README gives
for the demo's approver opens the same demo as Priya Raman, who approves an override from the
keyboard. Nothing is mocked; pip really installs (the pip cache of this machine is reused, so the
run is quicker but installs the same thing).

The quick start's second line (install with the test extra and run the whole suite) is what
``.ci/run`` runs on every change, so it is not run again from inside the suite.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from terminal import CTRL_Q, Terminal

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")


def quick_start_lines() -> tuple[str, str]:
    """The quick start's install-and-open line and the README's command for the demo's approver."""
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = [line.strip() for line in section.splitlines() if line.startswith("    ")]
    install_and_open = commands[0]
    approver = re.search(r"`(\.venv/bin/tiertui demo --user \"[^\"]+\")`", section)
    assert approver, "the quick start no longer says how to open the demo as its approver"
    return install_and_open, approver.group(1)


def fresh_copy(into: Path) -> Path:
    """The files git tracks, as a fresh clone has them (nothing built, no .venv)."""
    listed = (
        subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    )
    for name in filter(None, listed):
        source = ROOT / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree, not yet committed
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)
    return into


def newcomer_env(home: Path) -> dict[str, str]:
    """A new user's environment: an empty HOME, no tiertui or Textual settings, no XDG folders."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("TIERTUI", "TEXTUAL", "XDG_", "VIRTUAL_ENV", "PYTHON"))
    }
    cache = Path(os.environ.get("PIP_CACHE_DIR", Path.home() / ".cache" / "pip"))
    env.update(HOME=str(home), TERM="xterm-256color", COLORTERM="truecolor", PIP_CACHE_DIR=str(cache))
    env["PATH"] = ":".join(p for p in env.get("PATH", "").split(":") if ".venv" not in p)
    return env


def test_the_readme_newcomer_path_works_in_order(tmp_path):
    install_and_open, as_approver = quick_start_lines()
    project = fresh_copy(tmp_path / "tiertui")
    home = tmp_path / "home"
    home.mkdir()
    env = newcomer_env(home)

    # 1. Install and open the app on the demo, exactly as the README says.
    term = Terminal(["bash", "-c", f"cd {project} && {install_and_open}"], env)
    try:
        term.wait_for(r"Demo database: (\S+demo\.db)", timeout=900)
        term.wait_for(r"Open it as its approver: tiertui demo --user 'Priya Raman'", timeout=30)
        term.wait_for(r"Partners per tier", timeout=120)
        term.wait_for(r"pending overrides", timeout=60)
        term.press(CTRL_Q, 0.2)
        assert term.finish(timeout=30) == 0
        assert "Traceback" not in term.screen_text()
    finally:
        term.close()
    demo_db = home / ".local" / "share" / "tiertui" / "demo.db"
    assert demo_db.exists(), "the demo is not where the README's tiertui says it is"
    built = demo_db.stat().st_mtime_ns

    # 2. Open the same demo as its approver and approve the first pending request.
    term = Terminal(["bash", "-c", f"cd {project} && {as_approver}"], env)
    try:
        term.wait_for(r"The demo database is already there", timeout=60)
        term.wait_for(r"Priya Raman · demo\.db", timeout=60)
        term.wait_for(r"pending overrides", timeout=60)
        mark = len(term.raw)
        term.press(b"o", 0.5)
        term.wait_for(r"pending", timeout=30, since=mark)
        term.pump(1.0)
        mark = len(term.raw)
        term.press(b"a", 0.5)
        term.wait_for(r"Override #\d+ approved", timeout=30, since=mark)
        term.press(CTRL_Q, 0.2)
        assert term.finish(timeout=30) == 0
        assert "Traceback" not in term.screen_text()
    finally:
        term.close()

    # The demo was opened, not rebuilt: the approval is in it, and it was written to, not replaced.
    import sqlite3

    with sqlite3.connect(demo_db) as conn:
        decided = conn.execute(
            "SELECT COUNT(*) FROM tier_override WHERE status = 'approved' AND decided_by = 'Priya Raman'"
        ).fetchone()[0]
    assert decided >= 1
    assert demo_db.stat().st_mtime_ns >= built
