"""What-if scenarios (services/scenarios/): results equal a real levelling run, hand-computed
movers and costs, editing, persistence and the CLI entry point's messages."""

from __future__ import annotations

import dataclasses
import io
import json
import tomllib
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
from db_builder import seat_team
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from tiertui.scoring import level, parse_program
from tiertui.services import audit, imports, levelling, programs, scenarios
from tiertui.services.errors import ServiceError
from tiertui.services.unit_of_work import UnitOfWork
from tiertui.storage import open_engine, queries
from tiertui.storage.tables import AuditEntry, MetricValue, Override, Partner, Scenario

MITEL = Path(__file__).resolve().parents[2] / "fixtures" / "programs" / "mitel_2014_na"

# ------------------------------------------------------------------------- hand-computed fixture

HAND = """
[program]
name = "Hand"
frequency = "quarterly"
grace_periods = 1
at_risk_margin = 0.1
tiers = ["Authorized", "Silver", "Gold"]
revenue_metric = "revenue"

[metrics.revenue]
[metrics.csat]
rollup = "none"

[[score]]
metric = "revenue"
points = 100
target = 500

[requirements.Silver]
min_score = 20

[requirements.Gold]
min_score = 50
gates = { revenue = 400 }

[[requirements.Gold.variants]]
region = "LATAM"
gates = { revenue = 300 }

[benefits.Silver]
discount = 0.1

[benefits.Gold]
discount = 0.2
mdf = 0.05
"""

# (partner_id, name, region, type, parent, manager, tier on record, Q1 revenue, Q2 revenue)
HAND_PARTNERS = [
    ("A1", "Acme", "EMEA", "VAR", None, "Dana", "Gold", 400, 350),
    ("B2", "Bluepeak", "LATAM", "MSP", None, "Sam", None, 320, 320),
    ("C3", "Cirrus", "EMEA", "MSP", "A1", "Lee", None, 100, 150),
    ("D4", "Delta", "NA", "VAR", None, "Dana", "Silver", 250, 450),
    ("E5", "Echo", "NA", "VAR", None, "Sam", "Gold", 450, 380),
    ("G7", "Gamma", "LATAM", "VAR", None, "Sam", None, 0, 260),
    ("H8", "Helix", "NA", "VAR", None, "Lee", "Gold", 450, 450),
]
# Score = 100 * min(group revenue / 500, 1) = group revenue / 5. A1's group is A1 + C3:
# Q1 400 + 100 = 500, Q2 350 + 150 = 500. Gold: score >= 50 and revenue >= 400 (LATAM: 300).
# Active program, 2026-Q2 (grace 1):
#   A1 group 500, score 100: Gold both quarters                      -> Gold
#   B2 LATAM 320 >= 300, score 64: Gold from Q1                       -> Gold
#   C3 Q1 100 (score 20): Silver; Q2 150 (30): Silver                 -> Silver
#   D4 Q1 250 (50, gate fails): Silver; Q2 450 (90): Gold, promoted   -> Gold
#   E5 Gold on record; Q1 450 held; Q2 380 < 400: Silver, grace 1 of 1 -> Gold
#   G7 LATAM Q2 260 < 300, score 52: Silver                           -> Silver
#   H8 450 both quarters: Gold; also an approved override to Gold     -> Gold
# before: Authorized 0, Silver 2, Gold 5
SCENARIO_EDITS = [
    ("requirements.Gold.gates.revenue", 460),  # raised from 400
    ("requirements.Silver.min_score", 35),  # raised from 20
    ("requirements.Gold.variants[0].gates.revenue", 250),  # LATAM lowered from 300
]
# Scenario, 2026-Q2:
#   A1 500 >= 460: Gold (no change)         B2 320 >= 250: Gold (no change)
#   C3 Q1 score 20 < 35, Q2 30 < 35: Authorized                    -> mover down
#   D4 Q2 450 < 460: stays Silver                                  -> mover down
#   E5 Q1 450 < 460: grace at Gold (1 of 1); Q2 below again, 2 > 1: demoted to Silver -> mover down
#   G7 LATAM 260 >= 250, score 52 >= 50: Gold                      -> mover up
#   H8 450 < 460 earns Silver, but the override keeps it Gold on both sides: not a mover
# after: Authorized 1, Silver 2, Gold 4


def _seed_hand(engine, program_text: str = HAND, csat: dict | None = None) -> None:
    programs.store_program(engine, parse_program(program_text, "hand.toml"), "admin", "hand.toml")
    with Session(engine) as session, session.begin():
        keys = {}
        for pid, name, region, ptype, parent, manager, tier, _q1, _q2 in HAND_PARTNERS:
            row = Partner(
                partner_id=pid,
                name=name,
                region=region,
                partner_type=ptype,
                parent_id=parent,
                account_manager=manager,
                tier=tier,
            )
            session.add(row)
            session.flush()
            keys[pid] = row.key
        for pid, *_rest, q1, q2 in HAND_PARTNERS:
            for period, value in (("2026-Q1", q1), ("2026-Q2", q2)):
                if value:
                    session.add(MetricValue(partner_key=keys[pid], period=period, metric="revenue", value=value))
        for pid, value in (csat or {}).items():
            for period in ("2026-Q1", "2026-Q2"):
                session.add(MetricValue(partner_key=keys[pid], period=period, metric="csat", value=value))
        session.add(
            Override(
                partner_key=keys["H8"],
                tier="Gold",
                reason="strategic",
                starts_on=date(2026, 1, 1),
                status="approved",
                requested_by="carol",
                decided_by="dave",
                decided_at=datetime(2026, 1, 2, tzinfo=UTC),
            )
        )


def _edited(text: str, edits) -> str:
    for key, value in edits:
        knob = next(k for k in scenarios.editable_values(text) if k.key == key)
        text = scenarios.apply_edit(text, knob, value)
    return text


@pytest.fixture
def hand(any_engine):
    _seed_hand(any_engine)
    return any_engine


def test_hand_computed_tiers_movers_and_reasons(hand):
    session = scenarios.ScenarioSession.open(hand)
    result = session.evaluate_text(_edited(HAND, SCENARIO_EDITS), "2026-Q2", "stricter gold")
    assert result.tiers_before == {"Authorized": 0, "Silver": 2, "Gold": 5}
    assert result.tiers_after == {"Authorized": 1, "Silver": 2, "Gold": 4}
    assert (result.moved_up, result.moved_down) == (1, 3)
    movers = {m.partner_id: m for m in result.movers}
    assert sorted(movers) == ["C3", "D4", "E5", "G7"]  # H8 is held by its override on both sides
    assert (movers["C3"].from_tier, movers["C3"].to_tier, movers["C3"].direction) == ("Silver", "Authorized", "down")
    assert movers["C3"].reason == "score 30.00 < min_score 35 for Silver (raised from 20)"
    assert movers["D4"].reason == "Gold gate revenue 450 < 460 (raised from 400)"
    assert movers["E5"].reason == (
        "in 2026-Q1: Gold gate revenue 450 < 460 (raised from 400); grace over: 2 periods below Gold > grace_periods 1"
    )
    assert (movers["G7"].from_tier, movers["G7"].to_tier, movers["G7"].direction) == ("Silver", "Gold", "up")
    assert movers["G7"].reason == "Gold gate revenue 260 >= 250 (lowered from 300)"
    assert (movers["D4"].name, movers["D4"].region, movers["D4"].partner_type, movers["D4"].manager) == (
        "Delta",
        "NA",
        "VAR",
        "Dana",
    )


def test_hand_computed_benefit_cost_uses_own_revenue(hand):
    # Q2 own revenue x fraction of the effective tier (Silver: discount 0.1; Gold: 0.2 + mdf 0.05).
    # Before: A1 350 Gold d70 m17.5 | B2 320 Gold d64 m16 | C3 150 Silver d15 | D4 450 Gold d90 m22.5
    #         E5 380 Gold d76 m19 | G7 260 Silver d26 | H8 450 Gold d90 m22.5
    #   discount 431, mdf 97.5; EMEA (A1, C3) 102.5, LATAM (B2, G7) 106, NA (D4, E5, H8) 320.
    #   (A1's group revenue, 500, would have given A1 d100: own revenue avoids counting C3 twice.)
    # After:  A1 d70 m17.5 | B2 d64 m16 | C3 Authorized 0 | D4 Silver d45 | E5 Silver d38
    #         G7 Gold d52 m13 | H8 Gold d90 m22.5
    #   discount 359, mdf 69; EMEA 87.5, LATAM 145, NA 195.5.
    session = scenarios.ScenarioSession.open(hand)
    result = session.evaluate_text(_edited(HAND, SCENARIO_EDITS), "2026-Q2")
    before, after = result.cost_before, result.cost_after
    assert before.metric == after.metric == "revenue"
    assert (before.total.discount, before.total.rebate, before.total.mdf) == pytest.approx((431, 0, 97.5))
    assert before.total.total == pytest.approx(528.5)
    assert {r: c.total for r, c in before.by_region.items()} == pytest.approx({"EMEA": 102.5, "LATAM": 106, "NA": 320})
    assert (after.total.discount, after.total.mdf) == pytest.approx((359, 69))
    assert {r: c.total for r, c in after.by_region.items()} == pytest.approx({"EMEA": 87.5, "LATAM": 145, "NA": 195.5})
    assert after.by_region["LATAM"].mdf == pytest.approx(16 + 13)


def test_filters_and_outputs(hand):
    session = scenarios.ScenarioSession.open(hand)
    result = session.evaluate_text(_edited(HAND, SCENARIO_EDITS), "2026-Q2", "stricter gold")
    assert [m.partner_id for m in result.filter(region="na")] == ["D4", "E5"]
    assert [m.partner_id for m in result.filter(manager="Dana")] == ["D4"]
    assert [m.partner_id for m in result.filter(partner_type="MSP")] == ["C3"]
    assert [m.partner_id for m in result.filter(region="LATAM", direction="up")] == ["G7"]
    assert result.filter(region="APAC") == []

    out = io.StringIO()
    result.csv(out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "partner_id,from_tier,to_tier,reason"
    assert lines[1:3] == [
        "C3,Silver,Authorized,score 30.00 < min_score 35 for Silver (raised from 20)",
        "D4,Gold,Silver,Gold gate revenue 450 < 460 (raised from 400)",
    ]
    assert [line.split(",")[0] for line in lines[1:]] == ["C3", "D4", "E5", "G7"]

    out = io.StringIO()
    result.json(out)
    data = json.loads(out.getvalue())
    assert data["tiers_after"] == {"Authorized": 1, "Silver": 2, "Gold": 4}
    assert data["cost_after"]["by_region"]["NA"]["total"] == pytest.approx(195.5)
    assert [m["partner_id"] for m in data["movers"]] == ["C3", "D4", "E5", "G7"]

    text = result.text()
    assert "Movers: 1 up, 3 down." in text
    assert "G7  Gamma: Silver -> Gold: Gold gate revenue 260 >= 250 (lowered from 300)" in text


def test_the_loader_reads_once_for_everyone_asking_and_again_after_a_write(hand):
    """The screen asks while the app's background read is under way: it waits for that read (hearing
    how far it is) and both get the one session; the next ask reuses it; after a write it is read again."""
    import threading

    loader = scenarios.SessionLoader()
    got: dict[str, object] = {}
    heard: dict[str, list[float]] = {"background": [], "screen": []}
    waiting = threading.Event()

    def screen_heard(fraction: float, _message: str = "") -> None:
        heard["screen"].append(fraction)
        waiting.set()

    def screen() -> None:
        got["screen"] = loader.get(hand, screen_heard)

    second = threading.Thread(target=screen)

    def background_heard(fraction: float, _message: str = "") -> None:
        heard["background"].append(fraction)
        if not second.is_alive() and not waiting.is_set():  # the read has begun: the screen asks now
            second.start()
            assert waiting.wait(10)  # it waits for this read (and has heard of it)

    got["background"] = loader.get(hand, background_heard)
    second.join(10)
    assert got["screen"] is got["background"] is loader.session
    assert heard["background"][-1] == heard["screen"][-1] == 1.0  # both heard the read to its end
    assert loader.current(hand) is loader.session and loader.get(hand) is loader.session
    session = loader.session
    assert session is not None and session.filter_choices.regions == sorted({r for r in session.regions if r})
    scenarios.save_scenario(hand, "admin", "elsewhere", session.base_text)  # audited: a write
    assert loader.current(hand) is None
    again = loader.get(hand)
    assert again is not session and loader.current(hand) is again


def test_grace_change_is_the_reason(hand):
    # grace_periods 1 -> 0: E5 (Q2 380 < 400, first period below Gold) is demoted at once.
    session = scenarios.ScenarioSession.open(hand)
    result = session.evaluate_text(_edited(HAND, [("program.grace_periods", 0)]), "2026-Q2")
    assert [(m.partner_id, m.from_tier, m.to_tier, m.reason) for m in result.movers] == [
        ("E5", "Gold", "Silver", "grace over: 1 period below Gold > grace_periods 0 (lowered from 1)"),
    ]
    # grace_periods 1 -> 2 changes nobody in Q2: E5 is already in grace under the active program.
    assert session.evaluate_text(_edited(HAND, [("program.grace_periods", 2)]), "2026-Q2").movers == []


def test_switching_a_gate_off_and_adding_one_on_an_unloaded_metric(engine):
    # csat is declared but unused by the active program, so the session has not read it yet.
    _seed_hand(engine, csat={"A1": 90, "B2": 70})
    session = scenarios.ScenarioSession.open(engine)
    assert ("csat", "none") not in session._group
    knob = scenarios.gate_knob(HAND, "Gold", "csat")
    assert knob.value is None
    stricter = scenarios.apply_edit(HAND, knob, 80)
    result = session.evaluate_text(stricter, "2026-Q2")
    # Gold now also needs csat >= 80: B2 (70), D4, E5 (no csat: 0) fall to Silver; A1 (90) keeps
    # Gold; H8 keeps Gold by its override. E5's Gold was in grace: it now fails Gold in Q1 too.
    movers = {m.partner_id: m.reason for m in result.movers}
    assert sorted(movers) == ["B2", "D4", "E5"]
    assert movers["B2"] == "Gold gate csat 70 < 80 (new)"
    assert movers["D4"] == "Gold gate csat 0 < 80 (new)"

    gate = next(k for k in scenarios.editable_values(HAND) if k.key == "requirements.Gold.gates.revenue")
    looser = scenarios.apply_edit(HAND, gate, None)
    assert "revenue = 400" not in looser and parse_program(looser).requirements["Gold"].base.gates == {}
    result = session.evaluate_text(looser, "2026-Q2")
    # without the base revenue gate, Gold needs score >= 50, and LATAM's variant still asks for
    # revenue >= 300: G7 (260) stays Silver; E5 (Q2 380, score 76) now meets Gold, but it held
    # Gold in grace anyway: nobody moves.
    assert result.movers == [] and result.tiers_after == result.tiers_before

    variant_gate = next(
        k for k in scenarios.editable_values(HAND) if k.key == "requirements.Gold.variants[0].gates.revenue"
    )
    result = session.evaluate_text(scenarios.apply_edit(HAND, variant_gate, None), "2026-Q2")
    # switching the LATAM gate off brings back the base gate (400) for LATAM: B2 (320) drops.
    assert [(m.partner_id, m.to_tier, m.reason) for m in result.movers] == [
        ("B2", "Silver", "Gold gate revenue 320 < 400 (raised from 300)")
    ]


# ------------------------------------------------------------------------- equivalence with `level`


def _load_mitel(engine) -> None:
    programs.load_program_file(engine, MITEL.parent / "mitel_2014_na.toml", "admin")
    for kind in ("partners", "metrics", "certifications"):
        imports.import_file(engine, kind, MITEL / f"{kind}.csv", "admin")


def _stored_effective(engine, period: str) -> dict[str, str]:
    with engine.connect() as conn:
        rows = queries.fetchall(
            conn,
            "SELECT p.partner_id, r.effective_tier FROM level_result r JOIN partner p ON p.key = r.partner_key "
            "WHERE r.period = ?",
            (period,),
        )
    return dict(rows)


SCALES = (0, 0.5, 0.9, 1.1, 1.5, 2.0)
CERT_TRACKS = ("cert:installation", "cert:maintenance", "cert:sales", "cert:cloud")


@st.composite
def scenario_texts(draw, base_text: str):
    """1 to 4 random edits: scale a number, switch it off, set grace, or add a gate."""
    text = base_text
    for _ in range(draw(st.integers(1, 4))):
        knobs = scenarios.editable_values(text)
        action = draw(st.sampled_from(["scale", "scale", "off", "add"]))
        try:
            if action == "add":
                program = parse_program(text)
                tier = draw(st.sampled_from(program.tiers[1:]))
                metric = draw(st.sampled_from([*program.metrics, *CERT_TRACKS]))
                kind = draw(st.sampled_from(["gate", "maximum"]))
                value = draw(st.sampled_from([0, 1, 2, 3, 100000, 300000]))
                text = scenarios.apply_edit(text, scenarios.gate_knob(text, tier, metric, kind), value)
                continue
            knob = draw(st.sampled_from(knobs))
            if knob.kind == "grace_periods":
                text = scenarios.apply_edit(text, knob, draw(st.integers(0, 3)))
            elif action == "off" and knob.removable:
                text = scenarios.apply_edit(text, knob, None)
            elif knob.value is not None:
                value = knob.value * draw(st.sampled_from(SCALES))
                if knob.kind == "at_risk_margin":
                    value = min(value, 0.5)
                text = scenarios.apply_edit(text, knob, value)
        except ServiceError:
            continue  # e.g. a target scaled to 0: refused, and the scenario stays as it was
    return text


def test_whatif_equals_a_levelling_run_with_the_scenario(tmp_path):
    """For random scenarios, the what-if tier of every partner in every period is the effective
    tier `tiertui level` stores with the scenario loaded as the program (another database)."""
    live = open_engine(f"sqlite:///{tmp_path / 'live.db'}")
    copy = open_engine(f"sqlite:///{tmp_path / 'copy.db'}")
    seat_team(live)
    seat_team(copy)
    _load_mitel(live)
    _load_mitel(copy)
    session = scenarios.ScenarioSession.open(live)
    assert session.periods == ["2014-Q3", "2014-Q4", "2015-Q1"]
    base_text = session.base_text
    seen_movers = []

    @settings(max_examples=35, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(scenario_texts(base_text))
    def check(text):
        programs.store_program(copy, parse_program(text, "scenario.toml"), "tester", "scenario.toml")
        levelling.run_levelling(copy, "tester")
        for period in session.periods:
            result = session.evaluate_text(text, period)
            assert result.tiers_by_partner(after=True) == _stored_effective(copy, period)
            for m in result.movers:
                assert m.reason  # every mover says why
            seen_movers.extend(result.movers)

    check()
    live.dispose()
    copy.dispose()
    assert seen_movers  # the random scenarios did move partners


def test_baseline_equals_the_stored_run(engine):
    _load_mitel(engine)
    levelling.run_levelling(engine, "admin")
    session = scenarios.ScenarioSession.open(engine)
    for period in session.periods:
        result = session.evaluate(session.base, period)
        assert result.tiers_by_partner(after=False) == _stored_effective(engine, period)
        assert result.movers == [] and result.tiers_before == result.tiers_after


@pytest.fixture(scope="module")
def demo_session(tmp_path_factory):
    from tiertui.services.demo import build_demo

    engine = open_engine(f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}")
    build_demo(engine, partners=300, seed=7, timeline=False)  # one version: the replay engine's case
    yield scenarios.ScenarioSession.open(engine)
    engine.dispose()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_whatif_equals_scoring_level_on_the_demo(demo_session, data):
    """Many random scenarios on the demo (variants, hierarchies, overrides, grace), against
    scoring.level on the same inputs, for every period."""
    session = demo_session
    text = data.draw(scenario_texts(session.base_text))
    program = parse_program(text)
    if any(m not in session.base.used_metrics() for m in program.used_metrics()):
        return  # scoring.level would see no values for a metric the session loaded itself
    reference = level(program, session.inputs)
    k = data.draw(st.integers(0, len(session.periods) - 1))
    result = session.evaluate(program, session.periods[k])
    expected = np.asarray(program.tiers, dtype=object)[reference[k].effective]
    assert list(result.tiers_by_partner().values()) == expected.tolist()


# ------------------------------------------------------------------------- editing


def test_editable_values_and_edits_round_trip():
    knobs = {k.key: k for k in scenarios.editable_values(HAND)}
    assert knobs["program.grace_periods"].value == 1 and knobs["program.grace_periods"].integer
    assert knobs["score[0].target"].value == 500
    assert knobs["requirements.Gold.variants[0].gates.revenue"].label == "Gold (LATAM) gate revenue"
    assert knobs["benefits.Silver.rebate"].value is None  # not set, can be added
    assert knobs["benefits.Gold.mdf"].value == 0.05

    text = scenarios.apply_edit(HAND, knobs["benefits.Silver.rebate"], 0.02)
    assert parse_program(text).benefits["Silver"].rebate == 0.02
    text = scenarios.apply_edit(text, knobs["benefits.Gold.discount"], None)
    text = scenarios.apply_edit(text, knobs["benefits.Gold.mdf"], None)
    assert "Gold" not in parse_program(text).benefits
    text = scenarios.apply_edit(text, knobs["score[0].points"], None)  # the only component: removed
    assert parse_program(text).score == ()

    with pytest.raises(ServiceError, match="score\\[1\\].target.*greater than 0"):
        scenarios.apply_edit(HAND, knobs["score[0].target"], 0)
    with pytest.raises(ServiceError, match="whole number"):
        scenarios.apply_edit(HAND, knobs["program.grace_periods"], 1.5)
    with pytest.raises(ServiceError, match="cannot be switched off"):
        scenarios.apply_edit(HAND, knobs["program.grace_periods"], None)


def test_dumps_keeps_every_fixture_program():
    root = Path(__file__).resolve().parents[2]
    files = sorted((root / "fixtures" / "programs").glob("*.toml")) + [root / "src/tiertui/data/demo_program.toml"]
    for path in files:
        source = path.read_text(encoding="utf-8")
        written = scenarios.dumps(tomllib.loads(source))
        assert dataclasses.replace(parse_program(written), source="") == dataclasses.replace(
            parse_program(source), source=""
        ), path.name


# ------------------------------------------------------------------------- persistence and the CLI entry


def _audit(engine) -> list[tuple[str, str]]:
    with Session(engine) as session:
        return [(a.actor, a.action) for a in session.exec(select(AuditEntry).order_by(AuditEntry.id))]


def test_save_reopen_export_activate_delete(hand, tmp_path):
    text = _edited(HAND, SCENARIO_EDITS)
    saved = scenarios.save_scenario(hand, "ann", "  Stricter gold ", text)
    assert (saved.name, saved.base_version, saved.created_by) == ("Stricter gold", 1, "ann")
    again = scenarios.save_scenario(hand, "bob", "Stricter gold", _edited(text, [("program.grace_periods", 2)]))
    assert again.id == saved.id and again.created_by == "ann"  # saved over, same scenario
    assert [s.name for s in scenarios.list_scenarios(hand)] == ["Stricter gold"]
    opened = scenarios.open_scenario(hand, "Stricter gold")
    assert opened.program.grace_periods == 2
    assert opened.program.requirements["Gold"].base.gates == {"revenue": 460}

    out = scenarios.export_scenario(hand, "Stricter gold", tmp_path / "stricter.toml")
    assert parse_program(out.read_text()).requirements["Silver"].base.min_score == 35

    version = scenarios.activate_scenario(hand, "carol", "Stricter gold")
    assert version.version == 2 and version.loaded_by == "carol"
    versions = programs.program_versions(hand)
    assert [(v.version, v.active) for v in versions] == [(1, False), (2, True)]
    assert versions[0].content == HAND  # the old version stays, unchanged
    assert programs.active_program(hand).requirements["Gold"].base.gates == {"revenue": 460}

    scenarios.delete_scenario(hand, "dave", "Stricter gold")
    assert scenarios.list_scenarios(hand) == []
    with pytest.raises(ServiceError, match="no scenario named 'Stricter gold'"):
        scenarios.open_scenario(hand, "Stricter gold")
    assert _audit(hand)[-5:] == [
        ("ann", "scenario.save"),
        ("bob", "scenario.save"),
        ("carol", "program.activate"),
        ("carol", "scenario.activate"),
        ("dave", "scenario.delete"),
    ]


def _scenario_rows(engine) -> list[tuple]:
    with Session(engine) as session:
        return [
            (s.id, s.name, s.content, s.base_program_id, s.created_by, s.created_at, s.updated_at)
            for s in session.exec(select(Scenario).order_by(Scenario.id))
        ]


def test_activation_is_one_transaction(hand, monkeypatch):
    """A failure part-way through activation (after the new program version is written, at the
    scenario's audit entry) leaves no new program version, the old one active, the scenario row
    and the audit log as they were; activating again then works."""
    scenarios.save_scenario(hand, "ann", "Stricter gold", _edited(HAND, SCENARIO_EDITS))
    versions = [(v.id, v.version, v.active, v.content) for v in programs.program_versions(hand)]
    rows, log = _scenario_rows(hand), _audit(hand)
    record = audit.record

    def failing(session, user, action, *args, **detail):
        if action == "scenario.activate":
            raise RuntimeError("the audit log is unavailable")
        record(session, user, action, *args, **detail)

    monkeypatch.setattr(audit, "record", failing)
    with pytest.raises(RuntimeError, match="audit log is unavailable"):
        scenarios.activate_scenario(hand, "carol", "Stricter gold")
    assert [(v.id, v.version, v.active, v.content) for v in programs.program_versions(hand)] == versions
    assert programs.active_version(hand).version == 1
    assert _scenario_rows(hand) == rows
    assert _audit(hand) == log

    monkeypatch.setattr(audit, "record", record)
    assert scenarios.activate_scenario(hand, "carol", "Stricter gold").version == 2
    assert _audit(hand)[-2:] == [("carol", "program.activate"), ("carol", "scenario.activate")]


def test_activation_composes_in_a_callers_transaction(hand):
    """activate_in does its work in the caller's transaction: rolled back with it."""
    scenarios.save_scenario(hand, "ann", "Stricter gold", _edited(HAND, SCENARIO_EDITS))
    log = _audit(hand)
    with pytest.raises(RuntimeError, match="later work failed"), UnitOfWork(hand) as uow:
        assert scenarios.activate_in(uow, "carol", "Stricter gold").version == 2
        raise RuntimeError("later work failed")
    assert [v.version for v in programs.program_versions(hand)] == [1]
    assert _audit(hand) == log


def test_save_refuses_a_broken_program(hand):
    with pytest.raises(ServiceError, match="broken, line 4: program.frequency: unknown frequency .weekly."):
        scenarios.save_scenario(hand, "ann", "broken", HAND.replace('"quarterly"', '"weekly"'))
    with pytest.raises(ServiceError, match="needs a name"):
        scenarios.save_scenario(hand, "ann", "  ", HAND)
    assert scenarios.list_scenarios(hand) == []


def test_whatif_file_and_its_messages(hand, tmp_path):
    good = tmp_path / "stricter.toml"
    good.write_text(_edited(HAND, SCENARIO_EDITS))
    result = scenarios.whatif(hand, good, "2026-q2")
    assert result.name == "stricter.toml" and result.period == "2026-Q2"
    out = io.StringIO()
    scenarios.write_whatif(result, "csv", out)
    assert out.getvalue().splitlines()[4] == "G7,Silver,Gold,Gold gate revenue 260 >= 250 (lowered from 300)"

    bad = tmp_path / "bad.toml"
    bad.write_text(HAND.replace("[requirements.Gold]", "[requirements.Gould]"))
    with pytest.raises(
        ServiceError, match=r"bad.toml, line \d+: requirements.Gould: unknown tier 'Gould' \(did you mean 'Gold'\?\)"
    ):
        scenarios.whatif(hand, bad, "2026-Q2")
    renamed = tmp_path / "renamed.toml"
    renamed.write_text(
        HAND.replace('"Authorized", "Silver", "Gold"', '"Authorized", "Silver", "Gold", "Platinum"')
        + "\n[requirements.Platinum]\nmin_score = 90\n"
    )
    with pytest.raises(ServiceError, match="scenario's tiers .* differ .* keeps the tiers"):
        scenarios.whatif(hand, renamed, "2026-Q2")
    with pytest.raises(ServiceError, match="period 2025-Q4 has no metrics; the periods are 2026-Q1, 2026-Q2"):
        scenarios.whatif(hand, good, "2025-Q4")
    with pytest.raises(ServiceError, match="cannot read"):
        scenarios.whatif(hand, tmp_path / "missing.toml", "2026-Q2")
