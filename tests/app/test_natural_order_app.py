"""Pilot test (issue 13, natural order): the partner list shows ids and names as a person reads them,
P2 before P10 and HP-10001 after HP-10000, on SQLite (the fast reader) and PostgreSQL (the engine)."""

from __future__ import annotations

from pathlib import Path

from helpers import running, settle
from hostile_corpus import MARKUP

from tiertui.app.widgets import VirtualTable
from tiertui.services.imports import import_file
from tiertui.storage import open_engine

# the test database's ids are P00001 to P00120 (the same numbers, zero-padded); these come between
EXTRA = [
    ("HP-100000", "Zeta 10 Labs"),
    ("HP-10001", "Zeta 9 Labs"),
    ("HP-1000", MARKUP[2]),  # "ACME [UK] Ltd", shown as written
    ("HP-10000", "zeta 100 Labs"),
    ("P10", "Zeta 2 Labs"),
    ("P2", "ZETA 1 Labs"),
]


def pytest_generate_tests(metafunc):
    if "app_db" in metafunc.fixturenames:
        metafunc.parametrize("app_db", ["sqlite", "postgresql"], indirect=True)


def add_partners(url: str, tmp_path: Path) -> None:
    csv = tmp_path / "extra.csv"
    csv.write_text("partner_id,name,region\n" + "".join(f'{pid},"{name}",EMEA\n' for pid, name in EXTRA))
    engine = open_engine(url)
    try:
        import_file(engine, "partners", csv, "dave")
    finally:
        engine.dispose()


def shown_ids(table: VirtualTable, lines: int) -> list[str]:
    """The partner ids as the screen shows them, top to bottom (the first column of each row line)."""
    texts = [table.render_line(y).text for y in range(lines + 1)]
    return [t.split()[0] for t in texts if t.strip() and t.split()[0][0] in "HP"][:lines]


async def test_the_list_shows_ids_and_names_in_natural_order(app_db, make_app, tmp_path):
    add_partners(app_db, tmp_path)
    app = make_app()
    async with running(app, "l") as pilot:
        table = app.screen.query_one(VirtualTable)
        assert shown_ids(table, 16) == [
            "HP-1000",
            "HP-10000",
            "HP-10001",
            "HP-100000",
            "P00001",
            "P00002",
            "P2",
            *(f"P{i:05d}" for i in range(3, 11)),
            "P10",  # after P00010: the same number, the id as written breaks the tie
        ]
        assert "ACME [UK] Ltd" in table.render_line(1).text  # HP-1000's name, as written (not markup)
        await pilot.press("S")  # the same order, reversed: the last ids first
        await settle(pilot)
        assert shown_ids(table, 3) == ["P00120", "P00119", "P00118"]
        await pilot.press("s", "S")  # by name, from Z: 100 after 10 after 9, P10's "Zeta 2" after P2's "ZETA 1"
        await settle(pilot)
        assert app.screen.partner_query.sort == "name" and app.screen.partner_query.descending
        # then the test database's last name from Z: "Summit Systems 71"
        assert shown_ids(table, 6) == ["HP-10000", "HP-100000", "HP-10001", "P10", "P2", "P00071"]
