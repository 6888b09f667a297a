"""Spec v2 §3.11 (program versions over time, tier maps, protection, the ``protected`` event) and
§3.12 (designations), each rule with a small hand-computed case.

The programs gate tiers on one metric, ``revenue``: 100 for the second tier, 200 for the third,
300 for the fourth, so a partner's qualified tier is read off its revenue at a glance.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiertui.scoring import (
    EVENTS,
    ApprovedOverride,
    Certifications,
    Inputs,
    Partners,
    ProgramError,
    explain,
    level,
    level_timeline,
    parse_period,
    parse_program,
    tier_map,
    timeline_after_load,
    unmapped_tiers,
)
from tiertui.scoring.evaluate import EvaluationError

OLD_TIERS = '["Authorized", "Select", "Premium", "Diamond"]'
NEW_TIERS = '["Authorized", "Silver", "Gold", "Platinum"]'


def prog(tiers: str, grace: int = 0, head: str = "", tail: str = "", name: str = "P") -> object:
    names = tiers.strip("[]").replace('"', "").split(", ")
    reqs = "".join(f"[requirements.{t}]\ngates = {{ revenue = {100 * (i + 1)} }}\n" for i, t in enumerate(names[1:]))
    return parse_program(
        f'[program]\nname = "{name}"\nfrequency = "quarterly"\ngrace_periods = {grace}\n'
        f"at_risk_margin = 0\ntiers = {tiers}\n{head}\n"
        f'[metrics.revenue]\nlabel = "Revenue"\nunit = "USD"\n{reqs}{tail}'
    )


V1 = prog(OLD_TIERS, name="Old")
MAP = '[transition]\ntiers = { Select = "Silver", Premium = "Gold", Diamond = "Platinum" }\n'


def v2(grace=0, head='effective_from = "2026-07-01"', tail=MAP, extra=""):
    return prog(NEW_TIERS, grace, head, tail + extra, name="New")


def inputs(periods, revenue, records=None, overrides=(), extra=None):
    """``revenue``: one row per period, one value per partner."""
    k, n = len(periods), len(revenue[0])
    metrics = {"revenue": np.array(revenue, dtype=float).reshape(k, n)}
    metrics.update(extra or {})
    return Inputs(
        Partners(
            [f"p{i}" for i in range(n)],
            [""] * n,
            [""] * n,
            np.full(n, -1),
            np.zeros(n, dtype=np.int64),
            record_names=list(records) if records is not None else [""] * n,
        ),
        [parse_period(p) for p in periods],
        metrics,
        Certifications.empty(),
        list(overrides),
    )


def names(results, attr, i):
    return [r.program.tiers[int(getattr(r, attr)[i])] for r in results]


def events(results, i):
    return [EVENTS[int(r.event[i])] for r in results]


Q = ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4", "2027-Q1"]


# --------------------------------------------------------------------------- the map


def test_each_period_uses_the_version_in_force_at_its_end_and_a_removed_tier_maps():
    # p0 Diamond (300) throughout: Diamond, Diamond, then Platinum under the new version.
    # p1 Select (100), p2 Premium (200): Silver and Gold after the change.
    res = level_timeline([v2(), V1], inputs(Q[:4], [[300, 100, 200]] * 4))
    assert [r.program.name for r in res] == ["Old", "Old", "New", "New"]
    assert names(res, "earned", 0) == ["Diamond", "Diamond", "Platinum", "Platinum"]
    assert names(res, "earned", 1) == ["Select", "Select", "Silver", "Silver"]
    assert names(res, "earned", 2) == ["Premium", "Premium", "Gold", "Gold"]
    # carried and qualified alike: held, not promoted, at the change
    assert events(res, 0) == ["promoted", "held", "held", "held"]


def test_the_map_wins_over_the_same_name():
    # the new version also has a "Premium", but its map sends the old Premium to "Top"
    old = prog('["A", "Premium", "Top"]', name="Old")
    new = prog(
        '["A", "Premium", "Top"]',
        head='effective_from = "2026-04-01"',
        tail='[transition]\ntiers = { Premium = "Top" }\n',
    )
    assert tier_map(old, new).tolist() == [0, 2, 2]


def test_a_tier_neither_mapped_nor_kept_is_refused():
    nomap = v2(tail='[transition]\ntiers = { Select = "Silver" }\n')
    assert unmapped_tiers(V1, nomap) == ["Premium", "Diamond"]
    with pytest.raises(EvaluationError, match="'Premium' of 'Old' has no place in 'New' .*: 2 partners hold it"):
        level_timeline([V1, nomap], inputs(Q[:3], [[200, 200, 100]] * 3))
    # nobody holds Premium or Diamond at the change: nothing to refuse
    assert len(level_timeline([V1, nomap], inputs(Q[:3], [[100, 0]] * 3))) == 3


def test_grace_counter_restarts_at_the_change():
    # grace 1: Premium partner qualifies Select in Q2 (grace, below 1); at Q3 the counter restarts,
    # so Q3 below Gold is grace again (below 1), and Q4 demotes it to Silver.
    old = prog(OLD_TIERS, grace=1, name="Old")
    res = level_timeline([old, v2(grace=1)], inputs(Q[:4], [[200], [100], [100], [100]]))
    assert events(res, 0) == ["promoted", "grace", "grace", "demoted"]
    assert [int(r.below[0]) for r in res] == [0, 1, 1, 0]
    assert names(res, "earned", 0) == ["Premium", "Premium", "Gold", "Silver"]
    # without the restart the old program alone demotes at Q3
    assert events(level(old, inputs(Q[:4], [[200], [100], [100], [100]])), 0)[2] == "demoted"


def test_overrides_and_tiers_on_record_naming_an_old_tier_read_through_the_map():
    o = [
        ApprovedOverride(7, 0, 0, date(2026, 1, 1), None, ("a", 7), tier_name="Premium"),
        ApprovedOverride(8, 1, 0, date(2026, 1, 1), None, ("b", 8), tier_name="Elite"),  # no version has it
    ]
    # the new version alone, from 2026-07-01: Q1/Q2 not evaluated, records read through its map
    res = level_timeline([v2()], inputs(Q[:4], [[0, 0]] * 4, records=["Diamond", "Select"], overrides=o))
    assert [r.period.label for r in res] == ["2026-Q3", "2026-Q4"]
    assert names(res, "effective", 0) == ["Gold", "Gold"]  # Premium -> Gold
    assert [int(x) for x in res[0].override] == [7, -1]  # Elite: ignored
    assert names(res, "earned", 1)[0] == "Authorized"  # Select on record -> Silver, demoted (grace 0)
    assert events(res, 1)[0] == "demoted"
    # under the old version the same override is Premium itself
    both = level_timeline([V1, v2()], inputs(Q[:3], [[0, 0]] * 3, overrides=o))
    assert names(both, "effective", 0) == ["Premium", "Premium", "Gold"]


def test_a_tier_on_record_neither_version_knows_is_an_error_naming_it():
    with pytest.raises(EvaluationError, match="1 partner has tier 'Bronze' on record"):
        level_timeline([v2()], inputs(Q[2:3], [[0]], records=["Bronze"]))


def test_a_transition_on_the_first_version_maps_but_protects_nothing():
    first = v2(extra='protect_through = "2027-06-30"\n')
    res = level_timeline([first], inputs(Q[2:4], [[0], [0]], records=["Premium"]))
    assert events(res, 0) == ["demoted", "held"]  # Gold on record, qualifies Authorized, grace 0
    assert res[0].floor is None


def test_periods_not_on_the_versions_grid_are_an_error():
    with pytest.raises(EvaluationError, match="monthly"):
        level_timeline([V1], inputs(["2026-01"], [[0]]))


# --------------------------------------------------------------------------- protection

PROTECT = 'protect_through = "2026-12-31"\n'  # Q3 and Q4 protected


def test_protection_carried_keeps_the_tier_until_the_first_period_after_it():
    # p0 Premium -> Gold, qualifies Authorized from Q3: protected Q3, Q4; Q1 2027 below = 3 > grace 0
    res = level_timeline([V1, v2(extra=PROTECT)], inputs(Q, [[200], [200], [0], [0], [0]]))
    assert events(res, 0) == ["promoted", "held", "protected", "protected", "demoted"]
    assert names(res, "earned", 0) == ["Premium", "Premium", "Gold", "Gold", "Authorized"]
    assert [int(r.below[0]) for r in res] == [0, 0, 1, 2, 0]
    assert [bool(r.at_risk[0]) for r in res] == [False, False, True, True, False]
    assert res[2].protected_through == date(2026, 12, 31) and res[4].floor is None
    assert [int(x) for x in res[2].floor] == [2]


def test_protection_postpones_a_demotion_and_grants_no_new_grace():
    # grace 2: below counts 1, 2 while protected, 3 in Q1 2027 > 2: demoted at once
    res = level_timeline([V1, v2(grace=2, extra=PROTECT)], inputs(Q, [[200], [200], [0], [0], [0]]))
    assert events(res, 0)[2:] == ["protected", "protected", "demoted"]


def test_a_partner_promoted_during_protection_falls_back_to_its_floor_not_below():
    # p0 Select -> Silver (floor); Q3 qualifies Gold: promoted; Q4 qualifies Authorized: above its
    # floor, so rule 6 with grace 0 demotes it, to the floor Silver; Q1 2027 (unprotected) below
    # Silver again: demoted to Authorized
    res = level_timeline([V1, v2(extra=PROTECT)], inputs(Q, [[100], [100], [200], [0], [0]]))
    assert events(res, 0) == ["promoted", "held", "promoted", "demoted", "demoted"]
    assert names(res, "earned", 0) == ["Select", "Select", "Gold", "Silver", "Authorized"]


def test_protection_highest_raises_the_earned_tier_to_the_high_water_mark():
    # lookback 2: p0 Premium in Q1, demoted to Select in Q2; at Q3 the floor is max(Gold, Silver)
    # = Gold, above what it qualifies for (Silver): raised to Gold and protected.
    hw = v2(extra=PROTECT + 'protect = "highest"\nlookback_periods = 2\n')
    res = level_timeline([V1, hw], inputs(Q, [[200], [100], [100], [100], [100]]))
    assert names(res, "earned", 0) == ["Premium", "Select", "Gold", "Gold", "Silver"]
    assert events(res, 0) == ["promoted", "demoted", "protected", "protected", "demoted"]
    # lookback 1 sees only Q2 (Select): floor Silver, held
    hw1 = v2(extra=PROTECT + 'protect = "highest"\nlookback_periods = 1\n')
    res1 = level_timeline([V1, hw1], inputs(Q, [[200], [100], [100], [100], [100]]))
    assert names(res1, "earned", 0) == ["Premium", "Select", "Silver", "Silver", "Silver"]
    assert events(res1, 0)[2:] == ["held", "held", "held"]


def test_loading_a_dated_version_replaces_those_dated_on_or_after_it():
    a = V1
    b = v2(head='effective_from = "2026-10-01"')
    c = v2(head='effective_from = "2026-07-01"')
    d = v2(head='effective_from = "2027-01-01"')
    assert timeline_after_load([a, b], c) == [a, c]  # c replaces the later-dated b
    assert timeline_after_load([a, c], d) == [a, c, d]
    assert timeline_after_load([a, c, d], V1) == [V1]  # undated: the only version
    res = level_timeline([a, c, d], inputs(Q, [[300]] * 5))
    assert [r.program is x for r, x in zip(res, [a, a, c, c, d])] == [True] * 5


# --------------------------------------------------------------------------- designations

DESIGNED = """
[metrics.cc_rev]
label = "Contact center revenue"
unit = "USD"
[metrics.skills]
label = "Skilling"

[[designations]]
name = "Contact Center"
min_score = 70
gates = { cc_rev = 1, skills = 1 }
[[designations.score]]
metric = "cc_rev"
points = 50
target = 1000
[[designations.score]]
metric = "skills"
points = 50
target = 10

[[designations]]
name = "Cloud"
gates = { skills = 5 }
maxima = { cc_rev = 2000 }
keep_periods = 2
"""


def dprog(tiers_tail=""):
    return parse_program(
        '[program]\nname = "D"\nfrequency = "quarterly"\ngrace_periods = 0\nat_risk_margin = 0\n'
        'tiers = ["Member", "Silver", "Gold"]\n[metrics.revenue]\n'
        + DESIGNED
        + (
            tiers_tail
            or "[requirements.Silver]\ngates = { designations = 1 }\n"
            '[requirements.Gold]\ngates = { "designation:Contact Center" = 1, designations = 2 }\n'
        )
    )


def dinputs(cc, skills, k=1):
    n = len(cc[0])
    return Inputs(
        Partners([f"p{i}" for i in range(n)], [""] * n, [""] * n, np.full(n, -1), np.zeros(n, dtype=np.int64)),
        [parse_period(p) for p in Q[:k]],
        {"cc_rev": np.array(cc, dtype=float), "skills": np.array(skills, dtype=float), "revenue": np.zeros((k, n))},
    )


def test_designation_with_score_min_score_and_every_component_above_zero():
    # p0: 800/1000*50 = 40, 6/10*50 = 30: 70, met.  p1: 1000 -> 50, 0 skills -> 0: 50, and the
    # skills gate (every component above 0) fails.  p2: 35 + 35 = 70: met.  p3: 30 + 35 = 65.
    res = level(dprog(), dinputs([[800, 1000, 700, 600]], [[6, 0, 7, 7]]))[0]
    assert res.designation_met["Contact Center"].tolist() == [True, False, True, False]
    assert res.values["designation:Contact Center"].tolist() == [1, 0, 1, 0]


def test_designation_without_score_gates_and_maxima_only():
    # Cloud: skills >= 5 and cc_rev <= 2000
    res = level(dprog(), dinputs([[800, 2500, 0]], [[5, 9, 4.999999]]))[0]
    assert res.designation_met["Cloud"].tolist() == [True, False, False]


def test_designations_count_and_flag_in_tier_gates():
    # p0 both -> Gold; p1 Cloud only -> Silver (Gold needs Contact Center); p2 none -> Member
    res = level(dprog(), dinputs([[800, 100, 0]], [[6, 5, 0]]))[0]
    assert res.values["designations"].tolist() == [2, 1, 0]
    assert res.qualified.tolist() == [2, 1, 0]


def test_keep_periods_holds_a_designation_for_further_evaluated_periods():
    # Cloud (keep 2) met in Q1 only: held Q1, Q2, Q3; not Q4
    res = level(dprog(), dinputs([[0]] * 4, [[5], [0], [0], [0]], k=4))
    assert [float(r.values["designation:Cloud"][0]) for r in res] == [1, 1, 1, 0]
    assert [int(r.designation_last["Cloud"][0]) for r in res] == [0, 0, 0, 0]
    assert [int(r.qualified[0]) for r in res] == [1, 1, 1, 0]


def test_keep_periods_count_periods_under_any_version_for_the_same_name():
    first = dprog()
    second = parse_program(first.source.replace('name = "D"', 'name = "D"\neffective_from = "2026-04-01"'))
    res = level_timeline([first, second], dinputs([[0]] * 3, [[5], [0], [0]], k=3))
    assert [r.program is p for r, p in zip(res, [first, second, second])] == [True] * 3
    assert [float(r.values["designation:Cloud"][0]) for r in res] == [1, 1, 1]


def test_designations_in_score_components_and_badges():
    tail = (
        '[[score]]\nmetric = "designations"\npoints = 30\ntarget = 2\n'
        "[requirements.Silver]\nmin_score = 15\n[requirements.Gold]\nmin_score = 30\n"
        '[[badges]]\nname = "CC Expert"\nmetric = "designation:Contact Center"\nmin = 1\n'
    )
    p = dprog(tail)
    res = level(p, dinputs([[800, 100, 0]], [[6, 5, 0]]))[0]
    assert res.score.tolist() == [30, 15, 0]  # 2 held: 30 points, 1: 15
    assert res.qualified.tolist() == [2, 1, 0]
    assert res.badges.tolist() == [[True, False, False]]


def test_scorecard_explains_designations_with_components_gap_and_keep_window():
    p = dprog()
    res = level(p, dinputs([[0]] * 2, [[5], [0]], k=2))
    r = res[1]
    card = explain(
        p,
        "",
        "",
        {m: float(v[0]) for m, v in r.values.items()},
        "2026-Q2",
        int(r.earned[0]),
        int(r.event[0]),
        designation_last={"Cloud": "2026-Q1", "Contact Center": None},
    )
    cc, cloud = card.designations
    assert (cc.held, cc.met, cc.score) == (False, False, 0.0)
    assert cc.gap_texts() == [
        "Score: 0.00 of 70 — 70.00 more points",
        "Contact center revenue: $0 of $1 — $1 more",
        "Skilling: 0 of 1 — 1 more",
    ]
    assert cloud.text() == "Cloud: held, last met in 2026-Q1 (kept 2 further periods, through 2026-Q3)"
    assert card.designations_held == ("Cloud",)
    assert [c.points for c in cc.components] == [0.0, 0.0]


def test_scorecard_says_protected_through_when_and_at_which_floor():
    hw = v2(extra=PROTECT)
    res = level_timeline([V1, hw], inputs(Q[:3], [[200], [200], [0]]))
    r = res[2]
    card = explain(
        hw,
        "",
        "",
        {"revenue": 0.0},
        "2026-Q3",
        int(r.earned[0]),
        int(r.event[0]),
        int(r.below[0]),
        floor=int(r.floor[0]),
        protected_through=r.protected_through,
        version="New, in force from 2026-07-01",
    )
    assert card.event == "protected" and card.at_risk
    assert card.protection_text == "Protected through 2026-12-31: kept at Gold or above"
    assert card.at_risk_reasons[0].startswith("Protected: qualifies Authorized, kept at Gold through 2026-12-31")
    assert card.version == "New, in force from 2026-07-01"


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "body, message",
    [
        ('[[designations]]\nname = "A"\ngates = { designations = 1 }\n', "cannot use 'designations'"),
        (
            '[[designations]]\nname = "A"\n[[designations]]\nname = "B"\ngates = { "designation:A" = 1 }\n',
            "cannot use 'designation:A'",
        ),
        ('[[designations]]\nname = "A"\n[[designations]]\nname = "A"\n', "duplicate designation 'A'"),
        ('[[designations]]\nname = "A;B"\n', "must not contain ';'"),
        ('[transition]\ntiers = { Select = "Silver" }\n', "needs \\[program\\] effective_from"),
        ('[[badges]]\nname = "X"\nmetric = "designation:Nope"\nmin = 1\n', "unknown designation 'Nope'"),
    ],
)
def test_program_validation_of_designations_and_transitions(body, message):
    with pytest.raises(ProgramError, match=message):
        parse_program('[program]\nname = "T"\ntiers = ["A", "B"]\n[requirements.B]\n' + body)


def test_a_map_naming_a_tier_the_new_version_lacks_is_refused_with_its_line():
    with pytest.raises(ProgramError, match=r"line 18: transition.tiers.Select: maps 'Select' to 'Silverr'.*'Silver'"):
        v2(tail='[transition]\ntiers = { Select = "Silverr" }\n')


def test_highest_needs_lookback_periods():
    with pytest.raises(ProgramError, match="lookback_periods"):
        v2(extra='protect = "highest"\n')


# --------------------------------------------------------------------------- property


@settings(max_examples=60, deadline=None)
@given(
    revenue=st.lists(
        st.lists(st.sampled_from([0, 100, 150, 200, 300]), min_size=3, max_size=3), min_size=5, max_size=5
    ),
    grace=st.integers(0, 2),
    records=st.lists(st.sampled_from(["", "Select", "Premium", "Diamond"]), min_size=3, max_size=3),
)
def test_a_timeline_equals_the_first_version_then_the_second_from_the_carried_tiers(revenue, grace, records):
    old = prog(OLD_TIERS, grace, name="Old")
    new = v2(grace=grace)
    whole = level_timeline([old, new], inputs(Q, revenue, records=records))
    first = level(old, inputs(Q[:2], revenue[:2], records=records))
    carried = [new.tiers[int(t)] for t in tier_map(old, new)[first[-1].earned]]
    second = level_timeline([new], inputs(Q[2:], revenue[2:], records=carried))
    for a, b in zip(whole, first + second):
        assert a.program.tiers[0] == b.program.tiers[0] and a.period == b.period
        for attr in ("qualified", "earned", "effective", "event", "below", "at_risk"):
            assert getattr(a, attr).tolist() == getattr(b, attr).tolist(), attr


@settings(max_examples=40, deadline=None)
@given(
    revenue=st.lists(
        st.lists(st.sampled_from([0, 100, 150, 200, 300]), min_size=3, max_size=3), min_size=5, max_size=5
    ),
    gates=st.lists(st.sampled_from([100, 150, 200, 250]), min_size=3, max_size=3),
    through=st.sampled_from(["2026-09-30", "2026-12-31", "2027-03-31"]),
)
def test_a_memo_kept_across_runs_never_changes_a_result(revenue, gates, through):
    """What-if sessions keep a memo across edits: every run equals a run without it."""
    memo: dict = {}
    data = inputs(Q, revenue, records=["Select", "Premium", ""])
    for gate in gates:
        new = parse_program(
            v2(extra=f'protect_through = "{through}"\n').source.replace("revenue = 200 }", f"revenue = {gate} }}")
        )
        for timeline in ([V1, new], [V1, v2()]):
            fresh = level_timeline(timeline, data)
            kept = level_timeline(timeline, data, memo=memo)
            for a, b in zip(fresh, kept):
                for attr in ("score", "qualified", "earned", "effective", "event", "below", "at_risk", "badges"):
                    assert getattr(a, attr).tolist() == getattr(b, attr).tolist(), attr


def test_lapse_risk_reports_a_designation_that_would_be_lost():
    from tiertui.scoring.evaluate import person_codes

    p = parse_program(
        '[program]\nname = "L"\nfrequency = "quarterly"\ntiers = ["Member", "Partner"]\n'
        "[requirements.Partner]\ngates = { designations = 1 }\n"
        '[[designations]]\nname = "UC Expert"\ngates = { "cert:uc" = 2 }\n'
    )
    # two people certified in UC; Bo's certification expires 2026-05-15, before 2026-Q2 ends
    certs = Certifications(
        np.array([0, 0]),
        person_codes(["Al", "Bo"]),
        ["uc", "uc"],
        np.array([date(2025, 1, 1).toordinal()] * 2),
        np.array([date.max.toordinal(), date(2026, 5, 15).toordinal()]),
    )
    data = Inputs(
        Partners(["p0"], [""], [""], np.full(1, -1), np.zeros(1, dtype=np.int64)),
        [parse_period("2026-Q1")],
        {},
        certs,
    )
    (r,) = level(p, data)
    assert r.remaining["cert:uc"].tolist() == [1]
    card = explain(
        p,
        "",
        "",
        {m: float(v[0]) for m, v in r.values.items()},
        "2026-Q1",
        int(r.earned[0]),
        int(r.event[0]),
        remaining={"cert:uc": 1.0},
    )
    (line,) = card.designations
    assert line.held and line.lapse == (
        "1 UC certification expires before 2026-Q2 ends: UC Expert would no longer be met "
        "(Certified people (UC) 1 of 2)"
    )


@settings(max_examples=40, deadline=None)
@given(
    revenue=st.lists(
        st.lists(st.sampled_from([0, 50, 100, 150, 200, 300]), min_size=3, max_size=3), min_size=5, max_size=5
    ),
    edits=st.lists(
        st.tuples(st.sampled_from([10, 20, 40, 60]), st.sampled_from([100, 150, 200]), st.sampled_from([10, 30])),
        min_size=2,
        max_size=4,
    ),
)
def test_a_memo_kept_across_score_edits_never_changes_a_result(revenue, edits):
    """A what-if edit of one score component (its points, its target) recomputes that component
    alone from the memo; every run still equals a run without it, the other component unchanged."""
    memo: dict = {}
    data = inputs(Q, revenue, records=["Silver", "Gold", ""])
    for points, target, other in edits:
        program = parse_program(
            '[program]\nname = "Scored"\nfrequency = "quarterly"\ngrace_periods = 1\nat_risk_margin = 0.1\n'
            f"tiers = {NEW_TIERS}\n"
            '[metrics.revenue]\nlabel = "Revenue"\nunit = "USD"\n'
            f'[[score]]\nmetric = "revenue"\npoints = {points}\ntarget = {target}\n'
            f'[[score]]\nmetric = "revenue"\npoints = {other}\ntarget = 250\n'
            "[requirements.Silver]\nmin_score = 10\n[requirements.Gold]\nmin_score = 30\n"
            "[requirements.Platinum]\nmin_score = 50\n"
        )
        fresh = level_timeline([program], data)
        kept = level_timeline([program], data, memo=memo)
        for a, b in zip(fresh, kept, strict=True):
            for attr in ("score", "qualified", "earned", "effective", "event", "below", "at_risk"):
                assert getattr(a, attr).tolist() == getattr(b, attr).tolist(), attr
        assert any(key[0] == "points" for key in memo)  # the components were remembered
