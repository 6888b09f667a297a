"""§3.0 (v2): the 6-decimal comparisons on floats agree with exact decimal arithmetic (hypothesis).

Inputs are decimals with at most 4 places, as a metrics file or a program would hold them; the
reference rounds the exact decimal result to 6 places half away from zero (ROUND_HALF_UP in
:mod:`decimal` rounds halves away from zero), then compares exactly.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tiertui.scoring import evaluate as ev
from tiertui.scoring import parse_program, score_text
from tiertui.scoring.numbers import round6

SIX = Decimal("0.000001")


def dec(low: str, high: str, places: int = 4):
    return st.decimals(min_value=Decimal(low), max_value=Decimal(high), places=places, allow_nan=False)


values = dec("-1000000", "1000000")
thresholds = dec("0", "1000000")
margins = dec("0", "0.9999")


def q6(x: Decimal) -> Decimal:
    return x.quantize(SIX, rounding=ROUND_HALF_UP)


def one(x: Decimal) -> np.ndarray:
    return np.array([float(x)])


@settings(max_examples=400, deadline=None)
@given(values, thresholds, margins)
def test_gates_and_their_band_edges_agree_with_decimals(value, gate, margin):
    v, g = one(value), one(gate)
    assert bool(ev.gate_met(v, g)[0]) is (value >= gate)
    assert bool(ev.gate_close(v, g, float(margin))[0]) is (value < q6(gate * (1 + margin)))


@settings(max_examples=400, deadline=None)
@given(values, thresholds, margins)
def test_maxima_and_their_band_edges_agree_with_decimals(value, maximum, margin):
    v, m = one(value), one(maximum)
    assert bool(ev.maximum_met(v, m)[0]) is (value <= maximum)
    assert bool(ev.maximum_close(v, m, float(margin))[0]) is (value > q6(maximum * (1 - margin)))


@settings(max_examples=400, deadline=None)
@given(dec("0", "100"), dec("0", "150"), margins)
def test_min_score_and_its_band_edge_agree_with_decimals(score, min_score, margin):
    s, t = one(score), one(min_score)
    assert bool(ev.score_met(s, t)[0]) is (score >= min_score)
    assert bool(ev.score_close(s, t, float(margin))[0]) is (score < q6(min_score * (1 + margin)))


def _exact_points(points: Decimal, value: Decimal, target: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 60
        return points * min(max(value, Decimal(0)) / target, Decimal(1))


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(dec("0.0001", "1000"), dec("-100000", "5000000"), dec("0.0001", "5000000")), min_size=1, max_size=4
    ),
    dec("0", "1000"),
)
@example([(Decimal("1"), Decimal("1"), Decimal("2000000"))], Decimal("0.000001"))  # 0.0000005: a 6-place tie
@example([(Decimal("107"), Decimal("1"), Decimal("40"))], Decimal("2.68"))  # 2.675, shown 2.68
def test_the_score_its_cap_its_minimum_and_its_text_agree_with_decimals(components, min_score):
    """Score components with decimal points, values and targets: the float score rounded to 6
    places is the exact score rounded to 6 places, so min_score and the text agree too."""
    body = "".join(
        f'[metrics.m{i}]\n[[score]]\nmetric = "m{i}"\npoints = {p}\ntarget = {t}\n'
        for i, (p, _, t) in enumerate(components)
    )
    prog = parse_program(
        f'[program]\nname = "x"\ntiers = ["A", "B"]\n{body}[requirements.B]\nmin_score = {min_score}\n'
    )
    arrays = {f"m{i}": one(v) for i, (_, v, _) in enumerate(components)}
    score = ev.total_score(ev.component_points(prog, arrays), np.zeros(1))
    exact = q6(sum((_exact_points(p, v, t) for p, v, t in components), Decimal(0)))
    assert Decimal(repr(float(score[0]))) == exact
    assert bool(ev.score_met(score, one(min_score))[0]) is (exact >= min_score)
    assert score_text(float(score[0])) == f"{exact.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):.2f}"


@settings(max_examples=400, deadline=None)
@given(dec("-1000000", "1000000", places=7))
def test_round6_is_decimal_half_away_from_zero(x):
    assert Decimal(repr(float(round6(float(x))))) == q6(x)
