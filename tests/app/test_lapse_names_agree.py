"""A lapse risk names its people alike wherever it is read: the scorecard in the app, the export's
sentences and the partner's own page (spec v2 §3.2, §3.8)."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from tiertui.services import report
from tiertui.services.levelling import run_levelling
from tiertui.services.read import engine as reads
from tiertui.storage import Certification, open_engine, queries

TODAY = date(2026, 1, 15)  # as the other app tests
PERIOD = "2025-Q4"


def test_a_person_spelt_two_ways_in_a_group_is_named_alike_by_every_reader(sqlite_app_db):
    """P00027 (a subsidiary of P00004) lists "  ana ruiz" and "Bo Li" before P00004's own "Ana Ruiz"
    and "bo li ": two people, each spelt two ways, all expiring in 2026-Q1. P00004's lapse risk
    names them as its own rows spell them, on every reader."""
    engine = open_engine(sqlite_app_db)
    try:
        with engine.connect() as conn:
            keys = dict(
                queries.fetchall(conn, "SELECT partner_id, key FROM partner WHERE partner_id IN ('P00004', 'P00027')")
            )
        with Session(engine) as session, session.begin():
            for pid, person in (
                ("P00027", "  ana ruiz"),
                ("P00027", "Bo Li"),
                ("P00004", "Ana Ruiz"),
                ("P00004", "bo li "),
            ):
                session.add(
                    Certification(
                        partner_key=keys[pid],
                        person=person,
                        certification="Sales Pro",
                        track="sales",
                        earned_on=date(2024, 1, 1),
                        expires_on=date(2026, 2, 1),
                    )
                )
        run_levelling(engine, "dave")
        said = "(Ana Ruiz on 2026-02-01, bo li on 2026-02-01)"
        card = reads.partner_scorecard(engine, "P00004", PERIOD, TODAY).card
        assert [r.text for r in card.risks if r.kind == "lapse" and said in r.text]
        sentences = reads.period_sentences(engine, PERIOD)["P00004"].at_risk
        assert sentences == tuple(r.text for r in card.risks)
        _program, pages = report.build_pages(engine, PERIOD, "P00004", today=TODAY)
        named = [c.person for lapse in pages[0].lapses for c in lapse.certifications]
        assert named == ["Ana Ruiz", "bo li"]
    finally:
        engine.dispose()
