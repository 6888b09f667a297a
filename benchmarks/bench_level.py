"""`tiertui level` against the floor of merely reading its input rows with plain sqlite3."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time

from registry import BUILDER, Context, Figure, benchmark, median

INPUT_QUERIES = (
    "SELECT key, partner_id, name, region, partner_type, parent_id, tier FROM partner",
    "SELECT period, metric, partner_key, value FROM metric_value",
    "SELECT partner_key, person, track, earned_on, expires_on FROM certification",
    "SELECT id, partner_key, tier, starts_on, expires_on, decided_at FROM tier_override WHERE status = 'approved'",
)


def level_once(url: str) -> tuple[float, int]:
    """Wall seconds and peak resident memory (bytes) of one `tiertui level` process.

    Started by a small child of this file (``--level``), not by this process: Linux starts a new
    process's ru_maxrss at the resident size of the process it was spawned from (the peak, with
    vfork), so a benchmark process that had just built the 100,000-partner demo (~1.1 GiB) made
    `tiertui level` look that big.
    """
    child = subprocess.run([sys.executable, __file__, "--level", url], capture_output=True, text=True)
    if child.returncode != 0:
        raise SystemExit(child.stderr.strip())
    output = child.stdout.split()
    return float(output[0]), int(output[1])


def _level_here(url: str) -> tuple[float, int]:
    command = [sys.executable, "-m", "tiertui", "--db", url, "--user", BUILDER, "level"]  # the demo's admin
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # wait4 gives this child's own rusage (getrusage(RUSAGE_CHILDREN) would be the max over all children)
    _pid, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    errors = process.stderr.read().decode(errors="replace")
    process.stderr.close()
    if process.returncode != 0:
        raise SystemExit(f"tiertui level failed ({process.returncode}): {errors.strip()}")
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return seconds, usage.ru_maxrss * scale


def read_inputs_once(path) -> tuple[float, int]:
    """Wall seconds to fetch every input row levelling reads, and how many rows that is.

    Measured in a child process: the rows would otherwise swell this process, and Linux carries a
    parent's peak memory into the ru_maxrss of every child it starts afterwards.
    """
    output = subprocess.run(
        [sys.executable, __file__, str(path)], check=True, capture_output=True, text=True
    ).stdout.split()
    return float(output[0]), int(output[1])


def _read_inputs_here(path) -> tuple[float, int]:
    started = time.perf_counter()
    connection = sqlite3.connect(path)
    rows = 0
    try:
        for sql in INPUT_QUERIES:
            rows += len(connection.execute(sql).fetchall())
    finally:
        connection.close()
    return time.perf_counter() - started, rows


@benchmark("level", "tiertui level (CLI subprocess) vs reading its inputs with sqlite3; peak memory")
def level_vs_read(ctx: Context) -> list[Figure]:
    level_s, read_s, memory = [], [], []
    rows = 0
    for _ in range(ctx.runs):
        seconds, peak = level_once(ctx.url)
        level_s.append(seconds)
        memory.append(peak)
        seconds, rows = read_inputs_once(ctx.db_path)
        read_s.append(seconds)
    ratios = [a / b for a, b in zip(level_s, read_s)]
    return [
        Figure("level: wall time of `tiertui level`", median(level_s), "s", samples=tuple(level_s)),
        Figure(f"level: read {rows:,} input rows (sqlite3)", median(read_s), "s", samples=tuple(read_s)),
        Figure("level: ratio level / read", median(level_s) / median(read_s), "x", target=1.5, samples=tuple(ratios)),
        Figure(
            "level: peak memory of the level process",
            median(memory) / 2**20,
            "MiB",
            target=1024,
            samples=tuple(m / 2**20 for m in memory),
        ),
    ]


if __name__ == "__main__":  # the child of level_once or read_inputs_once
    if sys.argv[1] == "--level":
        seconds, peak = _level_here(sys.argv[2])
        print(seconds, peak)
    else:
        seconds, rows = _read_inputs_here(sys.argv[1])
        print(seconds, rows)
