"""Every rule of levelling.md §3, with small hand-computed expectations.

The base program (tests/scoring_builder.py): score = 60 * min(revenue / 1000, 1) + 40 * min(cert:uc / 4, 1);
Silver: score >= 20; Gold: score >= 50, revenue >= 500, cert:uc >= 2, escalations <= 10, with variants
LATAM (revenue >= 250, min_score 40), LATAM+MSP (revenue >= 100), MSP (escalations <= 20);
Platinum: score >= 90, revenue >= 900.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from scoring_builder import Case, Cert, P, events_of, program, tiers_of

from tiertui.scoring import EvaluationError, explain, level, parse_period
from tiertui.scoring.evaluate import GRACE

Q = ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]


def run(case: Case, **kw):
    prog = program(**kw)
    return prog, level(prog, case.inputs(prog))


# --------------------------------------------------------------------- §3.3 score


def test_score_is_linear_below_target_capped_at_target_and_never_negative():
    case = Case(
        [P("A"), P("B"), P("C"), P("D")],
        ["2026-Q1"],
        {
            ("A", "2026-Q1"): {"revenue": 250},  # 60 * 0.25 = 15
            ("B", "2026-Q1"): {"revenue": 5000},  # capped: 60
            ("C", "2026-Q1"): {"revenue": -300},  # max(value, 0): 0
            ("D", "2026-Q1"): {"revenue": 333},  # 60 * 0.333 = 19.98
        },
    )
    _, [r] = run(case)
    assert r.score.tolist() == [15.0, 60.0, 0.0, 19.98]


# ------------------------------------------------------------ §3.4 variants merging


def test_variants_replace_named_gates_keep_the_rest_and_first_match_wins():
    m = {"cert:uc": 0}
    parts = [
        P("A", "EMEA", "VAR"),  # base rule: revenue 400 < 500 -> Silver
        P("B", "LATAM", "VAR"),  # LATAM variant: revenue 400 >= 250, score 64 >= 40 -> Gold
        P("C", "LATAM", "MSP"),  # LATAM variant wins over LATAM+MSP: 200 < 250 -> Silver
        P("D", "EMEA", "MSP"),  # MSP variant: escalations 15 <= 20 (base max 10 replaced) -> Gold
        P("E", "LATAM", "VAR"),  # base uc gate stays: 1 < 2 -> Silver
        P("F", "latam", "var"),  # names match case-insensitively -> Gold like B
        P("G", "LATAM", "VAR"),  # min_score replaced by 40: score 48 -> Gold
    ]
    case = Case(
        parts,
        ["2026-Q1"],
        {
            ("A", "2026-Q1"): {"revenue": 400},
            ("B", "2026-Q1"): {"revenue": 400},
            ("C", "2026-Q1"): {"revenue": 200},
            ("D", "2026-Q1"): {"revenue": 600, "escalations": 15},
            ("E", "2026-Q1"): {"revenue": 300},
            ("F", "2026-Q1"): {"revenue": 400},
            ("G", "2026-Q1"): {"revenue": 300},
        },
        certs=[
            Cert(p.id, f"{p.id}-{i}", "uc", date(2025, 1, 1))
            for p in parts
            for i in range({"A": 4, "B": 4, "C": 4, "D": 4, "E": 1, "F": 4, "G": 3}[p.id])
        ],
    )
    del m
    prog, [r] = run(case)
    assert [prog.tiers[t] for t in r.qualified] == ["Silver", "Gold", "Silver", "Gold", "Silver", "Gold", "Gold"]
    # scores: 24+40, 24+40, 12+40, 36+40, 18+10, 24+40, 18+30
    assert r.score.tolist() == [64, 64, 52, 76, 28, 64, 48]


def test_qualified_is_the_highest_tier_met_even_if_a_lower_one_is_not():
    # Platinum needs score >= 90 and revenue >= 900; Gold additionally needs cert:uc >= 2.
    case = Case(
        [P("A")], ["2026-Q1"], {("A", "2026-Q1"): {"revenue": 1000}}, certs=[Cert("A", "x", "uc", date(2020, 1, 1))] * 1
    )
    prog, [r] = run(case)
    # score 60 + 10 = 70: Gold fails on cert gate (1 < 2), Platinum on score: Silver
    assert prog.tiers[int(r.qualified[0])] == "Silver"


# ------------------------------------------------------------- §3.2 group values


def test_rollup_sums_three_levels_deep_and_none_keeps_own_value():
    case = Case(
        [P("R"), P("C", parent="R"), P("G", parent="C"), P("GG", parent="G"), P("X")],
        ["2026-Q1"],
        {
            ("R", "2026-Q1"): {"revenue": 100, "escalations": 5},
            ("C", "2026-Q1"): {"revenue": 200, "escalations": 50},
            ("G", "2026-Q1"): {"revenue": 300, "escalations": 50},
            ("GG", "2026-Q1"): {"revenue": 400, "escalations": 50},
            ("X", "2026-Q1"): {"revenue": 7},
        },
    )
    _, [r] = run(case)
    assert r.values["revenue"].tolist() == [1000, 900, 700, 400, 7]
    assert r.values["escalations"].tolist() == [5, 50, 50, 50, 0]


def test_a_missing_value_counts_as_zero():
    case = Case([P("A"), P("B")], ["2026-Q1"], {("A", "2026-Q1"): {"revenue": 500}})
    _, [r] = run(case)
    assert r.values["revenue"].tolist() == [500, 0]
    assert r.score.tolist() == [30, 0]


def test_certifications_active_at_the_period_end_count_distinct_people_over_the_group():
    end = date(2026, 3, 31)
    case = Case(
        [P("R"), P("S", parent="R")],
        ["2026-Q1", "2026-Q2"],
        certs=[
            Cert("R", "ann", "uc", date(2025, 1, 1), end),  # expires on the last day: counts in Q1
            Cert("R", "bob", "uc", date(2025, 1, 1), date(2026, 3, 30)),  # expired the day before: never
            Cert("S", "cid", "uc", end),  # earned on the last day: counts
            Cert("S", "dee", "uc", date(2026, 4, 1)),  # earned after Q1: only Q2
            Cert("S", "ann", "uc", date(2025, 6, 1)),  # ann again, in the subsidiary: one person
            Cert("S", "eve", "cloud", date(2025, 1, 1)),  # another track
        ],
    )
    _, (q1, q2) = run(case)
    assert q1.values["cert:uc"].tolist() == [2, 2]  # R: {ann, cid}; S: {cid, ann}
    assert q2.values["cert:uc"].tolist() == [3, 3]  # ann (via S), cid, dee


# ------------------------------------------------------------ §3.6 earned and grace


def _slipping(grace: int, qualifying: list[float]):
    """A Gold partner on record whose revenue per quarter is given; 4 uc people throughout."""
    case = Case(
        [P("A", tier="Gold")],
        Q[: len(qualifying)],
        {("A", q): {"revenue": v} for q, v in zip(Q, qualifying)},
        certs=[Cert("A", f"p{i}", "uc", date(2020, 1, 1)) for i in range(4)],
    )
    return run(case, grace=grace)


@pytest.mark.parametrize(
    "grace, earned, events",
    [
        (0, ["Silver"] * 3, ["demoted", "held", "held"]),
        (1, ["Gold", "Silver", "Silver"], ["grace", "demoted", "held"]),
        (2, ["Gold", "Gold", "Silver"], ["grace", "grace", "demoted"]),
    ],
)
def test_grace_periods_delay_demotion(grace, earned, events):
    # revenue 100: score 6 + 40 = 46 < 50: qualifies Silver only
    prog, results = _slipping(grace, [100, 100, 100])
    assert tiers_of(prog, results, "earned", 0) == earned
    assert events_of(results, 0) == events
    assert [prog.tiers[int(r.effective[0])] for r in results] == earned


def test_qualifying_again_during_grace_resets_the_counter():
    # grace 1: Q1 Silver-only (grace), Q2 Gold again (held, counter reset), Q3 Silver-only (grace, not demoted)
    prog, results = _slipping(1, [100, 600, 100])
    assert tiers_of(prog, results, "earned", 0) == ["Gold", "Gold", "Gold"]
    assert events_of(results, 0) == ["grace", "held", "grace"]
    assert [int(r.below[0]) for r in results] == [1, 0, 1]


def test_promotion_during_grace_lifts_the_tier_and_resets_the_counter():
    # grace 2: Q1 Silver-only (grace 1), Q2 Platinum (1000 rev: 60 + 40 = 100), Q3 Silver-only (grace 1 of Platinum)
    prog, results = _slipping(2, [100, 1000, 100])
    assert tiers_of(prog, results, "earned", 0) == ["Gold", "Platinum", "Platinum"]
    assert events_of(results, 0) == ["grace", "promoted", "grace"]
    assert [int(r.below[0]) for r in results] == [1, 0, 1]


def test_levelling_starts_from_the_tier_on_record_each_time():
    prog, first = _slipping(0, [600, 600])
    _, again = _slipping(0, [600, 600])
    assert events_of(first, 0) == events_of(again, 0) == ["held", "held"]


# ------------------------------------------------------------------ §3.7 overrides


def test_override_window_and_the_one_approved_last_wins():
    case = Case(
        [P("A")],
        ["2026-Q1", "2026-Q2", "2026-Q3"],
        overrides=[
            (1, "A", "Platinum", date(2026, 3, 31), date(2026, 6, 30), 1),  # holds Q1 and Q2 ends exactly
            (2, "A", "Silver", date(2026, 5, 1), None, 2),  # approved later: wins Q2, open-ended: Q3
            (3, "A", "Gold", date(2026, 7, 1), date(2026, 9, 29), 3),  # ends before Q3's end: never
        ],
    )
    prog, results = run(case)
    assert tiers_of(prog, results, "effective", 0) == ["Platinum", "Silver", "Silver"]
    assert [int(r.override[0]) for r in results] == [1, 2, 2]
    assert tiers_of(prog, results, "earned", 0) == ["Authorized"] * 3


def test_override_never_changes_earned_tier_or_grace_counter():
    case = Case(
        [P("A", tier="Gold")],
        ["2026-Q1", "2026-Q2"],
        {("A", q): {"revenue": 100} for q in ["2026-Q1", "2026-Q2"]},
        certs=[Cert("A", f"p{i}", "uc", date(2020, 1, 1)) for i in range(4)],
        overrides=[(9, "A", "Gold", date(2026, 1, 1), None, 1)],
    )
    prog, results = run(case, grace=1)
    assert tiers_of(prog, results, "earned", 0) == ["Gold", "Silver"]
    assert events_of(results, 0) == ["grace", "demoted"]
    assert tiers_of(prog, results, "effective", 0) == ["Gold", "Gold"]


# ------------------------------------------------------------------- §3.8 at risk


@pytest.mark.parametrize(
    "revenue, escalations, expected",
    [
        (550, 0, False),  # 550 is not < 500 * 1.1
        (549, 0, True),  # gate within 10%
        (600, 9, False),  # 9 is not > 10 * 0.9
        (600, 9.5, True),  # maximum within 10%
    ],
)
def test_at_risk_near_a_gate_or_maximum_of_the_earned_tier(revenue, escalations, expected):
    case = Case(
        [P("A", tier="Gold")],
        ["2026-Q1"],
        {("A", "2026-Q1"): {"revenue": revenue, "escalations": escalations}},
        certs=[Cert("A", f"p{i}", "uc", date(2020, 1, 1)) for i in range(4)],
    )
    prog, [r] = run(case)
    assert prog.tiers[int(r.earned[0])] == "Gold"
    assert bool(r.at_risk[0]) is expected


@pytest.mark.parametrize("revenue, expected", [(350, True), (366, True), (367, False), (400, False)])
def test_at_risk_near_the_min_score(revenue, expected):
    # Silver: score >= 20, at risk below 22. 350 -> 21, 366 -> 21.96, 367 -> 22.02, 400 -> 24.
    case = Case([P("A", tier="Silver")], ["2026-Q1"], {("A", "2026-Q1"): {"revenue": revenue}})
    prog, [r] = run(case)
    assert prog.tiers[int(r.earned[0])] == "Silver"
    assert bool(r.at_risk[0]) is expected


def test_grace_is_always_at_risk_and_the_entry_tier_never_is_otherwise():
    case = Case(
        [P("A", tier="Gold"), P("B")],
        ["2026-Q1"],
        {("A", "2026-Q1"): {"revenue": 1000}},  # qualifies Silver only (no uc people): grace
    )
    prog, [r] = run(case, grace=2)
    assert int(r.event[0]) == GRACE
    assert r.at_risk.tolist() == [True, False]


# --------------------------------------------------------------------- §3.9 badges


def test_badges_at_or_above_min_on_group_values():
    case = Case(
        [P("R"), P("S", parent="R")],
        ["2026-Q1"],
        {("R", "2026-Q1"): {"revenue": 500, "csat": 90}, ("S", "2026-Q1"): {"revenue": 300, "csat": 95}},
    )
    prog, [r] = run(case)
    # rows in program order, columns R, S: Happy Customers (csat >= 90, rollup none: R 90, S 95),
    # Big Seller (revenue >= 800, summed: R 500 + 300 = 800, S 300)
    assert r.badges.tolist() == [[True, True], [True, False]]
    card = explain(prog, "", "", {m: float(v[0]) for m, v in r.values.items()}, "2026-Q1", 0, 1)
    assert card.badges == ("Big Seller", "Happy Customers")  # sorted by name


# ----------------------------------------------------------------- §3.10 the gap


def test_gap_to_next_tier_lists_unmet_requirements_and_score_shortfall():
    case = Case(
        [P("A", tier="Silver")],
        ["2026-Q1"],
        {("A", "2026-Q1"): {"revenue": 400, "escalations": 12}},
        certs=[Cert("A", "p", "uc", date(2020, 1, 1))],
    )
    prog, [r] = run(case)
    card = explain(
        prog, "", "", {m: float(v[0]) for m, v in r.values.items()}, "2026-Q1", int(r.earned[0]), int(r.event[0])
    )
    # score = 24 + 10 = 34: Gold needs 50 (16 short), revenue 500 (100 short), uc 2 (1 short), escalations <= 10 (2 over)
    assert card.score == 34
    assert card.gap.tier == "Gold"
    shortfalls = {(c.kind, c.metric): c.shortfall for c in card.gap.unmet}
    assert shortfalls == {
        ("min_score", "score"): 16,
        ("gate", "revenue"): 100,
        ("gate", "cert:uc"): 1,
        ("maximum", "escalations"): 2,
    }
    assert card.gap.score_shortfall == 16


def test_no_gap_at_the_top_tier():
    case = Case(
        [P("A")],
        ["2026-Q1"],
        {("A", "2026-Q1"): {"revenue": 1000}},
        certs=[Cert("A", f"p{i}", "uc", date(2020, 1, 1)) for i in range(4)],
    )
    prog, [r] = run(case)
    card = explain(
        prog, "", "", {m: float(v[0]) for m, v in r.values.items()}, "2026-Q1", int(r.earned[0]), int(r.event[0])
    )
    assert card.earned == "Platinum" and card.gap is None


# ---------------------------------------------------------------- §3.1 periods


@pytest.mark.parametrize(
    "label, end, frequency",
    [
        ("2026-Q3", date(2026, 9, 30), "quarterly"),
        ("2024-Q1", date(2024, 3, 31), "quarterly"),
        ("2024-02", date(2024, 2, 29), "monthly"),
        ("2026-02", date(2026, 2, 28), "monthly"),
        ("2026", date(2026, 12, 31), "annual"),
    ],
)
def test_period_ends_on_its_last_calendar_day(label, end, frequency):
    period = parse_period(label)
    assert (period.end, period.frequency) == (end, frequency)


@pytest.mark.parametrize("frequency, periods", [("monthly", ["2026-01", "2026-02"]), ("annual", ["2025", "2026"])])
def test_monthly_and_annual_programs_evaluate_their_own_grid(frequency, periods):
    case = Case(
        [P("A")],
        periods,
        certs=[Cert("A", "p", "uc", date(2020, 1, 1), parse_period(periods[0]).end)],
    )
    prog, results = run(case, frequency=frequency)
    assert [r.values["cert:uc"][0] for r in results] == [1, 0]  # expires on the first period's last day


def test_periods_of_another_frequency_are_refused():
    case = Case([P("A")], ["2026-07"])
    with pytest.raises(EvaluationError, match="2026-07 is monthly but the program 'Test' is quarterly"):
        run(case)


def test_parent_cycle_is_refused():
    case = Case([P("A", parent="B"), P("B", parent="A")], ["2026-Q1"])
    with pytest.raises(EvaluationError, match="cycle"):
        run(case)


def test_periods_are_evaluated_oldest_first_whatever_order_they_come_in():
    case = Case([P("A")], ["2026-Q2", "2026-Q1"])
    prog = program()
    inputs = case.inputs(prog)
    inputs.periods = sorted(inputs.periods)
    assert [r.period.label for r in level(prog, inputs)] == ["2026-Q1", "2026-Q2"]
    assert np.all(level(prog, inputs)[0].score == 0)
