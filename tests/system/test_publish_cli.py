"""tiertui publish / unpublish / report scorecards as a person runs them (real processes)."""

from __future__ import annotations

import json

import pytest
from cli_runner import tiertui
from db_builder import seat_team
from publish_builder import mitel

from tiertui.storage import open_engine


@pytest.fixture
def db(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = open_engine(url)
    seat_team(engine)
    mitel(engine, tmp_path)
    engine.dispose()
    return ["--db", url]


def test_publish_refuse_unpublish(db, tmp_path):
    refused = tiertui(*db, "publish", "2014-Q4", user="mia", check=False)
    assert refused.returncode == 1 and "mia is a manager; publishing periods needs the approver role" in refused.stderr
    out = tiertui(*db, "publish", "2014-Q4", user="alice").stdout
    assert "Published 2014-Q3, 2014-Q4" in out
    export = json.loads(tiertui(*db, "export", "scorecards", "--period", "2014-Q4", "--format", "json").stdout)
    assert {row["provisional"] for row in export} == {False}
    later = json.loads(tiertui(*db, "export", "scorecards", "--period", "2015-Q1", "--format", "json").stdout)
    assert {row["provisional"] for row in later} == {True}

    (tmp_path / "m.csv").write_text("partner_id,period,revenue\nM4,2014-Q4,1000\n", encoding="utf-8")
    refused = tiertui(*db, "import", "metrics", str(tmp_path / "m.csv"), check=False)
    assert refused.returncode == 1
    assert "refused: this would change published results: M4 in 2014-Q4 (score 95.60 -> 65.66)" in refused.stderr
    assert "tiertui unpublish 2014-Q4 --reason" in refused.stderr and "Traceback" not in refused.stderr

    no_reason = tiertui(*db, "unpublish", "2014-Q4", check=False)
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr
    out = tiertui(*db, "unpublish", "2014-Q4", "--reason", "M4 revenue corrected").stdout
    assert "Unpublished 2014-Q4: these results are provisional again." in out
    assert "re-levelled" in tiertui(*db, "import", "metrics", str(tmp_path / "m.csv")).stdout


def test_report_scorecards_writes_pages_with_a_progress_bar(db, tmp_path):
    proc = tiertui(*db, "report", "scorecards", "--period", "2015-Q1", "--out", str(tmp_path / "pages"))
    assert "Wrote 5 partner scorecards for 2015-Q1 (provisional: not published)" in proc.stdout
    assert "100%" in proc.stderr and "scorecards [" in proc.stderr
    assert sorted(p.name for p in (tmp_path / "pages").iterdir()) == [
        "M1.html",
        "M2.html",
        "M3.html",
        "M4.html",
        "M5.html",
        "index.html",
    ]
    one = tiertui(*db, "report", "scorecards", "--period", "2015-Q1", "--partner", "M3", "--out", str(tmp_path / "one"))
    assert "Wrote 1 partner scorecard for 2015-Q1" in one.stdout
    unknown = tiertui(
        *db, "report", "scorecards", "--period", "2015-Q1", "--out", str(tmp_path / "x"), user="nobody", check=False
    )
    assert unknown.returncode == 1 and "nobody is not a user of this database" in unknown.stderr
