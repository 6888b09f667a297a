"""The rules spec version 2 adds to §3, each with small hand-computed expectations.

§3.0 numbers (6-decimal comparisons, half away from zero; the score shown to two decimals),
§3.1 missing = "previous" and reported-versus-missing, §3.2 person identity, flags
(unit = "yes/no", rollup = "any", no margin), §3.8 lapse risk, and the scorecard's plain words.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from scoring_builder import Case, Cert, P, program

from tiertui.scoring import explain, lapsing_people, level, own_sources, parse_program, score_number, score_text
from tiertui.scoring.evaluate import GRACE, HELD
from tiertui.scoring.numbers import flag_errors, round6, value_text

Q = ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]


def small(body: str, tiers: str = '["Registered", "Gold"]', margin: float = 0.1, grace: int = 1):
    return parse_program(
        f'[program]\nname = "T"\ngrace_periods = {grace}\nat_risk_margin = {margin}\ntiers = {tiers}\n' + body
    )


def card_for(prog, r, i: int = 0, region: str = "", ptype: str = "", **kw):
    return explain(
        prog,
        region,
        ptype,
        {m: float(v[i]) for m, v in r.values.items()},
        r.period.label,
        int(r.earned[i]),
        int(r.event[i]),
        int(r.below[i]),
        **kw,
    )


# ----------------------------------------------------------------------- §3.0 numbers


def test_round6_is_half_away_from_zero_and_removes_float_noise():
    assert 400 * 1.1 == 440.00000000000006 and round6(400 * 1.1) == 440.0
    assert round6(0.0000005) == 0.000001  # np.round would give 0.0 (half to even)
    assert round6(-0.0000005) == -0.000001
    assert round6(0.0000015) == 0.000002 and round6(0.0000025) == 0.000003
    assert round6(1.2345674) == 1.234567
    assert np.isnan(round6(np.nan))
    assert round6(np.array([0.1 + 0.2, 0.7 - 0.4])).tolist() == [0.3, 0.3]


@pytest.mark.parametrize(
    "x, shown",
    [
        (2.675, "2.68"),
        (49.995, "50.00"),
        (49.994999, "49.99"),
        (0.005, "0.01"),
        (100, "100.00"),
        (1234.5, "1234.50"),
        (0.004999, "0.00"),
    ],
)
def test_the_score_is_shown_half_away_from_zero_from_its_6_decimal_value(x, shown):
    assert score_text(x) == shown
    assert score_number(x) == float(shown.replace(",", ""))


def test_107_points_at_target_40_with_value_1_is_2_675_shown_2_68():
    prog = small(
        "[metrics.m]\n[[score]]\nmetric = 'm'\npoints = 107\ntarget = 40\n[requirements.Gold]\nmin_score = 2.68\n"
    )
    _, [r] = _level(prog, Case([P("A")], ["2026-Q1"], {("A", "2026-Q1"): {"m": 1}}))
    assert r.score[0] == 2.675
    assert score_text(r.score[0]) == "2.68"  # f"{2.675:.2f}" would say 2.67
    assert int(r.qualified[0]) == 0  # shown 2.68, but 2.675 < 2.68: the 6-decimal value decides


def test_a_score_shown_50_00_is_49_995_and_misses_a_minimum_of_50():
    prog = small(
        "[metrics.m]\n[[score]]\nmetric = 'm'\npoints = 99.99\ntarget = 2\n[requirements.Gold]\nmin_score = 50\n"
    )
    _, [r] = _level(prog, Case([P("A")], ["2026-Q1"], {("A", "2026-Q1"): {"m": 1}}))
    assert r.score[0] == 49.995 and score_text(r.score[0]) == "50.00"
    assert int(r.qualified[0]) == 0


GATE_400 = """
[metrics.revenue]
unit = "USD"
[metrics.escalations]
rollup = "none"
[metrics.quality]
rollup = "none"
[[score]]
metric = "quality"
points = 60
target = 0.3
[requirements.Gold]
gates = { revenue = 400, quality = 0.3 }
maxima = { escalations = 12 }
[[badges]]
name = "Quality"
metric = "quality"
min = 0.3
"""


@pytest.mark.parametrize(
    "revenue, escalations, at_risk",
    [
        (440, 0, False),  # band edge 400 * 1.1 = 440.00000000000006 in floats; 440 is not below 440
        (439.999999, 0, True),
        (440, 10.8, False),  # maximum band edge 12 * 0.9 = 10.8: 10.8 is not above it
        (440, 10.800001, True),
        (440, 10.799999, False),
    ],
)
def test_at_risk_band_edges_compare_6_decimal_values(revenue, escalations, at_risk):
    prog = small(GATE_400)
    case = Case(
        [P("A", tier="Gold")],
        ["2026-Q1"],
        {("A", "2026-Q1"): {"revenue": revenue, "escalations": escalations, "quality": 1}},
    )
    _, [r] = _level(prog, case)
    assert (int(r.earned[0]), int(r.event[0])) == (1, HELD)
    assert bool(r.at_risk[0]) is at_risk
    assert card_for(prog, r).at_risk is at_risk


@pytest.mark.parametrize("escalations, at_risk", [(2.1, False), (2.100001, True), (3, True)])
def test_a_maximum_band_edge_with_float_noise(escalations, at_risk):
    # maximum 3, margin 0.3: the band edge 3 * (1 - 0.3) is 2.0999999999999996 in floats, 2.1 exactly
    assert 3 * (1 - 0.3) < 2.1
    prog = small(GATE_400.replace("escalations = 12", "escalations = 3"), margin=0.3)
    case = Case(
        [P("A", tier="Gold")],
        ["2026-Q1"],
        {("A", "2026-Q1"): {"revenue": 1000, "escalations": escalations, "quality": 1}},
    )
    _, [r] = _level(prog, case)
    assert (int(r.earned[0]), bool(r.at_risk[0])) == (1, at_risk)


def test_a_gate_a_badge_and_a_target_cap_met_by_a_value_with_float_noise():
    # quality summed over a parent (0.7) and its subsidiary (a credit of -0.4): 0.29999999999999993
    prog = small(GATE_400.replace('[metrics.quality]\nrollup = "none"', "[metrics.quality]"))
    case = Case(
        [P("A"), P("S", parent="A")],
        ["2026-Q1"],
        {("A", "2026-Q1"): {"revenue": 500, "quality": 0.7}, ("S", "2026-Q1"): {"quality": -0.4}},
    )
    _, [r] = _level(prog, case)
    assert r.values["quality"][0] == 0.7 - 0.4 < 0.3
    assert int(r.qualified[0]) == 1  # gate quality >= 0.3 met
    assert r.badges[0].tolist() == [True, False]  # badge at its min
    card = card_for(prog, r)
    assert card.components[0].points == 60  # capped at target: full points, not 59.99999999999998
    assert card.badges == ("Quality",)


# ----------------------------------------------------------------------------- flags


FLAGS = """
[metrics.revenue]
[metrics.plan]
label = "Joint business plan on file"
unit = "yes/no"
[metrics.demo]
label = "Demo system"
unit = "yes/no"
rollup = "any"
[[score]]
metric = "revenue"
points = 100
target = 1000
[requirements.Gold]
gates = { revenue = 100, plan = 1, demo = 1 }
"""


def test_a_flag_gate_met_exactly_is_not_within_the_margin():
    prog = small(FLAGS, margin=0.25)
    case = Case([P("A", tier="Gold")], ["2026-Q1"], {("A", "2026-Q1"): {"revenue": 200, "plan": 1, "demo": 1}})
    _, [r] = _level(prog, case)
    # plan 1 < 1 * 1.25 and demo 1 < 1.25 would be "close" for a number; for a flag it never is
    assert (int(r.earned[0]), bool(r.at_risk[0])) == (1, False)
    card = card_for(prog, r)
    assert [c.close for c in card.checks] == [False, False, False]
    assert [c.describe() for c in card.checks[1:]] == ["Joint business plan on file: yes", "Demo system: yes"]


def test_an_unmet_flag_gate_is_not_an_at_risk_reason():
    prog = small(FLAGS)
    case = Case([P("A", tier="Gold")], ["2026-Q1"], {("A", "2026-Q1"): {"revenue": 200, "plan": 0, "demo": 1}})
    _, [r] = _level(prog, case)
    assert int(r.event[0]) == GRACE and bool(r.at_risk[0])
    card = card_for(prog, r)
    assert [x.kind for x in card.risks] == ["grace"]  # no line for the missing plan


def test_rollup_any_is_yes_when_any_member_says_yes_none_keeps_own():
    prog = small(FLAGS)
    case = Case(
        [P("R"), P("C", parent="R"), P("G", parent="C"), P("X")],
        ["2026-Q1"],
        {
            ("R", "2026-Q1"): {"demo": 0, "plan": 0},
            ("C", "2026-Q1"): {"demo": 0, "plan": 1},
            ("G", "2026-Q1"): {"demo": 1, "plan": 1},
            ("X", "2026-Q1"): {"demo": 0},
        },
    )
    _, [r] = _level(prog, case)
    assert r.values["demo"].tolist() == [1, 1, 1, 0]  # any, at any depth
    assert r.values["plan"].tolist() == [0, 1, 1, 0]  # none: own value


def test_flag_values_must_be_0_or_1_and_show_as_yes_or_no():
    assert flag_errors([0, 1, 1.0, 0.5, 2, -1, float("nan")]).tolist() == [3, 4, 5, 6]
    assert flag_errors(np.array([0.0, 1.0])).tolist() == []
    assert (value_text(1, "yes/no"), value_text(0, "yes/no")) == ("yes", "no")


# ---------------------------------------------------------------- §3.1 missing values


CSAT = """
[metrics.revenue]
missing = "previous"
[metrics.csat]
label = "Customer satisfaction"
unit = "%"
rollup = "none"
missing = "previous"
[metrics.escalations]
rollup = "none"
[[score]]
metric = "csat"
points = 100
target = 100
[requirements.Gold]
maxima = { escalations = 5 }
gates = { revenue = 10 }
"""


def test_previous_carries_the_own_value_across_a_gap_and_a_reported_zero_stops_it():
    prog = small(CSAT)
    case = Case(
        [P("A"), P("B")],
        Q,
        {
            ("A", "2026-Q1"): {"csat": 90},  # Q2 missing: carried 90 from Q1
            ("A", "2026-Q3"): {"csat": 0},  # a reported 0
            ("B", "2026-Q2"): {"csat": 70, "escalations": 3},  # nothing before Q2: 0 in Q1
        },
        mask=True,
    )
    _, results = _level(prog, case)
    assert [r.values["csat"].tolist() for r in results] == [[90, 0], [90, 70], [0, 70], [0, 70]]
    assert [r.sources["csat"].tolist() for r in results] == [[0, -1], [0, 1], [2, 1], [2, 1]]
    # escalations has missing = "zero": nothing carried
    assert [r.values["escalations"][1] for r in results] == [0, 3, 0, 0]
    assert [r.sources["escalations"][1] for r in results] == [-1, 1, -1, -1]


def test_carried_values_are_the_partners_own_before_the_rollup():
    prog = small(CSAT)
    case = Case(
        [P("R"), P("S", parent="R")],
        ["2026-Q1", "2026-Q2"],
        {("R", "2026-Q1"): {"revenue": 50}, ("R", "2026-Q2"): {"revenue": 70}, ("S", "2026-Q1"): {"revenue": 100}},
        mask=True,
    )
    _, (q1, q2) = _level(prog, case)
    assert q1.values["revenue"].tolist() == [150, 100]
    assert q2.values["revenue"].tolist() == [170, 100]  # R's own 70 + S's 100 carried from Q1


def test_only_evaluated_periods_count_and_the_scorecard_names_the_period_carried_from():
    prog = small(CSAT)
    # 2026-Q2 is not evaluated (no metrics at all): Q3 carries Q1's value
    case = Case([P("A")], ["2026-Q1", "2026-Q3"], {("A", "2026-Q1"): {"csat": 88, "escalations": 2}}, mask=True)
    _, (q1, q3) = _level(prog, case)
    assert q3.values["csat"].tolist() == [88]
    labels = [p.label for p in (q1.period, q3.period)]
    sources = {m: (labels[int(s[0])] if s[0] >= 0 else None) for m, s in q3.sources.items()}
    assert sources == {"revenue": None, "csat": "2026-Q1", "escalations": None}
    card = card_for(prog, q3, sources=sources)
    assert card.notes == {"revenue": "not reported", "csat": "carried from 2026-Q1", "escalations": "not reported"}
    assert card.components[0].note == "carried from 2026-Q1"
    reported = card_for(prog, q1, sources={"csat": "2026-Q1", "revenue": None})
    assert reported.notes == {"revenue": "not reported"}  # a value reported in its own period has no note


def test_own_sources_from_one_partners_rows_match_the_batch():
    prog = small(CSAT)
    case = Case(
        [P("A")],
        Q,
        {("A", "2026-Q1"): {"csat": 90, "escalations": 1}, ("A", "2026-Q3"): {"revenue": 5}},
        mask=True,
    )
    _, results = _level(prog, case)
    rows = {"csat": {"2026-Q1"}, "escalations": {"2026-Q1"}, "revenue": {"2026-Q3"}}
    for r in results:
        mine = own_sources(prog, Q, rows, r.period.label)
        batch = {m: (Q[int(s[0])] if s[0] >= 0 else None) for m, s in r.sources.items()}
        assert mine == batch
    assert own_sources(prog, Q, rows, "2026-Q4") == {"revenue": "2026-Q3", "csat": "2026-Q1", "escalations": None}


def test_without_a_reported_mask_every_value_counts_as_reported():
    prog = small(CSAT)
    case = Case([P("A")], ["2026-Q1", "2026-Q2"], {("A", "2026-Q1"): {"csat": 90}})  # mask=False
    _, (q1, q2) = _level(prog, case)
    assert q2.values["csat"].tolist() == [0]  # the 0 in the array is taken as reported: nothing carried
    assert q2.sources["csat"].tolist() == [1]


# ------------------------------------------------------------- §3.2 person identity


def test_a_person_is_the_name_trimmed_and_case_folded_across_the_group():
    prog = program()
    case = Case(
        [P("R"), P("S", parent="R")],
        ["2026-Q1"],
        certs=[
            Cert("R", "Ann Lee", "uc", date(2025, 1, 1)),
            Cert("S", " ann LEE ", "uc", date(2025, 1, 1)),
            Cert("S", "Bob", "uc", date(2025, 1, 1)),
        ],
    )
    _, [r] = _level(prog, case)
    assert r.values["cert:uc"].tolist() == [2, 2]


# ------------------------------------------------------------------ §3.8 lapse risk


def _lapse_case(expiry: date, extra: list[Cert] = ()):
    """A Gold partner (gate cert:uc >= 2, margin 10%: 3 people are not close) with 3 UC people at
    2026-Q3's end; two of them expire on ``expiry``. The next period, 2026-Q4, ends 2026-12-31.
    Score 36 + 30 = 66 >= 55, revenue 600 >= 550: no other reason."""
    return Case(
        [P("A", tier="Gold"), P("S", parent="A")],
        ["2026-Q3"],
        {("A", "2026-Q3"): {"revenue": 600}},
        certs=[
            Cert("A", "Ann Lee", "uc", date(2025, 1, 1)),
            Cert("A", "Jane Roe", "uc", date(2025, 1, 1), expiry),
            Cert("S", "John Doe", "uc", date(2025, 2, 1), expiry),
            *extra,
        ],
    )


@pytest.mark.parametrize(
    "expiry, at_risk",
    [
        (date(2026, 12, 30), True),  # the day before the next period's end: lapses, 1 of 2
        (date(2026, 12, 31), False),  # on the end: still active at it
        (date(2027, 1, 1), False),  # after
    ],
)
def test_lapse_risk_around_the_next_periods_end(expiry, at_risk):
    prog, [r] = _level(program(), _lapse_case(expiry))
    assert (prog.tiers[int(r.earned[0])], int(r.event[0]), r.values["cert:uc"][0]) == ("Gold", HELD, 3)
    assert bool(r.at_risk[0]) is at_risk
    assert r.remaining["cert:uc"][0] == (1 if at_risk else 3)
    card = card_for(prog, r, remaining={"cert:uc": float(r.remaining["cert:uc"][0])})
    assert card.at_risk is at_risk
    assert [x.kind for x in card.risks] == (["lapse"] if at_risk else [])


def test_lapse_risk_names_the_people_and_what_the_count_would_be():
    prog, [r] = _level(program(), case := _lapse_case(date(2026, 12, 30)))
    inputs = case.inputs(prog)
    people = lapsing_people(
        inputs.certifications, inputs.partners.parent, 0, "uc", date(2026, 9, 30), date(2026, 12, 31)
    )
    assert [(p.person, p.expires_on) for p in people] == [
        ("Jane Roe", date(2026, 12, 30)),
        ("John Doe", date(2026, 12, 30)),  # at the subsidiary: in A's group
    ]
    card = card_for(prog, r, lapsing={"cert:uc": people})  # remaining derived: 3 - 2 = 1
    assert card.at_risk
    [reason] = card.risks
    assert reason.text == (
        "2 UC certifications expire before 2026-Q4 ends (Jane Roe on 2026-12-30, John Doe on 2026-12-30): "
        "Certified people (UC) would be 1 of 2"
    )
    assert (reason.remaining, reason.next_period) == (1, "2026-Q4")
    assert card.at_risk_reasons == (reason.text,)


@pytest.mark.parametrize(
    "renewal, at_risk",
    [
        (Cert("A", "jane roe", "uc", date(2026, 11, 1), date(2028, 11, 1)), False),  # renewal on file
        (Cert("A", "Jane Roe", "uc", date(2027, 1, 5)), True),  # renewed after the next period's end
        (Cert("A", "New Person", "uc", date(2026, 10, 15)), True),  # not counted now: not added
    ],
)
def test_a_renewal_on_file_prevents_lapse_risk_a_newcomer_does_not(renewal, at_risk):
    prog, [r] = _level(program(), _lapse_case(date(2026, 11, 15), [renewal]))
    assert r.values["cert:uc"][0] == 3
    assert bool(r.at_risk[0]) is at_risk


def test_no_lapse_risk_on_a_gate_already_missed_or_at_the_entry_tier():
    # entry tier: never at lapse risk; the same people make A Gold-qualified, but it is earned Authorized
    case = _lapse_case(date(2026, 12, 30))
    case.partners[0] = P("A")
    _, [r] = _level(program(), case)
    assert int(r.earned[0]) == 2 and int(r.event[0]) == 0  # promoted to Gold this period
    assert bool(r.at_risk[0])  # at Gold now: lapse risk applies to the earned tier
    case.partners[0] = P("A", tier="Silver")
    case.metrics[("A", "2026-Q3")] = {"revenue": 100}  # score 6 + 30 = 36: Silver only
    _, [r] = _level(program(), case)
    assert (int(r.earned[0]), bool(r.at_risk[0])) == (1, False)  # Silver has no cert gate


# ------------------------------------------------------------------- plain words


WORDS = """
[metrics.revenue]
label = "Product revenue"
unit = "USD"
[metrics.plan]
label = "Joint business plan on file"
unit = "yes/no"
[[score]]
metric = "revenue"
points = 35
target = 2000000
[[score]]
metric = "cert:uc"
points = 20
target = 4
[[score]]
metric = "plan"
points = 10
target = 1
[requirements.Gold]
min_score = 15
gates = { revenue = 350000, "cert:uc" = 3, plan = 1 }
"""


def test_the_gap_reads_in_plain_words_with_units():
    prog = small(WORDS)
    case = Case(
        [P("A")],
        ["2026-Q1"],
        {("A", "2026-Q1"): {"revenue": 148596, "plan": 0}},
        certs=[Cert("A", "Ann", "uc", date(2025, 1, 1))],
    )
    _, [r] = _level(prog, case)
    # score = 35 * 148596 / 2000000 + 20 * 1/4 + 0 = 2.600430 + 5 = 7.600430; Gold needs 15: 7.399570 more.
    # Alone: revenue can add 32.39957 points: 7.39957 * 2000000 / 35 = 422,832.57 -> about $430,000;
    # cert:uc can add 15: 7.39957 * 4 / 20 = 1.48 -> 2 people; the plan adds 10 >= 7.39957.
    assert r.score[0] == 7.60043
    card = card_for(prog, r)
    gap = card.gap
    assert gap.tier == "Gold" and gap.score_shortfall == pytest.approx(7.39957, abs=1e-9)
    assert [round(x.amount, 2) for x in gap.routes] == [422832.57, 1.48, 0.74]
    assert gap.texts() == [
        "7.40 more points (score 7.60 of 15): about $430,000 more product revenue, "
        "or 2 more certified people (UC), or Joint business plan on file: yes",
        "Product revenue: $148,596 of $350,000 — $201,404 more",
        "Certified people (UC): 1 of 3 — 2 more",
        "Joint business plan on file: missing",
    ]
    assert gap.text().startswith("To reach Gold:\n  • 7.40 more points")


def test_each_requirement_line_reads_in_plain_words_met_or_not():
    prog = small(WORDS)
    case = Case(
        [P("A", tier="Gold")],
        ["2026-Q1"],
        {("A", "2026-Q1"): {"revenue": 2500000, "plan": 1}},
        certs=[Cert("A", f"p{i}", "uc", date(2025, 1, 1)) for i in range(4)],
    )
    _, [r] = _level(prog, case)
    # score = 35 (capped) + 20 + 10 = 65
    assert [c.describe() for c in card_for(prog, r).checks] == [
        "Score: 65.00, needs at least 15",
        "Product revenue: $2,500,000, needs at least $350,000",
        "Certified people (UC): 4, needs at least 3",
        "Joint business plan on file: yes",
    ]


def test_a_score_shortfall_no_single_component_can_close():
    prog = small(WORDS.replace("min_score = 15", "min_score = 45"))
    _, [r] = _level(prog, Case([P("A")], ["2026-Q1"], {("A", "2026-Q1"): {"revenue": 148596}}))
    assert card_for(prog, r).gap.score_text() == (
        "42.40 more points (score 2.60 of 45): no single score component can close it alone"
    )


def test_at_risk_reasons_read_in_plain_words():
    prog = small(GATE_400)
    case = Case(
        [P("A", tier="Gold")],
        ["2026-Q1"],
        {("A", "2026-Q1"): {"revenue": 420, "escalations": 11, "quality": 1}},
    )
    _, [r] = _level(prog, case)
    assert card_for(prog, r).at_risk_reasons == (
        "revenue: $420, close to the Gold minimum of $400 (at risk below $440)",
        "escalations: 11, close to the Gold maximum of 12 (at risk above 10.80)",
    )


def _level(prog, case):
    return prog, level(prog, case.inputs(prog))
