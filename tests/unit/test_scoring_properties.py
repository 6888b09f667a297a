"""Properties of the scoring module that must hold for any input (hypothesis)."""

from __future__ import annotations

from datetime import date

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scoring_builder import BASE_PROGRAM, Case, Cert, P, program

from tiertui.scoring import explain, level
from tiertui.scoring.evaluate import EVENTS

PERIODS = ["2025-Q4", "2026-Q1", "2026-Q2"]
values = st.floats(min_value=-2000, max_value=3000, allow_nan=False, allow_infinity=False)
regions = st.sampled_from(["", "LATAM", "EMEA", "latam"])
types = st.sampled_from(["", "MSP", "VAR"])
tiers = st.sampled_from([None, "Silver", "Gold", "Platinum"])


@st.composite
def cases(draw):
    n = draw(st.integers(1, 6))
    partners = []
    for i in range(n):
        parent = draw(st.one_of(st.none(), st.integers(0, i - 1))) if i else None
        partners.append(
            P(f"P{i}", draw(regions), draw(types), f"P{parent}" if parent is not None else None, draw(tiers))
        )
    metrics = {
        (p.id, q): {"revenue": draw(values), "escalations": draw(st.floats(0, 30)), "csat": draw(st.floats(0, 100))}
        for p in partners
        for q in PERIODS
    }
    certs = [
        Cert(
            f"P{draw(st.integers(0, n - 1))}",
            draw(st.sampled_from("abcdefg")),
            draw(st.sampled_from(["uc", "cx"])),
            date(2025, draw(st.integers(1, 12)), 1),
            draw(st.one_of(st.none(), st.dates(date(2025, 6, 1), date(2026, 12, 31)))),
        )
        for _ in range(draw(st.integers(0, 12)))
    ]
    return Case(partners, PERIODS, metrics, certs), draw(st.integers(0, 3)), draw(st.sampled_from([0.0, 0.1, 0.25]))


@settings(max_examples=150, deadline=None)
@given(cases())
def test_score_stays_between_zero_and_the_sum_of_points(drawn):
    case, grace, margin = drawn
    prog = program(grace=grace, margin=margin)
    for r in level(prog, case.inputs(prog)):
        assert np.all(r.score >= 0) and np.all(r.score <= prog.max_score)


@settings(max_examples=150, deadline=None)
@given(cases())
def test_levelling_twice_gives_the_same_result(drawn):
    case, grace, margin = drawn
    prog = program(grace=grace, margin=margin)
    first, second = level(prog, case.inputs(prog)), level(prog, case.inputs(prog))
    for a, b in zip(first, second):
        for field in ("score", "qualified", "earned", "effective", "event", "at_risk", "badges"):
            assert np.array_equal(getattr(a, field), getattr(b, field))


@settings(max_examples=150, deadline=None)
@given(cases())
def test_a_single_scorecard_agrees_with_the_batch(drawn):
    case, grace, margin = drawn
    prog = program(grace=grace, margin=margin)
    for r in level(prog, case.inputs(prog)):
        for i, p in enumerate(case.partners):
            card = explain(
                prog,
                p.region,
                p.type,
                {m: float(v[i]) for m, v in r.values.items()},
                r.period.label,
                int(r.earned[i]),
                int(r.event[i]),
                int(r.below[i]),
                remaining={m: float(v[i]) for m, v in r.remaining.items()},
            )
            assert card.score == r.score[i]
            assert card.qualified == prog.tiers[int(r.qualified[i])]
            assert card.at_risk == bool(r.at_risk[i])
            assert card.badges == tuple(sorted(b.name for b, f in zip(prog.badges, r.badges[:, i]) if f))
            assert card.event == EVENTS[int(r.event[i])]
            # a closed gap means the next tier is met, so the batch qualifies at least that high;
            # an open gap means the next tier is not met, so the batch cannot qualify exactly for it
            if card.gap is not None:
                nxt = prog.tiers.index(card.gap.tier)
                if card.gap.closed:
                    assert int(r.qualified[i]) >= nxt
                else:
                    assert int(r.qualified[i]) != nxt


@settings(max_examples=100, deadline=None)
@given(cases())
def test_earned_tier_moves_only_as_the_rules_allow(drawn):
    case, grace, margin = drawn
    prog = program(grace=grace, margin=margin)
    inputs = case.inputs(prog)
    previous = inputs.partners.tier_on_record
    for r in level(prog, inputs):
        up = r.earned > previous
        down = r.earned < previous
        assert np.all(r.earned[up] == r.qualified[up])  # promotion goes to the qualified tier
        assert np.all(r.earned[down] == r.qualified[down])  # so does demotion, after grace
        assert np.all(r.below <= grace)
        previous = r.earned


V2_PROGRAM = (
    BASE_PROGRAM.replace('[metrics.csat]\nrollup = "none"', '[metrics.csat]\nrollup = "none"\nmissing = "previous"')
    .replace("[metrics.escalations]", '[metrics.plan]\nunit = "yes/no"\nrollup = "any"\n[metrics.escalations]')
    .replace(
        'gates = {{ revenue = 500, "cert:uc" = 2 }}', 'gates = {{ revenue = 500, "cert:uc" = 2, plan = 1, csat = 50 }}'
    )
)


@st.composite
def v2_cases(draw):
    """Cases with gaps in the reported values (a mask), a flag and a carried metric."""
    case, grace, margin = draw(cases())
    metrics = {}
    for key, values in case.metrics.items():
        kept = {m: v for m, v in values.items() if draw(st.booleans())}
        if draw(st.booleans()):
            kept["plan"] = draw(st.sampled_from([0, 1]))
        metrics[key] = kept
    # certifications expiring around the quarter ends, so that lapse risk (and its absence) shows up
    edges = [date(2026, 3, 30), date(2026, 3, 31), date(2026, 6, 29), date(2026, 6, 30), date(2026, 9, 30)]
    extra = [
        Cert(p.id, f"{p.id}-{j}", "uc", date(2025, 1, 1), draw(st.sampled_from([None, *edges])))
        for p in case.partners
        for j in range(draw(st.integers(0, 3)))
    ]
    margin = draw(st.sampled_from([0.0, margin]))  # with no margin, lapse risk is often the only reason
    return Case(case.partners, case.periods, metrics, case.certs + extra, mask=True), grace, margin


@settings(max_examples=150, deadline=None)
@given(v2_cases())
def test_v2_a_single_scorecard_agrees_with_the_batch(drawn):
    """Flags, rollup any, missing = previous with a reported mask, lapse risk: the scorecard of one
    partner (public comparison functions) agrees with the columnar run (its rounded-once path)."""
    case, grace, margin = drawn
    prog = program(
        grace=grace, margin=margin, text=V2_PROGRAM.format(frequency="quarterly", grace=grace, margin=margin)
    )
    inputs = case.inputs(prog)
    results = level(prog, inputs)
    labels = [r.period.label for r in results]
    for r in results:
        for i, p in enumerate(case.partners):
            sources = {m: labels[int(s[i])] if s[i] >= 0 else None for m, s in r.sources.items()}
            card = explain(
                prog,
                p.region,
                p.type,
                {m: float(v[i]) for m, v in r.values.items()},
                r.period.label,
                int(r.earned[i]),
                int(r.event[i]),
                int(r.below[i]),
                sources=sources,
                remaining={m: float(v[i]) for m, v in r.remaining.items()},
            )
            assert card.score == r.score[i]
            assert card.qualified == prog.tiers[int(r.qualified[i])]
            assert card.at_risk == bool(r.at_risk[i])
            assert card.at_risk == bool(card.risks)  # at risk exactly when some reason is given
            assert card.badges == tuple(sorted(b.name for b, f in zip(prog.badges, r.badges[:, i]) if f))
            # csat is carried: never "not reported" after the partner's first report
            own = [case.metrics.get((p.id, q), {}).get("csat") for q in labels[: labels.index(r.period.label) + 1]]
            reported = [k for k, v in enumerate(own) if v is not None]
            expected = (
                "" if own[-1] is not None else (f"carried from {labels[reported[-1]]}" if reported else "not reported")
            )
            assert card.notes.get("csat", "") == expected
            assert r.values["csat"][i] == (own[reported[-1]] if reported else 0)
