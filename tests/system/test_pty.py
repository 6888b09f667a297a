"""The real `tiertui` command in a pseudo-terminal: dashboard, ctrl+p lookup, scorecard, ctrl+q.

Nothing is mocked: the installed console script runs in its own session on a pty of a fixed size,
keys are written to the pty as a terminal would send them, and the screen is read back from the
escape-sequence stream (escapes stripped). Every wait is bounded; the process is killed on a timeout.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from tiertui.services.demo import build_demo
from tiertui.services.exports import levelled_periods, scorecard_rows
from tiertui.storage import open_engine

TIERTUI = Path(sys.executable).with_name("tiertui")
COLUMNS, ROWS = 120, 40
CTRL_P, CTRL_Q, ENTER = b"\x10", b"\x11", b"\r"

# CSI (incl. private modes, "$p" queries, kitty ">25u"), OSC (to BEL or ST), and two-byte escapes
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|\x1b[=>78]")

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")


def strip_ansi(raw: bytes) -> str:
    return ANSI.sub("", raw.decode("utf-8", errors="replace"))


class Terminal:
    """The app on a pty: write keys, collect everything it draws, wait for text with a deadline."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        self.master = master
        self.raw = bytearray()
        self.process = subprocess.Popen(
            args,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            close_fds=True,
            start_new_session=True,  # its own process group: a timeout kills the whole of it
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),  # the pty is its controlling tty
        )
        os.close(slave)

    def pump(self, seconds: float) -> None:
        """Read whatever the app writes for up to ``seconds`` (never blocks longer)."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            ready, _, _ = select.select([self.master], [], [], min(left, 0.05))
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # EIO: the child closed its side
                    return
                if not chunk:
                    return
                self.raw += chunk

    def screen_text(self, since: int = 0) -> str:
        return strip_ansi(bytes(self.raw[since:]))

    def wait_for(self, pattern: str, timeout: float, since: int = 0) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.screen_text(since))
            if match:
                return match
            if self.process.poll() is not None:
                self.pump(0.2)
                break
            self.pump(0.1)
        tail = self.screen_text(since)[-3000:]
        raise AssertionError(
            f"{pattern!r} not on screen within {timeout} s (exit status {self.process.poll()}); last output:\n{tail}"
        )

    def press(self, keys: bytes, pause: float = 0.05) -> None:
        os.write(self.master, keys)
        self.pump(pause)

    def type(self, text: str) -> None:
        for char in text:  # one key at a time, as a person types
            self.press(char.encode(), 0.02)

    def finish(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            self.pump(0.1)
        self.pump(0.2)
        if self.process.poll() is None:
            self.kill()
            raise AssertionError(
                f"tiertui did not exit within {timeout} s of ctrl+q; last output:\n{self.screen_text()[-3000:]}"
            )
        return self.process.returncode

    def quit(self) -> str:
        """ctrl+q: the app must exit cleanly (status 0, no traceback); everything it printed."""
        self.press(CTRL_Q, 0.1)
        status = self.finish(timeout=30)
        output = self.screen_text()
        assert "Traceback" not in output, output[-3000:]
        assert status == 0
        return output

    def kill(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=10)

    def close(self) -> None:
        self.kill()
        os.close(self.master)


def terminal_env(tmp_path: Path) -> dict[str, str]:
    """This environment without any TEXTUAL_/TIERTUI_ settings, as a 120x40 truecolor xterm, with
    config and data folders of the test's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEXTUAL", "TIERTUI"))}
    env.update(
        TERM="xterm-256color",
        COLUMNS=str(COLUMNS),
        LINES=str(ROWS),
        COLORTERM="truecolor",
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
    )
    return env


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
