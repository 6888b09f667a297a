"""Levelling runs and overrides through the services, on a real SQLite database."""

from __future__ import annotations

from datetime import date

import pytest
from db_builder import FOUR_UC, TEAM, seat_team, seed
from sqlmodel import Session, select

from tiertui.services import ServiceError, exports, overrides
from tiertui.services.levelling import run_levelling
from tiertui.storage import queries
from tiertui.storage.tables import AuditEntry, LevelResult, Override


def results(engine, period="2026-Q2"):
    return {r.partner_id: r for r in exports.scorecard_rows(engine, period)}


def test_level_stores_results_and_details_and_is_idempotent(any_engine):
    engine = any_engine
    seed(engine, certs=FOUR_UC)
    summary = run_levelling(engine, "ann")
    # A1 (Gold on record, grace 1): Q1 group revenue 600 + 4 uc people: score 36 + 40 = 76, Gold held;
    # Q2 revenue 200: score 12 + 40 = 52 but 200 < 500: Silver only -> grace (keeps Gold, at risk)
    a1 = results(any_engine)["A1"]
    assert (a1.earned_tier, a1.qualified_tier, a1.event, a1.at_risk, a1.score) == ("Gold", "Silver", "grace", True, 52)
    assert summary.periods == ["2026-Q1", "2026-Q2"]
    assert summary.events == {"grace": 1, "held": 2}
    # B2: 300 revenue -> 18 points; C3: 100 revenue, no certified people -> 6 points: both Authorized
    assert summary.tiers == {"Authorized": 2, "Silver": 0, "Gold": 1, "Platinum": 0}
    with Session(any_engine) as s:
        stored = {(r.period, r.partner_key): r for r in s.exec(select(LevelResult))}
    with any_engine.connect() as conn:
        details = queries.unpack_group_values(stored[("2026-Q2", 1)].group_values, queries.result_metrics(conn))
    assert details == {"revenue": 200.0, "escalations": 0.0, "csat": 0.0, "cert:uc": 4.0}
    run_levelling(engine, "ann")
    with Session(any_engine) as s:
        again = {(r.period, r.partner_key): r for r in s.exec(select(LevelResult))}
    assert {k: v.model_dump() for k, v in stored.items()} == {k: v.model_dump() for k, v in again.items()}


def test_pending_and_rejected_overrides_have_no_effect(any_engine):
    engine = any_engine
    seed(any_engine)
    pending = overrides.request(engine, "ann", "B2", "Platinum", "strategic", date(2026, 1, 1))
    rejected = overrides.request(engine, "ann", "B2", "Gold", "strategic", date(2026, 1, 1))
    overrides.decide(engine, "bob", rejected, approve=False, note="not yet")
    run_levelling(engine, "ann")
    b2 = results(any_engine)["B2"]
    assert b2.effective_tier == b2.earned_tier == "Authorized"  # 300 revenue: score 18 < 20
    assert overrides.get(engine, pending).status == "pending"
    assert overrides.get(engine, rejected).note == "not yet"


def test_four_eyes_the_requester_cannot_decide_and_nothing_changes(any_engine):
    engine = any_engine
    seed(any_engine)
    oid = overrides.request(engine, "ann", "B2", "Gold", "launch partner", date(2026, 1, 1))
    with pytest.raises(ServiceError, match=f"you requested override {oid}; someone else must approve it"):
        overrides.decide(engine, "ann", oid, approve=True)
    with pytest.raises(ServiceError, match="someone else must reject it"):
        overrides.decide(engine, "ann", oid, approve=False)
    assert overrides.get(engine, oid).status == "pending"


def test_approval_changes_the_effective_tier_at_once_but_not_the_earned_tier(any_engine):
    engine = any_engine
    seed(any_engine)
    run_levelling(engine, "ann")
    oid = overrides.request(engine, "ann", "B2", "Gold", "launch partner", date(2026, 4, 1), date(2026, 12, 31))
    view = overrides.decide(engine, "bob", oid, approve=True, note="ok")
    assert (view.status, view.decided_by) == ("approved", "bob")
    q1, q2 = results(engine, "2026-Q1")["B2"], results(engine, "2026-Q2")["B2"]
    assert (q1.effective_tier, q2.effective_tier) == ("Authorized", "Gold")  # the window starts in Q2
    assert q2.earned_tier == "Authorized"
    run_levelling(engine, "ann")  # a full run agrees with the quick refresh
    assert results(engine, "2026-Q2")["B2"].effective_tier == "Gold"


def test_a_second_decision_is_refused_with_who_and_when(any_engine):
    engine = any_engine
    seed(any_engine)
    oid = overrides.request(engine, "ann", "B2", "Gold", "launch partner", date(2026, 1, 1))
    overrides.decide(engine, "bob", oid, approve=True)
    with pytest.raises(ServiceError, match=rf"override {oid} is already approved by bob at 20\d\d-"):
        overrides.decide(engine, "cy", oid, approve=False)
    assert overrides.get(engine, oid).decided_by == "bob"


@pytest.mark.parametrize(
    "partner, tier, reason, starts, expires, message",
    [
        ("B2", "Gld", "x", date(2026, 1, 1), None, "unknown tier 'Gld' (did you mean 'Gold'?)"),
        ("B2", "Gold", "  ", date(2026, 1, 1), None, "a reason is required"),
        ("B2", "Gold", "x", date(2026, 5, 1), date(2026, 4, 1), "expiry 2026-04-01 is before the start 2026-05-01"),
        ("ZZ", "Gold", "x", date(2026, 1, 1), None, "no partner 'ZZ'"),
    ],
)
def test_bad_requests_are_refused_and_nothing_is_stored(any_engine, partner, tier, reason, starts, expires, message):
    engine = any_engine
    seed(any_engine)
    with pytest.raises(ServiceError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        overrides.request(engine, "ann", partner, tier, reason, starts, expires)
    with Session(any_engine) as s:
        assert s.exec(select(Override)).all() == []


def test_every_write_is_audited_with_who_and_what(any_engine):
    engine = any_engine
    seed(any_engine)
    oid = overrides.request(engine, "ann", "B2", "Gold", "launch", date(2026, 1, 1))
    overrides.decide(engine, "bob", oid, approve=True)
    run_levelling(engine, "cy")
    with Session(any_engine) as s:
        entries = [(e.actor, e.action) for e in s.exec(select(AuditEntry).order_by(AuditEntry.id))]
    seated = [(actor, action) for actor, action in entries if action == "user.add"]
    assert seated == [("setup", "user.add")] * len(TEAM)  # the fixture's cast, also audited
    entries = [entry for entry in entries if entry[1] != "user.add"]
    assert entries == [
        ("admin", "program.activate"),
        ("ann", "override.request"),
        ("bob", "override.approve"),
        ("cy", "level.run"),
    ]


def test_export_refuses_unknown_and_unlevelled_periods(any_engine):
    engine = any_engine
    seed(any_engine)
    with pytest.raises(ServiceError, match="nothing is levelled yet: run `tiertui level` first"):
        exports.scorecard_rows(engine, "2026-Q2")
    run_levelling(engine, "ann")
    with pytest.raises(ServiceError, match="no results for period 2025-Q4; levelled periods: 2026-Q1, 2026-Q2"):
        exports.scorecard_rows(engine, "2025-Q4")


def _stored(engine):
    with Session(engine) as s:
        return {(r.period, r.partner_key): r.model_dump() for r in s.exec(select(LevelResult))}


def test_relevelling_after_a_change_rewrites_it_and_matches_a_fresh_run(any_engine, tmp_path):
    from sqlalchemy import update

    from tiertui.storage import open_engine
    from tiertui.storage.tables import MetricValue

    keys = seed(any_engine, certs=FOUR_UC)
    run_levelling(any_engine, "ann")
    with Session(any_engine) as s, s.begin():  # B2 sells much more in Q2
        s.exec(
            update(MetricValue)
            .where(MetricValue.partner_key == keys["B2"], MetricValue.period == "2026-Q2")
            .values(value=950)
        )
    run_levelling(any_engine, "ann")
    b2 = results(any_engine)["B2"]
    assert (b2.score, b2.qualified_tier, b2.event) == (57.0, "Silver", "promoted")  # 60 * 0.95 = 57
    fresh = open_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    seat_team(fresh)
    seed(fresh, certs=FOUR_UC)
    with Session(fresh) as s, s.begin():
        s.exec(
            update(MetricValue)
            .where(MetricValue.partner_key == keys["B2"], MetricValue.period == "2026-Q2")
            .values(value=950)
        )
    run_levelling(fresh, "ann")
    assert _stored(any_engine) == _stored(fresh)


def test_scorecards_explain_results_with_the_program_that_produced_them(engine):
    from db_builder import PROGRAM

    from tiertui.scoring import parse_program
    from tiertui.services import programs
    from tiertui.services.read import engine as reads

    seed(engine, certs=FOUR_UC)
    run_levelling(engine, "ann")
    # a stricter program is activated but not levelled yet: Silver needs 60 points, Gold 70
    stricter = PROGRAM.replace("[requirements.Silver]\nmin_score = 20", "[requirements.Silver]\nmin_score = 60")
    stricter = stricter.replace("[requirements.Gold]\nmin_score = 50", "[requirements.Gold]\nmin_score = 70")
    assert "min_score = 60" in stricter and "min_score = 70" in stricter
    programs.store_program(engine, parse_program(stricter, "strict.toml"), "admin", "strict.toml", level=False)
    card = reads.partner_scorecard(engine, "A1", "2026-Q2", date(2026, 11, 23)).card
    # A1 scores 52 and is Gold in grace: under the rules that produced it, it qualifies Silver (>= 20)
    # and Gold asks for 50 points; the stricter rules would say Authorized and 70
    assert (card.earned, card.qualified) == ("Gold", "Silver")
    assert next(c for c in card.checks if c.tier == "Gold" and c.kind == "min_score").threshold == 50
