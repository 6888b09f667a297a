"""The app as a person meets it: the real ``tiertui`` command on a pseudo-terminal (120x40).

Nothing is headless here. Each figure is read off the byte stream the app writes to the terminal,
every chunk time-stamped as it arrives (``tests/terminal.py``):

* ``pty start``: from exec to the first frame with data (the dashboard's figures), as a ratio to a
  bare Textual app started the same way (exec to its one Label on screen); each sample is a fresh
  process.
* ``pty open <screen>``: from the key (``l`` ``o`` ``c`` ``h`` ``w``) to the first frame with the
  screen's data (a partner id, an audit time, the what-if tiers on record, then the what-if movers);
  the screen is left with ``g`` between samples, so each open after the first is warm (as it is for
  a person).
* ``pty scorecard``: from Enter on a row of the partner list to the scorecard's tiers on screen, and
  from ``H`` on it to the history view's first period line (Escape between samples).
* ``pty approve``: from ``a`` in the override queue to the queue repainted with the decision, on a
  copy of the demo database (an approval writes), as the demo's approver.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

from registry import Context, Figure, benchmark, median

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from terminal import CTRL_Q, Terminal  # noqa: E402

TIERTUI = str(Path(sys.executable).with_name("tiertui"))
APPROVER = "Priya Raman"  # the demo's channel director
DASHBOARD_DATA = r"│ \d[\d,]* +│"  # a figure in a tier tile: the dashboard has its data (always above the fold)
BARE_APP = (
    "from textual.app import App\n"
    "from textual.widgets import Label\n"
    "class Bare(App):\n"
    "    def compose(self):\n"
    "        yield Label('bare app ready')\n"
    "Bare().run()\n"
)
# what each screen shows once its data is in (never on the dashboard)
SCREENS = {
    "partners": (b"l", r"(?s)P\d{6}.*P\d{6}"),
    "overrides": (b"o", r"P\d{6}"),
    "certifications": (b"c", r"P\d{6}"),
    "audit log": (b"h", r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}"),
    # the what-if tiers: the "before" column of stored results, shown before the partner data is read
    "what-if": (b"w", r"Partners per tier"),
    # its movers, once the partner data is read and the active program evaluated (the first sample
    # waits for the rest of that read, started by the sample above; later ones reuse it)
    "what-if movers": (b"w", r"Movers: \d"),
}


def _env(home: Path) -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE (set in some shells and CI images) would make every start compile the
    # modules edited since their last .pyc again (7 ms for cli.py alone): a user's install has them
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TEXTUAL", "TIERTUI")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(
        TERM="xterm-256color",
        COLORTERM="truecolor",
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "data"),
    )
    return env


def _session(args: list[str], home: Path) -> Terminal:
    return Terminal(args, _env(home))


def _quit(term: Terminal) -> None:
    term.press(CTRL_Q, 0.1)
    try:
        term.finish(timeout=30)
    finally:
        term.close()


def _start_seconds(args: list[str], ready: str, home: Path) -> float:
    term = _session(args, home)
    try:
        term.wait_for(ready, timeout=120)
        return term.arrived(ready) - term.started
    finally:
        _quit(term)


@benchmark("pty-start", "the real app on a pseudo-terminal: exec to the first frame with data, vs a bare app")
def start(ctx: Context) -> list[Figure]:
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        app = [TIERTUI, "--db", ctx.url, "--user", "benchmark"]
        bare = [sys.executable, "-c", BARE_APP]
        apps, bares = [], []
        _start_seconds(bare, r"bare app ready", home)  # not counted: writes the .pyc files, fills the page cache
        _start_seconds(app, DASHBOARD_DATA, home)
        for _ in range(ctx.runs):  # interleaved, so a busy moment hits both alike
            bares.append(_start_seconds(bare, r"bare app ready", home))
            apps.append(_start_seconds(app, DASHBOARD_DATA, home))
    ratio = median(apps) / median(bares)
    return [
        Figure("pty: app exec to first frame with data", median(apps), "s", samples=tuple(apps)),
        Figure("pty: bare Textual app exec to its label", median(bares), "s", samples=tuple(bares)),
        Figure("pty: ratio app / bare start", ratio, "x", target=1.5),
    ]


def _key_to(term: Terminal, key: bytes, pattern: str, timeout: float = 30) -> float:
    mark = len(term.raw)
    sent = time.monotonic()
    term.press(key, 0.0)
    term.wait_for(pattern, timeout=timeout, since=mark)
    return term.arrived(pattern, since=mark) - sent


@benchmark("pty-screens", "the real app on a pseudo-terminal: each screen's key to its first frame with data")
def screens(ctx: Context) -> list[Figure]:
    figures = []
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        term = _session([TIERTUI, "--db", ctx.url, "--user", "benchmark"], home)
        try:
            term.wait_for(DASHBOARD_DATA, timeout=120)
            term.pump(1.0)
            for name, (key, pattern) in SCREENS.items():
                samples = []
                for _ in range(ctx.runs):
                    # a long timeout: the what-if screen's first visit reads every input (a minute
                    # at 100,000 partners on a loaded machine); a miss is a figure, not a crash
                    samples.append(_key_to(term, key, pattern, timeout=300) * 1000)
                    print(f"  {name}: {samples[-1]:.0f} ms", flush=True)
                    term.pump(0.5)
                    _key_to(term, b"g", DASHBOARD_DATA)  # home again
                    term.pump(0.5)
                label = f"pty: open {name} (first: {samples[0]:.0f} ms)"
                figures.append(Figure(label, median(samples), "ms", target=150, samples=tuple(samples)))
        finally:
            _quit(term)
    return figures


@benchmark("pty-approve", "the real app on a pseudo-terminal: approval key to the repainted override queue")
def approve(ctx: Context) -> list[Figure]:
    samples: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        copy = home / "approve.db"
        shutil.copy(ctx.db_path, copy)
        term = _session([TIERTUI, "--db", f"sqlite:///{copy}", "--user", APPROVER], home)
        try:
            term.wait_for(DASHBOARD_DATA, timeout=120)
            _key_to(term, b"o", SCREENS["overrides"][1])
            term.pump(1.0)
            for _ in range(max(5, ctx.runs)):
                # the new decision's own message: the last one stays on screen until it is replaced,
                # and any repaint of its line would otherwise match at once
                ms = _key_to(term, b"a", rf"Override #{_first_pending(copy)} approved") * 1000
                samples.append(ms)
                term.pump(0.7)
        finally:
            _quit(term)
    return [Figure("pty: approve key to repainted queue", median(samples), "ms", target=50, samples=tuple(samples))]


def _repaint_ms(term: Terminal, key: bytes, timeout: float = 5.0) -> float:
    """Milliseconds from writing ``key`` to the first bytes the app writes after it (its repaint)."""
    mark = len(term.raw)
    sent = time.monotonic()
    term.press(key, 0.0)
    deadline = sent + timeout
    while len(term.raw) == mark and time.monotonic() < deadline:
        term.pump(0.005)
    if len(term.raw) == mark:
        raise AssertionError(f"no repaint within {timeout} s of {key!r}")
    first = next(t for t, end in term.arrivals if end > mark)
    return (first - sent) * 1000


DOWN, UP = b"\x1b[B", b"\x1b[A"
# (screen, the key that opens it from the dashboard, the pattern of its data, the keys pressed on it)
KEY_SCREENS = (
    ("dashboard", b"", DASHBOARD_DATA, [b"\t"] * 8),
    ("partners", b"l", SCREENS["partners"][1], [DOWN] * 15 + [UP] * 5),
    ("scorecard", b"\r", r"Effective", [b"[", b"[", b"[", b"]", b"]", b"]"]),
    ("overrides", b"o", SCREENS["overrides"][1], [DOWN] * 10 + [UP] * 5),
    ("certifications", b"c", SCREENS["certifications"][1], [DOWN] * 15 + [UP] * 5),
    ("audit log", b"h", SCREENS["audit log"][1], [DOWN] * 15 + [UP] * 5),
    ("what-if", b"w", SCREENS["what-if"][1], [b"\t"] * 4 + [DOWN] * 10),
)


@benchmark("pty-keys", "the real app on a pseudo-terminal: any key on each screen to its repaint")
def keys(ctx: Context) -> list[Figure]:
    """On each screen, once its data is in and it has settled, keys a person presses there (Down and
    Up on lists, Tab between figures and fields, ``[``/``]`` between a scorecard's periods), 150 ms
    apart; per key, the time from writing it to the first bytes the app writes back."""
    per_screen: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        term = _session([TIERTUI, "--db", ctx.url, "--user", "benchmark"], home)
        try:
            term.wait_for(DASHBOARD_DATA, timeout=120)
            for name, opener, pattern, presses in KEY_SCREENS:
                if name == "scorecard":  # from the partner list
                    _key_to(term, b"l", SCREENS["partners"][1])
                    term.pump(1.0)
                if opener:
                    _key_to(term, opener, pattern, timeout=300)
                term.pump(2.0)  # the rest of the screen's data
                samples = per_screen.setdefault(name, [])
                for _ in range(ctx.runs):
                    for key in presses:
                        samples.append(_repaint_ms(term, key))
                        term.pump(0.15)
                print(f"  {name}: " + ", ".join(f"{ms:.0f}" for ms in samples), flush=True)
                term.press(b"g", 0.5)  # home again
                term.pump(0.5)
        finally:
            _quit(term)
    every = sorted(ms for samples in per_screen.values() for ms in samples)
    figures = [
        Figure(f"pty: key to repaint on {name} (90th pct)", _p90(samples), "ms", samples=tuple(samples))
        for name, samples in per_screen.items()
    ]
    figures.append(Figure("pty: any key to its repaint (median)", median(every), "ms"))
    figures.append(Figure("pty: any key to its repaint (90th percentile)", _p90(every), "ms", target=100))
    return figures


def _p90(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


def _first_pending(db: Path) -> int:
    """The override the queue's cursor is on after the previous approval: the first pending one."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return int(conn.execute("SELECT min(id) FROM tier_override WHERE status = 'pending'").fetchone()[0])


HISTORY_DATA = r"[▲·▼◆] (promoted|held|demoted|grace) +score +\d"


@benchmark("pty-scorecard", "the real app on a pseudo-terminal: Enter to a scorecard with data, H to its history")
def scorecard(ctx: Context) -> list[Figure]:
    """``Enter`` on a row of the partner list to the scorecard's tiers on screen ("Effective"), and
    ``H`` on it to the history view's first period line; Escape between samples (warm, as a person
    goes back and forth), the next row each time."""
    opened: list[float] = []
    history: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        term = _session([TIERTUI, "--db", ctx.url, "--user", "benchmark"], home)
        try:
            term.wait_for(DASHBOARD_DATA, timeout=120)
            _key_to(term, b"l", SCREENS["partners"][1])
            term.pump(1.0)
            for i in range(max(5, ctx.runs)):
                opened.append(_key_to(term, b"\r", r"Effective") * 1000)
                term.pump(0.5)
                history.append(_key_to(term, b"H", HISTORY_DATA) * 1000)
                term.pump(0.5)
                term.press(b"\x1b", 0.5)  # the scorecard
                term.press(b"\x1b", 0.5)  # the list
                term.press(b"\x1b[B" * (i + 1), 0.3)  # another partner
                term.pump(0.3)
        finally:
            _quit(term)
    return [
        Figure("pty: Enter to scorecard with data", median(opened), "ms", target=150, samples=tuple(opened)),
        Figure("pty: H to history view with data", median(history), "ms", target=150, samples=tuple(history)),
    ]


FIND_QUERIES = ("apex bos", "boston apex", "cloud systems", "hp-1000", "emea ana")


def _expected(db_path: Path, query: str, shown: int = 20) -> tuple[int, list[str]]:
    """How many partners the list finds for ``query`` and the ids of its first ``shown`` rows (ID order)."""
    from tiertui.services.read import FastReader, PartnerQuery
    from tiertui.services.read import sql as statements

    reader = FastReader.open(f"sqlite:///{db_path}")
    assert reader is not None, "the find benchmark reads a SQLite file at this tiertui's schema"
    try:
        ids = dict(reader.fetch("SELECT key, partner_id FROM partner"))
        keys = reader.partner_keys(PartnerQuery())
        texts = reader.partner_find_texts()
        words = statements.words_of(query)
        values = [texts[k] for k in keys]
        found = [k for k, m in zip(keys, statements.matching_words(values, words)) if m]
        return len(found), [ids[k] for k in found[:shown]]
    finally:
        reader.close()


def find_keystrokes(db_path: Path, runs: int = 1, user: str = "benchmark") -> list[float]:
    """The app on a pseudo-terminal at 120x40: the partner list, ``/``, each query typed one key at
    a time (80 ms apart, as a quick typist); per key, the milliseconds from writing the key to the
    frame that shows the new results: the status line with the query and its count, and the ids of
    the rows on screen in their order (a frame with the previous list's rows does not count)."""
    samples: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        term = _session([TIERTUI, "--db", f"sqlite:///{db_path}", "--user", user], home)
        try:
            term.wait_for(DASHBOARD_DATA, timeout=120)
            _key_to(term, b"l", SCREENS["partners"][1])
            term.pump(3.0)  # the rest of the list and the search texts load
            for _ in range(runs):
                for query in FIND_QUERIES:
                    term.press(b"/", 0.3)
                    for n in range(1, len(query) + 1):
                        typed = query[:n]
                        count, first = _expected(db_path, typed)
                        rows = r".*".join(re.escape(i) + r"\b" for i in first[:12])
                        status = rf"{count:,} partners?[^\n]*text: {re.escape(typed.strip())}"
                        mark = len(term.raw)
                        sent = time.monotonic()
                        term.press(typed[-1].encode(), 0.0)
                        patterns = [status] + ([rf"(?s){rows}"] if first else [])
                        for pattern in patterns:
                            term.wait_for(pattern, timeout=10, since=mark)
                        samples.append((max(term.arrived(p, since=mark) for p in patterns) - sent) * 1000)
                        term.pump(0.08)
                    term.press(b"\x1b", 0.5)  # Escape clears the search box,
                    term.press(b"\x1b", 0.5)  # and Escape again leaves it for the list
        finally:
            _quit(term)
    return samples


@benchmark("pty-find", "the real app on a pseudo-terminal: find-a-partner keystroke to updated results")
def find(ctx: Context) -> list[Figure]:
    samples = find_keystrokes(ctx.db_path, ctx.runs)
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return [
        Figure("pty: find-a-partner key to results (median)", median(samples), "ms", target=30, samples=tuple(samples)),
        Figure("pty: find-a-partner key to results (90th percentile)", p90, "ms", target=60),
    ]


if __name__ == "__main__":  # python benchmarks/bench_pty.py find DB [USER]: the figure on any database file
    found = find_keystrokes(Path(sys.argv[2]), user=sys.argv[3] if len(sys.argv) > 3 else "benchmark")
    keys = [q[: n + 1] for q in FIND_QUERIES for n in range(len(q))]
    print(" ".join(f"{k!r}:{ms:.0f}" for k, ms in zip(keys, found)))
    found.sort()
    print(f"{len(found)} keys: median {median(found):.1f} ms, 90th pct {found[int(0.9 * len(found))]:.1f} ms")
