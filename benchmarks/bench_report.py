"""Partner-facing output (issue 15): `tiertui report scorecards` and `tiertui notify` into an outbox.

Targets: scorecards for 5,000 partners within 20 s (100,000 within 5 minutes); notify into the
outbox for 5,000 changed partners within 30 s. Both run as a person runs them: `tiertui` as a
subprocess, start to exit.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from registry import BUILDER, Context, Figure, benchmark, median


def _latest_period(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        periods = [r[0] for r in conn.execute("SELECT DISTINCT period FROM level_result")]
    finally:
        conn.close()
    return max(periods)  # labels like 2026-Q3 sort as periods within one frequency


def _run(url: str, *args: str) -> float:
    command = [sys.executable, "-m", "tiertui", "--db", url, "--user", BUILDER, *args]
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"tiertui {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return seconds


@benchmark("report", "tiertui report scorecards: one HTML page per partner and the index")
def report(ctx: Context) -> list[Figure]:
    period = _latest_period(ctx.db_path)
    samples = []
    for _ in range(ctx.runs):
        out = ctx.out / "report-pages"
        shutil.rmtree(out, ignore_errors=True)
        samples.append(_run(ctx.url, "report", "scorecards", "--period", period, "--out", str(out)))
        pages = sum(1 for _ in out.glob("*.html")) - 1
        assert pages == ctx.partners, f"{pages} pages for {ctx.partners} partners"
    target = 20.0 if ctx.partners <= 5000 else 300.0 * ctx.partners / 100_000
    return [
        Figure(
            f"report: scorecards for {ctx.partners:,} partners", median(samples), "s", target, samples=tuple(samples)
        )
    ]


@benchmark("notify", "tiertui notify into the outbox, every partner changed (on a copy of the demo)")
def notify(ctx: Context) -> list[Figure]:
    """On a copy: every partner gets a contact address and an account manager address, the latest
    period is published, and the earlier periods' results are removed so that every partner's result
    is new (changed) in it."""
    period = _latest_period(ctx.db_path)
    samples = []
    for _ in range(ctx.runs):
        copy = ctx.out / "notify.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{copy}{suffix}").unlink(missing_ok=True)
        source = sqlite3.connect(ctx.db_path)
        target = sqlite3.connect(copy)
        source.backup(target)
        source.close()
        target.execute("UPDATE partner SET contact_email = 'contact' || key || '@partner.example'")
        target.execute(
            "UPDATE partner SET account_manager = replace(lower(account_manager), ' ', '.') || '@channel.example'"
        )
        target.execute("DELETE FROM level_result WHERE period <> ?", (period,))
        target.execute("DELETE FROM published_period")
        target.commit()
        target.close()
        url = f"sqlite:///{copy}"
        _run(url, "publish", period)
        outbox = ctx.out / "outbox"
        shutil.rmtree(outbox, ignore_errors=True)
        samples.append(_run(url, "notify", "--period", period, "--outbox", str(outbox)))
        sent = sum(1 for _ in outbox.glob("*.eml"))
        assert sent > ctx.partners, f"{sent} messages for {ctx.partners} partners"
    target = 30.0 * max(1.0, ctx.partners / 5000)
    return [
        Figure(
            f"notify: outbox for {ctx.partners:,} changed partners",
            median(samples),
            "s",
            target,
            samples=tuple(samples),
        )
    ]
