"""`tiertui note add` and `tiertui note list` (issue 13), run as a user runs them: the installed script."""

from __future__ import annotations

import re

import pytest
from cli_runner import tiertui
from db_builder import seat_team, seed
from hostile_corpus import BIDI, ESCAPES, OVERWRITE, raw_controls

from tiertui.services import notes
from tiertui.storage import open_engine


@pytest.fixture
def db(tmp_path) -> list[str]:
    path = tmp_path / "notes.db"
    engine = open_engine(f"sqlite:///{path}")
    seat_team(engine)
    seed(engine)
    engine.dispose()
    return ["--db", f"sqlite:///{path}"]


def test_notes_are_added_and_listed_newest_first_with_date_and_author(db):
    added = tiertui(*db, "note", "add", "B2", "Called Ana: happy with Silver", user="viv").stdout
    assert re.fullmatch(r"Noted on B2 by viv at \d{4}-\d\d-\d\d \d\d:\d\d UTC\.\n", added)
    tiertui(*db, "note", "add", "B2", "Follow-up\nshe wants Gold", user="mia")
    lines = tiertui(*db, "note", "list", "B2", user="viv").stdout.splitlines()
    assert [re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC  ", "", line) for line in lines] == [
        "mia: Follow-up",
        "    she wants Gold",
        "viv: Called Ana: happy with Silver",
    ]
    assert tiertui(*db, "note", "list", "A1").stdout == ""


def test_hostile_note_text_is_printed_literally(db):
    engine = open_engine(db[1])
    try:
        for text in ESCAPES + OVERWRITE + BIDI:
            notes.add_note(engine, "mia", "B2", text)
    finally:
        engine.dispose()
    out = tiertui(*db, "note", "list", "B2").stdout
    assert raw_controls(out) == set()
    assert "\\x1b]52;c;ZXZpbCBjbGlwYm9hcmQ=\\x07" in out and "ok\\rEVIL" in out and "\\u202eevil.exe" in out


@pytest.mark.parametrize(
    ("args", "user", "message"),
    [
        (("add", "B2", "   "), "mia", "tiertui: error: a note needs some text\n"),
        (("add", "B2", "x" * 2001), "mia", "tiertui: error: a note is at most 2,000 characters; this one has 2,001\n"),
        (("add", "ZZ9", "hello"), "mia", "tiertui: error: no partner 'ZZ9'\n"),
        (("list", "ZZ9"), "mia", "tiertui: error: no partner 'ZZ9'\n"),
        (("add", "B2", "hello"), "zed", "zed is not a user of this database; writing call notes needs the viewer role"),
    ],
)
def test_refusals_say_why(db, args, user, message):
    proc = tiertui(*db, "note", *args, user=user, check=False)
    assert proc.returncode == 1 and proc.stdout == ""
    assert message in proc.stderr
    assert tiertui(*db, "note", "list", "B2").stdout == ""
