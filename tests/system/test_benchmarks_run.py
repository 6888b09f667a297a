"""benchmarks/ stays runnable with its one command: every benchmark runs to its table on a small demo.

No timing is asserted here (timings belong to the benchmarks, not to pass/fail tests); what fails
is a benchmark that no longer runs, e.g. one acting as a person the demo database does not know.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_benchmark_runs_on_a_small_demo(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run.py"),
            "--partners",
            "200",
            "--runs",
            "1",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    # 0: every target met; 1: some figure over its target (at 200 partners that says nothing); 1 with a
    # message on stderr: a benchmark failed to run
    assert proc.returncode in (0, 1) and "failed" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    table = proc.stdout[proc.stdout.index("\nfigure ") :]
    for figure in (
        "level: wall time of `tiertui level`",
        "app: start to partner list (tiertui)",
        "app: type-to-filter, key to list",
        "whatif: ",
        "pty: ratio app / bare start",
        "pty: open partners",
        "pty: approve key to repainted queue",
    ):
        assert figure in table, proc.stdout[-3000:]
