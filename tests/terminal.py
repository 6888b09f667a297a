"""The real ``tiertui`` in a pseudo-terminal, as a person meets it: keys in, screen text out.

Nothing is mocked: the console script runs in its own session on a pty of a fixed size, keys are
written to the pty as a terminal would send them, and the screen is read back from the
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

TIERTUI = Path(sys.executable).with_name("tiertui")
COLUMNS, ROWS = 120, 40
CTRL_P, CTRL_Q, ENTER = b"\x10", b"\x11", b"\r"

# CSI (incl. private modes, "$p" queries, kitty ">25u"), OSC (to BEL or ST), and two-byte escapes
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|\x1b[=>78]")


def strip_ansi(raw: bytes) -> str:
    return ANSI.sub("", raw.decode("utf-8", errors="replace"))


class Terminal:
    """The app on a pty: write keys, collect everything it draws, wait for text with a deadline."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        self.master = master
        self.raw = bytearray()
        self.started = time.monotonic()
        self.arrivals: list[tuple[float, int]] = []  # (monotonic time, len(raw) after the chunk)
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
                self.arrivals.append((time.monotonic(), len(self.raw)))

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

    def arrived(self, pattern: str, since: int = 0) -> float:
        """When (monotonic) the output that first completed ``pattern`` after offset ``since`` arrived.

        For timings: chunks are time-stamped as they are read, so the figure does not depend on how
        long the caller waited between reads.
        """
        ends = [(t, end) for t, end in self.arrivals if end > since]
        lo, hi = 0, len(ends) - 1
        if not ends or not re.search(pattern, self.screen_text(since)):
            raise AssertionError(f"{pattern!r} never arrived")
        while lo < hi:  # the first chunk after which the pattern is complete
            mid = (lo + hi) // 2
            if re.search(pattern, strip_ansi(bytes(self.raw[since : ends[mid][1]]))):
                hi = mid
            else:
                lo = mid + 1
        return ends[lo][0]

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
