"""`tiertui import metrics` of 1% of the partners in the latest period, re-levelling included (issue #10).

The whole command as a person runs it: a new process that validates the file, writes it and
re-levels the partners it touches (and their parents) in one transaction. Each run works on a
fresh copy of the cached demo database, so the cache stays as built.
"""

from __future__ import annotations

import csv
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from registry import BUILDER, Context, Figure, benchmark, median


def _some_metrics(db_path: Path, target: Path, share: int = 100) -> int:
    """New revenue and csat for every ``share``-th partner in the latest period; returns the rows."""
    with sqlite3.connect(db_path) as conn:
        ids = [r[0] for r in conn.execute("SELECT partner_id FROM partner ORDER BY partner_id")]
        latest = conn.execute("SELECT MAX(period) FROM metric_value").fetchone()[0]
    chosen = ids[::share]
    with target.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["partner_id", "period", "revenue", "csat"])
        for k, pid in enumerate(chosen):
            writer.writerow([pid, latest, 250_000 + 1_000 * (k % 900), 70 + k % 30])
    return len(chosen)


def _copy(source: Path, target: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def import_once(db: Path, csv_path: Path) -> float:
    command = [
        sys.executable,
        "-m",
        "tiertui",
        "--db",
        f"sqlite:///{db}",
        "--user",
        BUILDER,
        "import",
        "metrics",
        str(csv_path),
    ]
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0 or "re-levelled" not in proc.stdout:
        raise SystemExit(f"tiertui import failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    return seconds


@benchmark("import", "tiertui import metrics for 1% of partners (latest period), re-levelling included")
def import_some_metrics(ctx: Context) -> list[Figure]:
    csv_path = ctx.out / "bench-import-1pct.csv"
    rows = _some_metrics(ctx.db_path, csv_path)
    scratch = ctx.out / "bench-import-scratch.db"
    samples = []
    try:
        for _ in range(ctx.runs):
            _copy(ctx.db_path, scratch)
            samples.append(import_once(scratch, csv_path))
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{scratch}{suffix}").unlink(missing_ok=True)
    return [
        Figure(
            f"import: {rows:,} partners' metrics + re-level (process)",
            median(samples),
            "s",
            target=1.5,
            samples=tuple(samples),
        )
    ]
