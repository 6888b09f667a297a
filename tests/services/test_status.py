"""`tiertui status`: periods, how many partners reported each metric, partial periods, the last run."""

from __future__ import annotations

from db_builder import seed

from tiertui import cli
from tiertui.services.levelling import run_levelling
from tiertui.services.status import read_status

PARTNERS = [(f"P{i:02d}", f"Partner {i}", "EMEA", "VAR", None, None) for i in range(10)]


def _metrics(q2_reporters: int) -> list[tuple]:
    rows = [(pid, "2026-Q1", "revenue", 100.0) for pid, *_ in PARTNERS]
    rows += [(pid, "2026-Q2", "revenue", 0.0) for pid, *_ in PARTNERS[:q2_reporters]]  # a reported 0 counts
    rows += [(pid, "2026-Q1", "csat", 90.0) for pid, *_ in PARTNERS[:3]]  # sparse: never "partial"
    return rows


def test_completeness_counts_reported_values_and_flags_a_partial_period(engine):
    seed(engine, PARTNERS, _metrics(q2_reporters=8))
    status = read_status(engine)
    assert [p.period for p in status.periods] == ["2026-Q1", "2026-Q2"]
    q1, q2 = status.periods
    counts = {m.metric: m.reported for m in q2.metrics}
    assert counts["revenue"] == 8 and counts["csat"] == 0
    assert {m.metric: m.reported for m in q1.metrics}["csat"] == 3
    assert q2.metrics[0].text() == "Revenue: 8 of 10 reported"
    assert not q1.looks_partial
    assert q2.partial == ["Revenue: 8 reported, 10 in 2026-Q1"]  # 8 < 90 % of 10; csat is sparse


def test_a_period_reported_by_nine_of_ten_is_not_partial(engine):
    seed(engine, PARTNERS, _metrics(q2_reporters=9))
    assert not read_status(engine).periods[-1].looks_partial


def test_status_command_prints_periods_counts_and_the_last_run(engine, db_url, capsys):
    seed(engine, PARTNERS, _metrics(q2_reporters=5))
    assert cli.main(["--db", db_url, "--user", "ann", "status"]) == 0
    before = capsys.readouterr().out
    assert "Periods: 2 (2026-Q1 to 2026-Q2)" in before
    assert "Last levelling run: never (run `tiertui level`)" in before
    assert "! 2026-Q2 looks partial: Revenue: 5 reported, 10 in 2026-Q1" in before
    revenue_row = next(line for line in before.splitlines() if line.strip().startswith("Revenue"))
    assert revenue_row.split()[-2:] == ["10", "5"]

    run_levelling(engine, "ann")
    assert cli.main(["--db", db_url, "--user", "ann", "status"]) == 0
    after = capsys.readouterr().out
    assert "Last levelling run: " in after and "by ann" in after
    assert "Results: current" in after


def test_status_needs_the_viewer_role(engine, db_url, capsys):
    seed(engine, PARTNERS, _metrics(q2_reporters=10))
    assert cli.main(["--db", db_url, "--user", "stranger", "status"]) != 0
    assert "stranger" in capsys.readouterr().err


def test_status_says_when_results_are_stale_and_why(engine, db_url, tmp_path, capsys):
    seed(engine, PARTNERS, _metrics(q2_reporters=10))
    run_levelling(engine, "ann")
    more = tmp_path / "more.csv"
    more.write_text("partner_id,period,revenue\nP01,2026-Q2,250\n", encoding="utf-8")
    assert cli.main(["--db", db_url, "--user", "ann", "import", "metrics", str(more), "--no-level"]) == 0
    capsys.readouterr()
    status = read_status(engine)
    assert status.stale_since is not None and "more.csv" in status.stale_because
    assert cli.main(["--db", db_url, "--user", "ann", "status"]) == 0
    out = capsys.readouterr().out
    assert "Results: stale since " in out and "run `tiertui level`" in out
    run_levelling(engine, "ann")
    assert read_status(engine).stale_since is None
