"""Real programs that change over time (spec v2 §3.11, §3.12): fixtures with two versions, their
data on both sides of the change, and hand-computed outcomes, through the scoring module and the
command line.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from tiertui.cli import main
from tiertui.scoring import Certifications, Inputs, Partners, level_timeline, parse_period, parse_program
from tiertui.scoring.evaluate import EVENTS, NEVER

PROGRAMS = Path(__file__).resolve().parents[2] / "fixtures" / "programs"


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _day(text: str) -> int:
    from datetime import date

    return date.fromisoformat(text).toordinal() if text.strip() else NEVER


def build_inputs(folder: Path, metric_files: list[str], partners_file: str = "partners.csv") -> Inputs:
    """The fixture CSVs as scoring inputs; tiers on record by name (read by the first version)."""
    partners = read_rows(folder / partners_file)
    index = {p["partner_id"]: i for i, p in enumerate(partners)}
    cells = []
    for name in metric_files:
        rows = read_rows(folder / name)
        if rows and "metric" in rows[0]:  # long format
            cells += [(r["partner_id"], r["period"], r["metric"], r["value"]) for r in rows]
            continue
        for r in rows:
            cells += [(r["partner_id"], r["period"], m, v) for m, v in r.items() if m not in ("partner_id", "period")]
    periods = sorted({parse_period(c[1]) for c in cells})
    k = {p.label: i for i, p in enumerate(periods)}
    metrics: dict[str, np.ndarray] = {}
    reported: dict[str, np.ndarray] = {}
    for pid, period, metric, value in cells:
        if value.strip():
            metrics.setdefault(metric, np.zeros((len(periods), len(partners))))
            reported.setdefault(metric, np.zeros((len(periods), len(partners)), dtype=bool))
            metrics[metric][k[period], index[pid]] = float(value)
            reported[metric][k[period], index[pid]] = True
    certs = read_rows(folder / "certifications.csv") if (folder / "certifications.csv").exists() else []
    people: dict[str, int] = {}
    return Inputs(
        Partners(
            [p["partner_id"] for p in partners],
            [p["region"] for p in partners],
            [p["partner_type"] for p in partners],
            np.array([index[p["parent_id"]] if p["parent_id"] else -1 for p in partners], dtype=np.int64),
            np.zeros(len(partners), dtype=np.int64),
            record_names=[p["tier"] for p in partners],
        ),
        periods,
        metrics,
        Certifications(
            np.array([index[c["partner_id"]] for c in certs], dtype=np.int64),
            np.array([people.setdefault(c["person"].strip().casefold(), len(people)) for c in certs], dtype=np.int64),
            [c["track"] for c in certs],
            np.array([_day(c["earned_on"]) for c in certs], dtype=np.int64),
            np.array([_day(c["expires_on"]) for c in certs], dtype=np.int64),
        ),
        reported=reported,
    )


def outcomes(results, ids) -> dict[tuple[str, str], tuple]:
    got = {}
    for r in results:
        p = r.program
        for i, pid in enumerate(ids):
            got[(pid, r.period.label)] = (
                p.tiers[int(r.qualified[i])],
                p.tiers[int(r.earned[i])],
                EVENTS[int(r.event[i])],
                bool(r.at_risk[i]),
            )
    return got


# ------------------------------------------------------------------------------ Mitel 2014
# Before 1 July 2014 (before_2014-07.toml): revenue only, over the group; Select 100k, Silver 150k,
# Premium 250k, Gold 300k, Platinum 500k, Diamond 800k; grace 1; margin 10% (a gate g is close
# below 1.1 g). From 2014-Q3 mitel_2014_na.toml, whose outcomes test_fixture_programs.py computes
# from the tiers on record; here the tiers carried at the change replace them.
MITEL_BEFORE = {
    # M1 group = M1 + M2: 300k + 100k = 400k, 290k + 110k = 400k: Gold (record Gold): held
    ("M1", "2014-Q1"): ("Gold", "Gold", "held", False),  # 400k >= 330k: not close
    ("M1", "2014-Q2"): ("Gold", "Gold", "held", False),
    # M2 (Canada) 100k: Select, promoted from Authorized; close: 100k < 110k. Q2 110k: not below 110k
    ("M2", "2014-Q1"): ("Select", "Select", "promoted", True),
    ("M2", "2014-Q2"): ("Select", "Select", "held", False),
    # M3 200k, 210k: Silver (record Silver); 200k >= 165k
    ("M3", "2014-Q1"): ("Silver", "Silver", "held", False),
    ("M3", "2014-Q2"): ("Silver", "Silver", "held", False),
    # M4 900k: Diamond, promoted from Platinum on record; Q2 850k < 880k: close
    ("M4", "2014-Q1"): ("Diamond", "Diamond", "promoted", False),
    ("M4", "2014-Q2"): ("Diamond", "Diamond", "held", True),
    # M5 (Canada) 120k, 130k: Select
    ("M5", "2014-Q1"): ("Select", "Select", "promoted", False),
    ("M5", "2014-Q2"): ("Select", "Select", "held", False),
}
MITEL_AFTER_CHANGED = {
    # Carried at 2014-Q3: M1 Gold, M3 Silver (same names), M4 Diamond -> Platinum (its tier on
    # record, so its outcomes are as before), M2 and M5 Select -> Silver instead of Authorized:
    # M2 qualifies Authorized in 2014-Q3 (score 31.0): below 1 <= grace 1: grace, at risk
    ("M2", "2014-Q3"): ("Authorized", "Silver", "grace", True),
    # M5 qualifies Authorized (33.0): grace; 2014-Q4 qualifies Silver (55.0): held, not promoted
    ("M5", "2014-Q3"): ("Authorized", "Silver", "grace", True),
    ("M5", "2014-Q4"): ("Silver", "Silver", "held", False),
    # unchanged from the one-version outcomes (carried = on record):
    ("M1", "2014-Q3"): ("Gold", "Gold", "held", True),
    ("M4", "2014-Q3"): ("Platinum", "Platinum", "held", True),
    ("M2", "2014-Q4"): ("Gold", "Gold", "promoted", True),
}


def mitel_versions():
    old = PROGRAMS / "mitel_2014_na" / "before_2014-07.toml"
    new = PROGRAMS / "mitel_2014_na.toml"
    return parse_program(old.read_text(), old.name), parse_program(new.read_text(), new.name)


def test_mitel_two_versions_carry_select_to_silver_and_diamond_to_platinum():
    old, new = mitel_versions()
    inputs = build_inputs(PROGRAMS / "mitel_2014_na", ["metrics_2014h1.csv", "metrics.csv"])
    results = level_timeline([old, new], inputs)
    assert [(r.period.label, r.program is new) for r in results] == [
        ("2014-Q1", False),
        ("2014-Q2", False),
        ("2014-Q3", True),
        ("2014-Q4", True),
        ("2015-Q1", True),
    ]
    got = outcomes(results, inputs.partners.ids)
    for key, want in {**MITEL_BEFORE, **MITEL_AFTER_CHANGED}.items():
        assert got[key] == want, key


def test_mitel_the_new_version_alone_does_not_evaluate_the_periods_before_it():
    _, new = mitel_versions()
    inputs = build_inputs(PROGRAMS / "mitel_2014_na", ["metrics_2014h1.csv", "metrics.csv"])
    results = level_timeline([new], inputs)
    assert [r.period.label for r in results] == ["2014-Q3", "2014-Q4", "2015-Q1"]


def test_mitel_command_line_timeline(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'tiertui.db'}"
    folder = PROGRAMS / "mitel_2014_na"

    def run(*args: str) -> str:
        code = main(["--db", url, "--user", "carol", *args])
        out, err = capsys.readouterr()
        assert code == 0, f"tiertui {' '.join(args)} failed: {err}"
        return out

    run("program", "load", str(folder / "before_2014-07.toml"))
    run("import", "partners", str(folder / "partners.csv"))
    run("import", "metrics", str(folder / "metrics_2014h1.csv"))
    run("level")  # levelled with the first version: the load below says whose tiers it carries
    said = run("program", "load", str(PROGRAMS / "mitel_2014_na.toml"))
    assert "in force from 2014-07-01" in said
    assert "Governs no period with data yet" in said
    assert "Select -> Silver: 2 partners" in said
    assert "Diamond -> Platinum: 1 partner" in said
    # the new version's metrics are accepted now; the import re-levels at once
    run("import", "metrics", str(folder / "metrics.csv"))
    run("import", "certifications", str(folder / "certifications.csv"))
    listing = run("program", "list")
    assert "Mitel Partner Program 2013 (Canada and US)" in listing and "2014-Q1 to 2014-Q2" in listing
    assert "from 2014-07-01 (open-ended)" in listing and "2014-Q3 to 2015-Q1 (3 periods)" in listing
    rows = {}
    for period in ("2014-Q2", "2014-Q3"):
        out_file = tmp_path / f"{period}.csv"
        run("export", "scorecards", "--period", period, "-o", str(out_file))
        with out_file.open(newline="", encoding="utf-8") as f:
            for r in list(csv.DictReader(f)):
                rows[(r["partner_id"], period)] = (
                    r["qualified_tier"],
                    r["earned_tier"],
                    r["event"],
                    r["at_risk"] == "true",
                )
    for key in [("M2", "2014-Q2"), ("M4", "2014-Q2"), ("M2", "2014-Q3"), ("M5", "2014-Q3"), ("M4", "2014-Q3")]:
        want = {**MITEL_BEFORE, **MITEL_AFTER_CHANGED}[key]
        assert rows[key] == want, key


@pytest.mark.parametrize("unused", [None])
def test_mitel_a_map_that_leaves_a_tier_on_record_unmapped_is_refused(tmp_path, capsys, unused):
    url = f"sqlite:///{tmp_path / 'tiertui.db'}"
    folder = PROGRAMS / "mitel_2014_na"
    assert main(["--db", url, "--user", "carol", "program", "load", str(folder / "before_2014-07.toml")]) == 0
    for kind, name in (("partners", "partners.csv"), ("metrics", "metrics_2014h1.csv")):
        assert main(["--db", url, "--user", "carol", "import", kind, str(folder / name)]) == 0
    assert main(["--db", url, "--user", "carol", "level"]) == 0
    capsys.readouterr()
    text = (
        (PROGRAMS / "mitel_2014_na.toml")
        .read_text()
        .replace(
            'tiers = { Select = "Silver", Premium = "Gold", Diamond = "Platinum" }', 'tiers = { Select = "Silver" }'
        )
    )
    bad = tmp_path / "no_diamond.toml"
    bad.write_text(text)
    assert main(["--db", url, "--user", "carol", "program", "load", str(bad)]) != 0
    err = capsys.readouterr().err
    assert "'Diamond'" in err and "1 partner" in err


# ------------------------------------------------------------------------------- Poly 2020
# Before 10 April 2020 (before_2020-04.toml): umsatz only, over the group; Silver 100k, Gold 250k,
# Platinum 750k; grace 0. 2020-Q1: P1 group 400k + 50k = 450k Gold (on record Gold), P2 50k
# Authorized, P3 180k Silver, P4 900k Platinum, P5 120k Silver (promoted).
# From 2020-Q2 poly_2020.toml (grace 1), carried: P1 Gold, P2 Register, P3 Silber, P4 Platin,
# P5 Silber; protected 2020-Q2 to 2021-Q1 (each ends on or before 2021-04-10); 2021-Q2 is not.
# Scores and qualified tiers of 2020-Q2..2021-Q1 are those of test_fixture_programs.py (POLY).
POLY_TIMELINE = {
    ("P1", "2020-Q1"): ("Gold", "Gold", "held", False),  # 450k >= 275k
    ("P2", "2020-Q1"): ("Authorized", "Authorized", "held", False),
    ("P3", "2020-Q1"): ("Silver", "Silver", "held", False),  # 180k >= 110k
    ("P4", "2020-Q1"): ("Platinum", "Platinum", "held", False),  # 900k >= 825k
    ("P5", "2020-Q1"): ("Silver", "Silver", "promoted", False),  # 120k >= 110k
    # P1 (floor Gold): Gold, Gold; 2020-Q4 qualifies Silber: at its floor, protected; then Platin
    ("P1", "2020-Q2"): ("Gold", "Gold", "held", True),
    ("P1", "2020-Q4"): ("Silber", "Gold", "protected", True),
    ("P1", "2021-Q1"): ("Platin", "Platin", "promoted", True),
    ("P1", "2021-Q2"): ("Platin", "Platin", "held", True),
    # 2021-Q2: 700k + 100k = 800k: 40; demo 4: 25; deals 12: 25 -> 90; vertrieb 3, technik
    # {Emil, Dirk} 2: Platin; vertrieb 3 < 3.3: at risk
    # P2 (floor Register) rises during protection, to Silber in 2020-Q3; above its floor, the
    # usual rule: grace in 2020-Q4 (below 1), demoted in 2021-Q1 (below 2 > 1) to Register
    ("P2", "2020-Q3"): ("Silber", "Silber", "promoted", True),
    ("P2", "2020-Q4"): ("Register", "Silber", "grace", True),
    ("P2", "2021-Q1"): ("Register", "Register", "demoted", False),
    ("P2", "2021-Q2"): ("Register", "Register", "held", False),  # 5 + 6.25 + 5 = 16.25
    # P3 (floor Silber) rises to Gold in 2020-Q2 (CEE variant); 2020-Q4 Silber: grace, not protected
    ("P3", "2020-Q2"): ("Gold", "Gold", "promoted", True),
    ("P3", "2020-Q4"): ("Silber", "Gold", "grace", True),
    ("P3", "2021-Q1"): ("Gold", "Gold", "held", True),
    ("P3", "2021-Q2"): ("Gold", "Gold", "held", True),  # 13 + 18.75 + 22.5 = 54.25; vertrieb 1 < 1.1
    # P4 (floor Platin) qualifies Gold throughout: protected four quarters (below 1..4), then
    # demoted in the first period after protection (below 5 > 1): no new grace
    ("P4", "2020-Q2"): ("Gold", "Platin", "protected", True),
    ("P4", "2020-Q3"): ("Gold", "Platin", "protected", True),
    ("P4", "2020-Q4"): ("Gold", "Platin", "protected", True),
    ("P4", "2021-Q1"): ("Gold", "Platin", "protected", True),
    ("P4", "2021-Q2"): ("Gold", "Gold", "demoted", True),  # 35 + 25 + 15 = 75; technik 1 < 1.1
    # P5 (floor Silber) qualifies Register in 2020-Q2 (21.25): protected; Silber again after
    ("P5", "2020-Q2"): ("Register", "Silber", "protected", True),
    ("P5", "2020-Q3"): ("Silber", "Silber", "held", True),
    ("P5", "2020-Q4"): ("Silber", "Silber", "held", False),
    ("P5", "2021-Q2"): ("Silber", "Silber", "held", False),  # 15 + 12.5 + 15 = 42.5
}
POLY_BELOW = {("P4", "2020-Q2"): 1, ("P4", "2020-Q3"): 2, ("P4", "2020-Q4"): 3, ("P4", "2021-Q1"): 4}
POLY_FILES = ["metrics_2020q1.csv", "metrics.csv", "metrics_2021q2.csv"]


def poly_versions():
    old = PROGRAMS / "poly_2020" / "before_2020-04.toml"
    new = PROGRAMS / "poly_2020.toml"
    return parse_program(old.read_text(), old.name), parse_program(new.read_text(), new.name)


def test_poly_keeps_every_level_until_10_april_2021_and_lets_partners_rise():
    old, new = poly_versions()
    inputs = build_inputs(PROGRAMS / "poly_2020", POLY_FILES, "partners_before.csv")
    results = level_timeline([old, new], inputs)
    assert [r.period.label for r in results] == ["2020-Q1", "2020-Q2", "2020-Q3", "2020-Q4", "2021-Q1", "2021-Q2"]
    assert [r.floor is not None for r in results] == [False, True, True, True, True, False]
    got = outcomes(results, inputs.partners.ids)
    for key, want in POLY_TIMELINE.items():
        assert got[key] == want, key
    p4 = inputs.partners.ids.index("P4")
    for (_pid, period), below in POLY_BELOW.items():
        r = next(r for r in results if r.period.label == period)
        assert int(r.below[p4]) == below
    assert [float(results[-1].score[i]) for i in range(5)] == [90.0, 16.25, 54.25, 75.0, 42.5]


# ------------------------------------------------------------------ Microsoft Solutions Partner
# Each area: performance (<= 30) + skilling (<= 40) + customer success (<= 30) points, min 70,
# every component above 0; kept 5 further months. Solutions Partner: designations >= 1 (margin
# 10%: one designation is below the band edge 1.1, so at risk); badge at 3 designations; grace 0.
MS_MONTHS = [f"2024-0{i}" for i in range(1, 8)]
DATA_AI, SECURITY = "Data & AI (Azure)", "Security"
FABRIKAM = ("Business Applications", "Infrastructure (Azure)", "Modern Work")


def microsoft():
    path = PROGRAMS / "microsoft_solutions_partner.toml"
    return parse_program(path.read_text(), path.name)


def test_microsoft_designations_keep_periods_and_every_component_above_zero():
    prog = microsoft()
    inputs = build_inputs(PROGRAMS / "microsoft_solutions_partner", ["metrics.csv"])
    results = level_timeline([prog], inputs)
    assert [r.period.label for r in results] == MS_MONTHS
    ms1, ms2, ms3 = 0, 1, 2
    # MS1 Data & AI: January 20 + 30 + 25 = 75, met; February on 20 + 10 + 25 = 55, not met; held
    # through June (January + 5 months), not in July
    assert [bool(r.designation_met[DATA_AI][ms1]) for r in results] == [True] + [False] * 6
    assert [float(r.values["designation:" + DATA_AI][ms1]) for r in results] == [1] * 6 + [0]
    got = outcomes(results, inputs.partners.ids)
    assert got[("MS1", "2024-01")] == ("Solutions Partner", "Solutions Partner", "promoted", True)
    assert got[("MS1", "2024-06")] == ("Solutions Partner", "Solutions Partner", "held", True)
    assert got[("MS1", "2024-07")] == ("Member", "Member", "demoted", False)
    # MS2: Security 30 + 40 + 0 = 70 but customer success is 0: not met; Modern Work 25 + 25 + 20 =
    # 70: met (70 >= 70); Infrastructure 100; Business Applications 30 + 30 + 15 = 75: three held
    for r in results:
        assert not r.designation_met[SECURITY][ms2]
        assert float(r.values["designations"][ms2]) == 3
        assert bool(r.badges[0, ms2]) and not r.badges[0, ms1]
    assert got[("MS2", "2024-01")] == ("Solutions Partner", "Solutions Partner", "promoted", False)
    assert got[("MS2", "2024-07")] == ("Solutions Partner", "Solutions Partner", "held", False)
    # MS3: 10 performance points only in Digital & App Innovation: nothing
    assert {got[("MS3", m)] for m in MS_MONTHS} == {("Member", "Member", "held", False)}
    assert float(results[0].values["designations"][ms3]) == 0


def test_microsoft_scorecard_shows_the_keep_window():
    from tiertui.scoring import explain

    prog = microsoft()
    inputs = build_inputs(PROGRAMS / "microsoft_solutions_partner", ["metrics.csv"])
    r = level_timeline([prog], inputs)[2]  # 2024-03
    last = {d: (MS_MONTHS[int(v[0])] if v[0] >= 0 else None) for d, v in r.designation_last.items()}
    card = explain(
        prog,
        "EMEA",
        "SI",
        {m: float(v[0]) for m, v in r.values.items()},
        "2024-03",
        int(r.earned[0]),
        int(r.event[0]),
        designation_last=last,
    )
    line = next(d for d in card.designations if d.name == DATA_AI)
    assert line.text() == (
        "Data & AI (Azure): held, last met in 2024-01 (kept 5 further periods, through 2024-06), score 55.00 of 100"
    )
    assert line.gap_texts() == ["Score: 55.00 of 70 — 15.00 more points"]
    assert card.designations_held == (DATA_AI,)


# ------------------------------------------------------------------------------- Cisco 360
# Before 2026-02-01: bookings only; Select 100k, Premier 500k, Gold 1M; grace 0.
# From 2026-Q1: index = 2.5 x (foundational + capabilities + performance + engagement) / 100;
# Cisco Partner 5.0, Preferred 7.5; grace 1; margin 10% (score edges 5.5, 8.25); protected
# 2026-Q1 to 2027-Q2 (ends <= 2027-07-31) at the highest tier over the 4 periods before launch.
P, PP, R = "Cisco Partner", "Cisco Preferred Partner", "Registered"
CISCO = {
    # CX Gold on record: 1.2M Gold held; 600k Premier: demoted (grace 0)
    ("CX", "2025-Q3"): ("Gold", "Gold", "held", False),  # 1.2M >= 1.1M
    ("CX", "2025-Q4"): ("Premier", "Premier", "demoted", False),  # 600k >= 550k
    # carried Premier -> Cisco Partner; floor = max(Gold -> Preferred, Premier -> Partner) = Preferred,
    # above the index 6.0 it qualifies for (Partner): raised to Preferred, protected (below 1, 2, 3)
    ("CX", "2026-Q1"): (P, PP, "protected", True),
    ("CX", "2026-Q2"): (P, PP, "protected", True),
    ("CX", "2027-Q2"): (P, PP, "protected", True),
    # first period after protection: below 4 > grace 1: demoted to Partner; 6.0 >= 5.5: not at risk
    ("CX", "2027-Q3"): (P, P, "demoted", False),
    # CY Select (floor Partner), index 8.0 in 2026-Q1: promoted during protection (8.0 < 8.25: at
    # risk); 4.0 after: above its floor, so grace (below 1), then demoted to its floor Partner, not
    # to Registered (below 2 > 1); 2027-Q3 unprotected: 4.0 below Partner: grace (below 1)
    ("CY", "2025-Q4"): ("Select", "Select", "held", False),
    ("CY", "2026-Q1"): (PP, PP, "promoted", True),
    ("CY", "2026-Q2"): (R, PP, "grace", True),
    ("CY", "2027-Q2"): (R, P, "demoted", True),  # in Partner with 4.0 < 5.5
    ("CY", "2027-Q3"): (R, P, "grace", True),
    # CZ Registered; index 7.5 exactly: Preferred (7.5 >= 7.5), 7.5 < 8.25: at risk
    ("CZ", "2025-Q4"): (R, R, "held", False),
    ("CZ", "2026-Q1"): (PP, PP, "promoted", True),
    ("CZ", "2027-Q3"): (PP, PP, "held", True),
}


def test_cisco_360_protects_the_highest_level_before_launch_for_18_months():
    old = parse_program((PROGRAMS / "cisco_360" / "before_2026-02.toml").read_text())
    new = parse_program((PROGRAMS / "cisco_360.toml").read_text())
    inputs = build_inputs(PROGRAMS / "cisco_360", ["metrics.csv"])
    results = level_timeline([new, old], inputs)
    assert [r.period.label for r in results] == ["2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2", "2027-Q2", "2027-Q3"]
    assert [float(results[2].score[i]) for i in range(3)] == [6.0, 8.0, 7.5]
    got = outcomes(results, inputs.partners.ids)
    for key, want in CISCO.items():
        assert got[key] == want, key
    assert [int(r.below[0]) for r in results[2:]] == [1, 2, 3, 0]
    assert [int(x) for x in results[2].floor] == [2, 1, 0]


# ----------------------------------------------------------------------------- Avaya Connect
# 2015 under the version before (revenue only, group; Gold 500k, Platinum 1M; grace 0): A1 800k +
# A2 550k = 1.35M Platinum, A2 550k Gold (not below the band edge 550k), A3 600k Gold, A4 200k and
# A5 100k Silver: every partner holds its tier on record. Carried by name into the version of
# 1 October 2016 (scores and qualified tiers as in test_fixture_programs.py, AVAYA); 2016 ends
# before 2017-09-30: protected; 2017 is not.
AVAYA_TIMELINE = {
    ("A1", "2015"): ("Platinum", "Platinum", "held", False),
    ("A2", "2015"): ("Gold", "Gold", "held", False),
    ("A5", "2015"): ("Silver", "Silver", "held", False),
    ("A1", "2016"): ("Platinum", "Platinum", "held", True),  # designations 3 < 3.3
    ("A2", "2016"): ("Silver", "Gold", "protected", True),
    ("A3", "2016"): ("Silver", "Gold", "protected", True),
    ("A4", "2016"): ("Registered", "Silver", "protected", True),
    ("A5", "2016"): ("Registered", "Silver", "protected", True),
    # after the transition year: the counter as it stands (A2 below 2 > 1: demoted at once)
    ("A1", "2017"): ("Gold", "Platinum", "grace", True),
    ("A2", "2017"): ("Silver", "Silver", "demoted", True),
    ("A3", "2017"): ("Gold", "Gold", "held", True),
    ("A4", "2017"): ("Silver", "Silver", "held", True),
    ("A5", "2017"): ("Silver", "Silver", "held", True),  # qualifies again: held, not promoted
}


def test_avaya_one_year_transition_protects_and_specializations_count():
    old = parse_program((PROGRAMS / "avaya_connect" / "before_2016-10.toml").read_text())
    new = parse_program((PROGRAMS / "avaya_connect.toml").read_text())
    inputs = build_inputs(PROGRAMS / "avaya_connect", ["metrics_2015.csv", "metrics.csv"])
    results = level_timeline([old, new], inputs)
    assert [r.period.label for r in results] == ["2015", "2016", "2017"]
    got = outcomes(results, inputs.partners.ids)
    for key, want in AVAYA_TIMELINE.items():
        assert got[key] == want, key
    assert [float(results[1].values["designations"][i]) for i in range(5)] == [3, 1, 1, 0, 0]
    assert [float(results[2].values["designations"][i]) for i in range(5)] == [2, 1, 2, 1, 1]
    assert [float(results[2].score[i]) for i in range(5)] == [84.0, 48.0, 70.0, 52.0, 43.0]


def test_status_lists_the_periods_before_the_earliest_version(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'tiertui.db'}"
    folder = PROGRAMS / "mitel_2014_na"
    for args in (
        ("program", "load", str(PROGRAMS / "mitel_2014_na.toml")),
        ("import", "partners", str(folder / "partners.csv")),
        ("import", "metrics", str(folder / "metrics_2014h1.csv")),
        ("import", "metrics", str(folder / "metrics.csv")),
        ("level",),
    ):
        assert main(["--db", url, "--user", "carol", *args]) == 0
    capsys.readouterr()
    assert main(["--db", url, "--user", "carol", "status"]) == 0
    out = capsys.readouterr().out
    assert "Not evaluated (before the earliest version's effective_from): 2014-Q1, 2014-Q2" in out
    assert main(["--db", url, "--user", "carol", "export", "scorecards", "--period", "2014-Q2"]) != 0
