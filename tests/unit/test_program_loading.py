"""Program files (§1): what loads, and the message for each mistake."""

from __future__ import annotations

import pytest
from scoring_builder import BASE_PROGRAM

from tiertui.scoring import ProgramError, parse_program

GOOD = BASE_PROGRAM.format(frequency="quarterly", grace=2, margin=0.1)


def test_a_valid_program_loads_with_its_parts():
    prog = parse_program(GOOD)
    assert prog.tiers == ("Authorized", "Silver", "Gold", "Platinum")
    assert prog.entry_tier == "Authorized"
    assert (prog.grace_periods, prog.at_risk_margin, prog.max_score) == (2, 0.1, 100)
    assert prog.metrics["escalations"].rollup == "none"
    assert prog.metrics["revenue"].rollup == "sum"  # the default
    gold = prog.requirements["Gold"]
    assert [v.describe() for v in gold.variants] == ["LATAM", "LATAM / MSP", "MSP"]
    assert gold.resolve("LATAM", "VAR").gates == {"revenue": 250, "cert:uc": 2}
    assert gold.resolve("EMEA", "MSP").maxima == {"escalations": 20}
    assert prog.used_metrics() == ["revenue", "escalations", "csat", "cert:uc"]


def _with(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


@pytest.mark.parametrize(
    "text, message",
    [
        (
            _with("[requirements.Platinum]", "[requirements.Platinun]"),
            "line 47: requirements.Platinun: unknown tier 'Platinun' (did you mean 'Platinum'?)",
        ),
        (
            _with("gates = { revenue = 900 }", "gates = { revenu = 900 }"),
            "line 49: requirements.Platinum.gates.revenu: undeclared metric 'revenu' (did you mean 'revenue'?)",
        ),
        (_with("points = 60", "points = 0"), "line 18: score[1].points: must be greater than 0, not 0"),
        (_with("target = 4", "target = -4"), "line 23: score[2].target: must be greater than 0, not -4"),
        (
            _with('frequency = "quarterly"', 'frequency = "quartely"'),
            "line 4: program.frequency: unknown frequency 'quartely' (did you mean 'quarterly'?)",
        ),
        (_with('rollup = "none"', 'rollup = "avg"'), "metrics.escalations.rollup: unknown rollup 'avg'"),
        (_with('"Gold", "Platinum"]', '"Gold", "gold"]'), "line 7: program.tiers: duplicate tier name 'gold'"),
        (
            _with(
                'region = "LATAM"\ngates = {{ revenue = 250 }}'.replace("{{", "{").replace("}}", "}"),
                "gates = { revenue = 250 }",
            ),
            "requirements.Gold.variants[1]: a variant must name a region, a partner_type, or both",
        ),
        (
            _with("min_score = 20", "min_scor = 20"),
            "line 26: requirements.Silver.min_scor: unknown key (did you mean 'min_score'?)",
        ),
        (
            _with("[requirements.Silver]\nmin_score = 20\n", ""),
            "requirements.Silver: missing: every tier above the entry tier needs a [requirements.Silver] table",
        ),
        (
            _with("[requirements.Silver]", "[requirements.Authorized]"),
            "requirements.Authorized: 'Authorized' is the entry tier and takes no requirements",
        ),
        (
            _with('metric = "csat"', 'metric = "cast"'),
            "line 53: badges[1].metric: undeclared metric 'cast' (did you mean 'csat'?)",
        ),
        (_with("grace_periods = 2", "grace_periods = -1"), "program.grace_periods: must be a whole number >= 0"),
        (_with("[program]", "[program\n"), "not valid TOML"),
        (_with('metric = "cert:uc"', 'metric = "cert:"'), "score[2].metric: 'cert:' names no certification track"),
    ],
)
def test_mistakes_are_named_with_key_line_and_suggestion(text, message):
    with pytest.raises(ProgramError) as info:
        parse_program(text, "helios.toml")
    assert message in str(info.value)
    assert str(info.value).startswith("helios.toml")


def test_the_toml_parser_line_is_reported():
    with pytest.raises(ProgramError, match=r"p.toml: not valid TOML: .*\(at line 3, column 14\)"):
        parse_program('[program]\nname = "x"\ntiers = ["a" "b"]\n', "p.toml")


def test_benefits_need_a_revenue_metric_and_fractions():
    with pytest.raises(ProgramError, match="benefits need \\[program\\] revenue_metric"):
        parse_program(GOOD + "\n[benefits.Gold]\ndiscount = 0.1\n")
    text = GOOD.replace("tiers = [", 'revenue_metric = "revenue"\ntiers = [') + "\n[benefits.Gold]\nrebate = 1.5\n"
    with pytest.raises(ProgramError, match="benefits.Gold.rebate: is a fraction of revenue between 0 and 1"):
        parse_program(text)
    ok = parse_program(text.replace("rebate = 1.5", "rebate = 0.02\nmdf = 0.01"))
    assert ok.benefits["Gold"].total == pytest.approx(0.03)
