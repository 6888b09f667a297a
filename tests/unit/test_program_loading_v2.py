"""Program files, spec version 2 (§1): flags, missing, and the new load-time refusals, each with its line."""

from __future__ import annotations

import pytest
from scoring_builder import BASE_PROGRAM

from tiertui.scoring import ProgramError, parse_program

GOOD = BASE_PROGRAM.format(frequency="quarterly", grace=2, margin=0.1)


def _with(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


@pytest.mark.parametrize(
    "text, message",
    [
        # line numbers: see GOOD (tests/scoring_builder.py) — min_score = 20 is on line 26
        (_with("min_score = 20", "min_score = -20"), "line 26: requirements.Silver.min_score: must not be negative"),
        (
            _with("gates = { revenue = 900 }", "gates = { revenue = -900 }"),
            "line 49: requirements.Platinum.gates.revenue: must not be negative, not -900",
        ),
        (
            _with("maxima = { escalations = 20 }", "maxima = { escalations = -0.5 }"),
            "line 45: requirements.Gold.variants[3].maxima.escalations: must not be negative, not -0.5",
        ),
        (_with("min = 90", "min = -90"), "line 54: badges[1].min: must not be negative, not -90"),
        (
            _with('"Gold", "Platinum"]', '"Gold", "Plat;inum"]'),
            "line 7: program.tiers: tier name 'Plat;inum' must not contain ';'",
        ),
        (
            _with('name = "Big Seller"', 'name = "Big;Seller"'),
            "line 56: badges[2].name: badge name 'Big;Seller' must not contain ';'",
        ),
        (
            _with('[metrics.escalations]\nrollup = "none"', '[metrics.escalations]\nunit = "yes/no"\nrollup = "sum"'),
            "line 13: metrics.escalations.rollup: a yes/no flag cannot be summed",
        ),
        (
            _with('[metrics.escalations]\nrollup = "none"', '[metrics.escalations]\nrollup = "any"'),
            'line 12: metrics.escalations.rollup: rollup = "any" is for yes/no flags only',
        ),
        (
            _with('[metrics.csat]\nrollup = "none"', '[metrics.csat]\nrollup = "none"\nmissing = "last"'),
            "line 15: metrics.csat.missing: unknown missing 'last'",
        ),
        (
            _with('[metrics.csat]\nrollup = "none"', '[metrics.csat]\nrollup = "none"\nmissing = "previos"'),
            "line 15: metrics.csat.missing: unknown missing 'previos' (did you mean 'previous'?)",
        ),
    ],
)
def test_v2_refusals_name_the_key_and_the_line(text, message):
    with pytest.raises(ProgramError) as info:
        parse_program(text, "helios.toml")
    assert str(info.value).startswith("helios.toml, line ")
    assert message in str(info.value)


def test_zero_thresholds_are_still_allowed():
    prog = parse_program(_with("min_score = 20", "min_score = 0").replace("min = 90", "min = 0"))
    assert prog.requirements["Silver"].base.min_score == 0
    assert prog.badges[0].min == 0


def test_a_flag_defaults_to_rollup_none_and_may_use_any_and_missing_previous():
    text = _with(
        '[metrics.csat]\nrollup = "none"',
        '[metrics.csat]\nrollup = "none"\nmissing = "previous"\n'
        '[metrics.plan]\nunit = "yes/no"\n[metrics.demo]\nunit = " Yes/No "\nrollup = "any"',
    )
    prog = parse_program(text)
    assert (prog.metrics["plan"].rollup, prog.metrics["plan"].is_flag) == ("none", True)
    assert (prog.metrics["demo"].rollup, prog.metrics["demo"].is_flag) == ("any", True)
    assert prog.metrics["csat"].missing == "previous"
    assert prog.metrics["revenue"].missing == "zero"  # the default
    assert not prog.is_flag("revenue") and prog.is_flag("plan") and prog.is_flag("designation:x")
    assert prog.label_of("cert:uc") == "Certified people (UC)"
    assert prog.label_of("cert:contact_center") == "Certified people (contact center)"


def test_variants_match_region_and_type_trimmed_and_case_insensitively():
    gold = parse_program(GOOD).requirements["Gold"]
    assert gold.variant_index(" latam ", "var") == 1  # LATAM
    assert gold.variant_index("Latam", " msp") == 1  # LATAM wins: first match in file order
    assert gold.variant_index("emea", "Msp ") == 3  # MSP
    assert gold.variant_index("EMEA", "VAR") == 0  # the base rule
