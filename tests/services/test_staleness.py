"""Results that are never stale (issue #10): writes re-level at once; `--no-level` marks them stale.

Driven through the command line in-process (``cli.main``), on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from db_builder import FOUR_UC, seed
from sqlalchemy import text

from tiertui import cli
from tiertui.services.levelling import run_levelling
from tiertui.services.staleness import stale_since


def run(capsys, engine, *args, user="ann"):
    url = engine.url.render_as_string(hide_password=False)
    try:
        status = cli.main(["--db", url, "--user", user, *args])
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    return status, out, err


def score(engine, pid: str, period: str) -> float:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT r.score FROM level_result r JOIN partner p ON p.key = r.partner_key "
                "WHERE p.partner_id = :p AND r.period = :q"
            ),
            {"p": pid, "q": period},
        ).scalar_one()


def test_an_import_relevels_at_once_and_is_not_stale(any_engine, capsys, tmp_path):
    seed(any_engine, certs=FOUR_UC)
    run_levelling(any_engine, "ann")
    assert score(any_engine, "B2", "2026-Q2") == 18.0  # 300 of 1000 revenue: 60 * 0.3
    path = tmp_path / "m.csv"
    path.write_text("partner_id,period,revenue\nB2,2026-Q2,1000\n")
    status, out, err = run(capsys, any_engine, "import", "metrics", str(path))
    assert status == 0, err
    assert "re-levelled 1 partner" in out
    assert score(any_engine, "B2", "2026-Q2") == 60.0
    assert stale_since(any_engine) is None
    status, out, _ = run(capsys, any_engine, "export", "scorecards", "--period", "2026-Q2")
    assert status == 0 and "B2,2026-Q2,60.00," in out


def test_no_level_marks_stale_export_refuses_level_clears(any_engine, capsys, tmp_path):
    seed(any_engine, certs=FOUR_UC)
    run_levelling(any_engine, "ann")
    path = tmp_path / "bulk.csv"
    path.write_text("partner_id,period,revenue\nB2,2026-Q2,1000\n")
    started = datetime.now(UTC) - timedelta(seconds=2)
    status, out, err = run(capsys, any_engine, "import", "metrics", str(path), "--no-level")
    assert status == 0, err
    assert "not re-levelled" in out
    assert score(any_engine, "B2", "2026-Q2") == 18.0  # the results are as they were
    state = stale_since(any_engine)
    assert state is not None
    since, what = state
    since = since if since.tzinfo else since.replace(tzinfo=UTC)
    assert started <= since <= datetime.now(UTC) + timedelta(seconds=2)
    assert "import of metrics from bulk.csv by ann" in what

    status, out, err = run(capsys, any_engine, "export", "scorecards", "--period", "2026-Q2")
    assert status == 1 and out == ""
    assert "stale" in err and "tiertui level" in err and "--allow-stale" in err and "bulk.csv" in err
    status, out, err = run(capsys, any_engine, "export", "scorecards", "--period", "2026-Q2", "--allow-stale")
    assert status == 0 and "B2,2026-Q2,18.00," in out

    # a second scripted import keeps the first time and names both
    path2 = tmp_path / "bulk2.csv"
    path2.write_text("partner_id,period,revenue\nA1,2026-Q2,100\n")
    assert run(capsys, any_engine, "import", "metrics", str(path2), "--no-level")[0] == 0
    again = stale_since(any_engine)
    assert again is not None and again[0] == state[0] and "bulk.csv" in again[1] and "bulk2.csv" in again[1]

    status, out, err = run(capsys, any_engine, "level")
    assert status == 0, err
    assert stale_since(any_engine) is None
    assert score(any_engine, "B2", "2026-Q2") == 60.0
    status, out, _ = run(capsys, any_engine, "export", "scorecards", "--period", "2026-Q2")
    assert status == 0 and "B2,2026-Q2,60.00," in out


def test_a_rejected_no_level_import_marks_nothing(any_engine, capsys, tmp_path):
    seed(any_engine)
    run_levelling(any_engine, "ann")
    path = tmp_path / "bad.csv"
    path.write_text("partner_id,period,revenue\nNOPE,2026-Q2,1000\n")
    status, _, err = run(capsys, any_engine, "import", "metrics", str(path), "--no-level")
    assert status == 1 and "rejected" in err
    assert stale_since(any_engine) is None


def test_loading_a_program_relevels_every_partner_in_the_same_transaction(any_engine, capsys, tmp_path):
    from db_builder import PROGRAM

    seed(any_engine, certs=FOUR_UC)
    run_levelling(any_engine, "ann")
    stricter = PROGRAM.replace("[requirements.Silver]\nmin_score = 20", "[requirements.Silver]\nmin_score = 60")
    path = tmp_path / "strict.toml"
    path.write_text(stricter)
    status, _, err = run(capsys, any_engine, "program", "load", str(path))
    assert status == 0, err
    with any_engine.connect() as conn:
        before = [tuple(r) for r in conn.execute(text("SELECT * FROM level_result ORDER BY period, partner_key"))]
        runs = conn.execute(text("SELECT COUNT(*) FROM level_run")).scalar_one()
    assert runs == 2  # the load's own full re-level
    run_levelling(any_engine, "ann")
    with any_engine.connect() as conn:
        after = [tuple(r) for r in conn.execute(text("SELECT * FROM level_result ORDER BY period, partner_key"))]
    assert before == after and stale_since(any_engine) is None
