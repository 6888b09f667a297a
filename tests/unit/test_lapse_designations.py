"""Lapse risk (spec v2 §3.8) also names the designations (§3.12) a partner would lose: each
designation re-evaluated without the people whose certifications expire before the next period's
end, by the shared scoring module (``scorecard.designations_lost``)."""

from __future__ import annotations

from datetime import date

import numpy as np

from tiertui.scoring import Certifications, Inputs, Partners, explain, level, parse_period, parse_program
from tiertui.scoring.evaluate import person_codes
from tiertui.scoring.scorecard import designations_lost

PROGRAM = parse_program(
    '[program]\nname = "L"\nfrequency = "quarterly"\ntiers = ["Member", "Partner"]\n'
    '[metrics.cc_revenue]\nlabel = "Contact center revenue"\nunit = "USD"\n'
    '[requirements.Partner]\ngates = { "cert:uc" = 2 }\n'
    # met with 2 UC people: lost when Bo's lapses
    '[[designations]]\nname = "UC Expert"\ngates = { "cert:uc" = 2 }\n'
    # met with 1 UC person: Al stays, kept
    '[[designations]]\nname = "UC Associate"\ngates = { "cert:uc" = 1 }\n'
    # a score over UC people and revenue, min 70: 2 people 50 + revenue 30 = 80; with 1: 25 + 30 = 55
    '[[designations]]\nname = "Contact Center"\nmin_score = 70\nkeep_periods = 2\n'
    '[[designations.score]]\nmetric = "cert:uc"\npoints = 50\ntarget = 2\n'
    '[[designations.score]]\nmetric = "cc_revenue"\npoints = 50\ntarget = 100000\n'
    # needs no certification at all
    '[[designations]]\nname = "Revenue Club"\ngates = { cc_revenue = 50000 }\n'
)


def _card(expiry: date):
    """One partner, two UC people: Al never expires, Bo on ``expiry``; cc_revenue 60,000 in 2026-Q1."""
    certs = Certifications(
        np.array([0, 0]),
        person_codes(["Al", "Bo"]),
        ["uc", "uc"],
        np.array([date(2025, 1, 1).toordinal()] * 2),
        np.array([date.max.toordinal(), expiry.toordinal()]),
    )
    data = Inputs(
        Partners(["p0"], [""], [""], np.full(1, -1), np.zeros(1, dtype=np.int64)),
        [parse_period("2026-Q1")],
        {"cc_revenue": np.array([[60000.0]])},
        certs,
    )
    (r,) = level(PROGRAM, data)
    values = {m: float(v[0]) for m, v in r.values.items()}
    remaining = {m: float(v[0]) for m, v in r.remaining.items()}
    return explain(PROGRAM, "", "", values, "2026-Q1", int(r.earned[0]), int(r.event[0]), remaining=remaining), values


def test_the_lapse_line_names_the_designations_that_would_be_lost():
    card, values = _card(date(2026, 5, 15))  # before 2026-Q2 ends (2026-06-30)
    assert card.earned == "Partner" and card.at_risk
    (risk,) = [r for r in card.risks if r.kind == "lapse"]
    # UC Expert (2 people) is lost; Contact Center's score falls to 55 < 70, but its keep-window
    # holds it two further periods; UC Associate (1 person) and Revenue Club (no certification) stay
    assert risk.designations_lost == ("UC Expert", "Contact Center")
    assert risk.text == (
        "1 UC certification expires before 2026-Q2 ends: Certified people (UC) would be 1 of 2; "
        "it would also lose UC Expert; Contact Center would no longer be met (kept 2 further periods)"
    )
    assert designations_lost(PROGRAM, values, {"cert:uc": 1.0}) == ("UC Expert", "Contact Center")
    assert designations_lost(PROGRAM, values, {"cert:uc": 0.0}) == ("UC Expert", "UC Associate", "Contact Center")
    assert designations_lost(PROGRAM, values, {"cert:uc": 2.0}) == ()


def test_no_lapse_no_designation_lost():
    card, _values = _card(date(2026, 6, 30))  # on the next period's end: still active then
    assert [r for r in card.risks if r.kind == "lapse"] == []
    assert not any(d.lapse for d in card.designations)
