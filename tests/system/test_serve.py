"""`tiertui serve`: the app in a real headless Chromium (Debian's chromium, driven by Playwright)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest
from cli_runner import TIERTUI
from db_builder import seat_team
from publish_builder import mitel

from tiertui.storage import open_engine

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def database(tmp_path):
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    engine = open_engine(url)
    seat_team(engine)
    mitel(engine, tmp_path)
    engine.dispose()
    return url


def _start(url: str, port: int, user: str) -> subprocess.Popen:
    env = {**os.environ, "TIERTUI_USER": user}
    return subprocess.Popen(
        [TIERTUI, "serve", "--port", str(port), "--db", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )


def _wait_listening(port: int, proc: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port}")


def _shows(drawn: bytes, *texts: bytes) -> bool:
    return all(text in drawn for text in texts)


def test_the_dashboard_appears_in_a_browser(database, tmp_path):
    from playwright.sync_api import sync_playwright

    port = _free_port()
    proc = _start(database, port, "ann")
    try:
        first = proc.stdout.readline() if proc.stdout else ""
        warning = proc.stdout.readline() if proc.stdout else ""
        assert f"Serving tiertui on http://127.0.0.1:{port}" in first and "as ann" in first
        assert "anyone who can reach" in warning and "as ann" in warning
        _wait_listening(port, proc)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.route("**/*", lambda r: r.continue_() if "127.0.0.1" in r.request.url else r.abort())
            frames: list[bytes] = []
            page.on(
                "websocket",
                lambda ws: ws.on("framereceived", lambda d: frames.append(d if isinstance(d, bytes) else d.encode())),
            )
            page.goto(f"http://127.0.0.1:{port}/")
            # the browser's terminal draws on a canvas: what it is told to draw comes over the websocket
            deadline = time.monotonic() + 120  # a busy machine starts the session's app slowly
            # the tier figures and the program's name are drawn by separate workers: wait for both
            while time.monotonic() < deadline and not _shows(b"".join(frames), b"Partners per tier", b"Mitel"):
                page.wait_for_timeout(500)
            shown = b"".join(frames)
            page.screenshot(path=str(tmp_path / "serve.png"))
            browser.close()
        assert b"Partners per tier" in shown and b"Mitel" in shown
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_an_unknown_person_is_refused_before_anything_listens(database):
    port = _free_port()
    proc = _start(database, port, "stranger")
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "stranger is not a user of this database" in out
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0
