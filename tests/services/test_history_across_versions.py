"""A partner's history across a program change (issue 14, spec v2 §3.11): the first period of a new
version says the version changed and maps the tier names; a tier read through the map is no move;
a real move across the change is still a move, with the old name, its new name and the tier now."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiertui.cli import main
from tiertui.services.demo import build_demo
from tiertui.services.read.engine import partner_history
from tiertui.storage import open_engine

PROGRAMS = Path(__file__).resolve().parents[2] / "fixtures" / "programs"


@pytest.fixture(scope="module")
def mitel(tmp_path_factory):
    """The Mitel fixture with both versions: the 2013 tiers (Select, Premium, Diamond, ...) before
    2014-07-01, the aligned North American tiers from it (Select -> Silver, Diamond -> Platinum)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('mitel') / 'tiertui.db'}"
    folder = PROGRAMS / "mitel_2014_na"
    for args in (
        ("program", "load", str(folder / "before_2014-07.toml")),
        ("import", "partners", str(folder / "partners.csv")),
        ("import", "metrics", str(folder / "metrics_2014h1.csv")),
        ("level",),
        ("program", "load", str(PROGRAMS / "mitel_2014_na.toml")),
        ("import", "metrics", str(folder / "metrics.csv")),
        ("import", "certifications", str(folder / "certifications.csv")),
    ):
        assert main(["--db", url, "--user", "carol", *args]) == 0, args
    engine = open_engine(url)
    yield engine
    engine.dispose()


def at(lines, period):
    return next(x for x in lines if x.period == period)


def test_mitel_a_renamed_tier_is_no_demotion(mitel):
    from tiertui.services import timeline

    new_name = timeline.programs(mitel)[-1].name
    # M2 (Canada): Select in 2014-Q2; carried as Silver, in grace in 2014-Q3 (qualifies Authorized)
    lines = partner_history(mitel, "M2")
    q3 = at(lines, "2014-Q3")
    assert at(lines, "2014-Q2").tier == "Select" and q3.tier == "Silver"
    assert q3.change == f"◇ new program version {new_name!r} in 2014-Q3: Select is now Silver"
    assert not q3.change.startswith(("▲", "▼"))
    # the next change is a move within the new version: Silver to Gold is a promotion
    assert at(lines, "2014-Q4").change == "▲ Silver → Gold in 2014-Q4"
    # M4: Diamond, the removed tier, is now Platinum
    assert at(partner_history(mitel, "M4"), "2014-Q3").change == (
        f"◇ new program version {new_name!r} in 2014-Q3: Diamond is now Platinum"
    )
    # M1: Gold keeps its name: the change is said, no move
    assert at(partner_history(mitel, "M1"), "2014-Q3").change == (
        f"◇ new program version {new_name!r} in 2014-Q3: still Gold"
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo with its 2026 version (Authorized renamed Registered, from 2026-01-01)."""
    engine = open_engine(f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}")
    build_demo(engine, partners=150, seed=2026, user="dave")
    yield engine
    engine.dispose()


def test_demo_a_rename_and_a_real_move_across_the_change(demo):
    new = "'Helios Partner Program 2026'"
    # P000001: Authorized in 2025-Q4, Registered (the same tier renamed) in 2026-Q1
    rename = at(partner_history(demo, "P000001"), "2026-Q1")
    assert rename.tier == "Registered" and rename.event == "held"
    assert rename.change == f"◇ new program version {new} in 2026-Q1: Authorized is now Registered"
    # P000053: Authorized in 2025-Q4, promoted to Silver in 2026-Q1: a move, with both names
    lines = partner_history(demo, "P000053")
    move = at(lines, "2026-Q1")
    assert at(lines, "2025-Q4").tier == "Authorized" and move.tier == "Silver" and move.event == "promoted"
    assert move.change == "▲ Authorized (now Registered) → Silver in 2026-Q1"
    assert move.reasons[0] == f"new program version {new} in 2026-Q1: Authorized is now Registered"
    assert len(move.reasons) > 1  # and why it moved, as for any move


def test_demo_a_promotion_under_the_first_version_is_shown_as_one(demo):
    # P000029: Authorized in 2025-Q2, Silver in 2025-Q3, both under the first version, whose tiers
    # the active version (Registered, ...) does not all have: still a promotion
    lines = partner_history(demo, "P000029")
    assert at(lines, "2025-Q2").tier == "Authorized" and at(lines, "2025-Q3").tier == "Silver"
    assert at(lines, "2025-Q3").change == "▲ Authorized → Silver in 2025-Q3"


# --------------------------------------------------------------------------- an unmapped tier (§3.11)


def _mitel_before_the_change(tmp_path):
    url = f"sqlite:///{tmp_path / 'tiertui.db'}"
    folder = PROGRAMS / "mitel_2014_na"
    for args in (
        ("program", "load", str(folder / "before_2014-07.toml")),
        ("import", "partners", str(folder / "partners.csv")),
        ("import", "metrics", str(folder / "metrics_2014h1.csv")),
        ("level",),
    ):
        assert main(["--db", url, "--user", "carol", *args]) == 0, args
    return url


def _map(tmp_path, mapping: str) -> str:
    text = (PROGRAMS / "mitel_2014_na.toml").read_text()
    text = text.replace('tiers = { Select = "Silver", Premium = "Gold", Diamond = "Platinum" }', f"tiers = {mapping}")
    path = tmp_path / "version.toml"
    path.write_text(text)
    return str(path)


def test_an_unmapped_tier_is_refused_only_when_partners_hold_it(tmp_path, capsys):
    # At the change (2014-Q2) M2 and M5 hold Select, M4 Diamond, M1 Gold, M3 Silver: nobody Premium.
    url = _mitel_before_the_change(tmp_path)
    capsys.readouterr()
    # Diamond left unmapped: refused, naming the tier and how many hold it; nothing is loaded
    assert main(["--db", url, "--user", "carol", "program", "load", _map(tmp_path, '{ Select = "Silver" }')]) != 0
    err = capsys.readouterr().err
    assert "'Diamond'" in err and "1 partner holds it in 2014-Q2 (M4)" in err
    assert main(["--db", url, "--user", "carol", "program", "list"]) == 0
    assert "2014-07-01" not in capsys.readouterr().out
    # Premium left unmapped (the spec refuses a tier partners are on; nobody is on Premium): loaded
    mapping = '{ Select = "Silver", Diamond = "Platinum" }'
    assert main(["--db", url, "--user", "carol", "program", "load", _map(tmp_path, mapping)]) == 0
    said = capsys.readouterr().out
    assert "Select -> Silver: 2 partners" in said and "Diamond -> Platinum: 1 partner" in said
    assert "Premium" not in said


def test_a_first_version_refuses_an_unmapped_tier_on_record_only_when_held(tmp_path, capsys):
    # The 2014 version alone, first in force: tiers on record are read through its map. Gold,
    # Silver and Platinum are its own; a partner on record as Select needs the map.
    url = f"sqlite:///{tmp_path / 'tiertui.db'}"
    folder = PROGRAMS / "mitel_2014_na"
    rows = (folder / "partners.csv").read_text().splitlines()
    rows[2] = rows[2].replace(",VAR,M1,Dana Scully,,", ",VAR,M1,Dana Scully,Select,2013-01-01")
    partners = tmp_path / "partners.csv"
    partners.write_text("\n".join(rows) + "\n")
    no_select = _map(tmp_path, '{ Premium = "Gold", Diamond = "Platinum" }')
    # loaded with no partners: nothing is on record yet
    assert main(["--db", url, "--user", "carol", "program", "load", no_select]) == 0
    capsys.readouterr()
    # the partners import names Select, which no version in force has or maps: refused there
    assert main(["--db", url, "--user", "carol", "import", "partners", str(partners)]) != 0
    capsys.readouterr()
    # with the full map, the import is accepted; then the version without Select is refused,
    # naming Select and the one partner on record with it
    assert main(["--db", url, "--user", "carol", "program", "load", str(PROGRAMS / "mitel_2014_na.toml")]) == 0
    assert main(["--db", url, "--user", "carol", "import", "partners", str(partners)]) == 0
    capsys.readouterr()
    assert main(["--db", url, "--user", "carol", "program", "load", no_select]) != 0
    err = capsys.readouterr().err
    assert "1 partner has tier 'Select' on record (M2)" in err
    # and with no partner on Select any more (on record Silver), the same version loads
    partners.write_text("\n".join(rows).replace("Select,2013-01-01", "Silver,2013-01-01") + "\n")
    assert main(["--db", url, "--user", "carol", "import", "partners", str(partners)]) == 0
    assert main(["--db", url, "--user", "carol", "program", "load", no_select]) == 0


# --------------------------------------------------------------------------- lapse risk in the JSON export


def test_the_json_export_says_which_designation_a_lapse_would_cost(tmp_path, capsys):
    import json

    url = f"sqlite:///{tmp_path / 'demo.db'}"
    engine = open_engine(url)
    try:
        build_demo(engine, partners=300, seed=2026, user="dave")
    finally:
        engine.dispose()
    assert main(["--db", url, "--user", "dave", "export", "scorecards", "--period", "2026-Q3", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    rows = data if isinstance(data, list) else next(v for v in data.values() if isinstance(v, list))
    row = next(r for r in rows if r["partner_id"] == "P000045")
    # Sales Excellence: deal registrations and 2 sales people; one of the two expires 2026-10-05
    assert (
        "1 sales certification expires before 2026-Q4 ends (Gabriel F. Fischer on 2026-10-05): "
        "Certified people (sales) would be 1 of 2; Sales Excellence would no longer be met "
        "(kept 1 further period)"
    ) in row["at_risk_reasons"]
    assert "Sales Excellence" in row["designations"]


# --------------------------------------------------------------------------- the dashboard's tier mix


def test_the_tier_mix_counts_an_earlier_versions_partners_under_their_carried_names(mitel, demo):
    from sqlalchemy import text

    from tiertui.services.read.engine import dashboard_data

    data = dashboard_data(demo)
    assert data.tiers[0] == "Registered"
    with demo.connect() as conn:  # 2025-Q4 is under the first version, whose lowest tier is Authorized
        authorized = conn.execute(
            text("SELECT COUNT(*) FROM level_result WHERE period = '2025-Q4' AND effective_tier = 'Authorized'")
        ).scalar_one()
    q4 = next(m for m in data.mix if m.period == "2025-Q4")
    assert authorized > 0 and q4.tiers.get("Registered") == authorized and "Authorized" not in q4.tiers
    assert sum(q4.tiers.values()) == 150
    # Mitel: Diamond (removed) is counted as Platinum, Select as Silver, in the periods before the change
    mix = {m.period: m.tiers for m in dashboard_data(mitel).mix}
    assert "Diamond" not in mix["2014-Q2"] and "Select" not in mix["2014-Q2"]
    assert mix["2014-Q2"].get("Platinum", 0) >= 1  # M4 held Diamond
