"""Mistakes lose nothing: a mistyped --db creates nothing; read-only media open read-only.

Real processes (the installed `tiertui`). Read-only media are a read-only bind mount made in a
mount namespace of the test's own (``unshare -m``), so that even root cannot write there.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from datetime import date

import pytest
from cli_runner import TIERTUI, tiertui
from db_builder import PROGRAM, seat_team, seed

from tiertui.services import overrides
from tiertui.services.levelling import run_levelling
from tiertui.storage import open_engine

READING = [
    ("status",),
    ("export", "scorecards", "--period", "2026-Q2"),
    ("override", "list"),
    ("program", "list"),
    ("audit",),
    ("users", "list"),
    ("users",),
    ("whatif", "scenario.toml"),
]
OTHER = [("level",), ("override", "approve", "1"), ("db", "upgrade"), ("offline", "sync", "trip.db"), ()]  # () the app


@pytest.mark.parametrize("command", READING + OTHER, ids=lambda c: " ".join(c) or "app")
def test_a_mistyped_db_path_creates_nothing_and_says_how_to_make_one(tmp_path, command):
    (tmp_path / "scenario.toml").write_text(PROGRAM)
    typo = tmp_path / "tpyo" / "deeper" / "team.db"
    proc = tiertui("--db", f"sqlite:///{typo}", *command, check=False, cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == (
        f"tiertui: error: there is no database at {typo}, and nothing was created there. Check the path, or "
        f"make a database: `tiertui --db sqlite:///{typo} program load FILE` (your program file), "
        "or try the demo: `tiertui demo`\n"
    )
    assert not (tmp_path / "tpyo").exists()  # no file, no folders


def test_the_default_database_is_not_made_by_reading_either(tmp_path):
    env = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"), "TIERTUI_DATABASE_URL": ""}
    proc = tiertui("status", env=env, check=False)
    assert proc.returncode == 1 and "there is no database at " in proc.stderr and "tiertui demo" in proc.stderr
    assert not (tmp_path / "data").exists()


def test_a_path_with_spaces_is_quoted_in_the_suggestion(tmp_path):
    typo = tmp_path / "my team" / "x.db"
    proc = tiertui("--db", f"sqlite:///{typo}", "status", check=False)
    assert f"`tiertui --db {shlex.quote(f'sqlite:///{typo}')} program load FILE`" in proc.stderr


def test_writes_that_build_a_database_make_it_and_say_where(tmp_path):
    (tmp_path / "program.toml").write_text(PROGRAM)
    new = tmp_path / "new" / "team.db"
    loaded = tiertui("--db", f"sqlite:///{new}", "program", "load", str(tmp_path / "program.toml"))
    assert loaded.stderr == f"tiertui: made a new database: {new}\n" and new.is_file()
    again = tiertui("--db", f"sqlite:///{new}", "program", "load", str(tmp_path / "program.toml"))
    assert again.stderr == ""  # said once, when it was made
    other = tmp_path / "people.db"
    added = tiertui("--db", f"sqlite:///{other}", "users", "add", "bo", "--role", "viewer", user="ann")
    assert added.stdout == "Added bo as viewer.\n" and added.stderr == f"tiertui: made a new database: {other}\n"


# ------------------------------------------------------------------------------ read-only media


def _can_mount_read_only(folder) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount --bind {folder} {folder} && mount -o remount,ro,bind {folder} {folder}"],
        capture_output=True,
    )
    return probe.returncode == 0


def on_read_only_media(folder, *args):
    """`tiertui ARGS` with ``folder`` mounted read-only for that process only."""
    d = shlex.quote(str(folder))
    script = f"mount --bind {d} {d} && mount -o remount,ro,bind {d} {d} && exec {shlex.join([TIERTUI, *args])}"
    env = {**os.environ, "TIERTUI_USER": "viv"}
    return subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, env=env)


@pytest.fixture
def media(tmp_path):
    folder = tmp_path / "usb"
    folder.mkdir()
    if not _can_mount_read_only(folder):
        pytest.skip("cannot make a read-only mount here (unshare -m and mount need privileges)")
    engine = open_engine(f"sqlite:///{folder / 'team.db'}")
    seat_team(engine)
    seed(engine)
    run_levelling(engine, "admin")
    overrides.request(engine, "mia", "B2", "Gold", "launch partner", date(2026, 4, 1))
    engine.dispose()
    (tmp_path / "scenario.toml").write_text(PROGRAM)
    return folder


def test_a_database_on_read_only_media_opens_read_only_for_reading(media, tmp_path):
    db = f"sqlite:///{media / 'team.db'}"
    before = sorted(p.name for p in media.iterdir()), (media / "team.db").read_bytes()
    expected = tiertui("--db", db, "export", "scorecards", "--period", "2026-Q2", user="viv").stdout
    for command in READING:
        args = [a if a != "scenario.toml" else str(tmp_path / "scenario.toml") for a in command]
        proc = on_read_only_media(media, "--db", db, *args)
        assert proc.returncode == 0 and proc.stderr == "", (command, proc.stderr)
        assert proc.stdout, command
        if command[0] == "export":
            assert proc.stdout == expected
    level = on_read_only_media(media, "--db", db, "level")
    assert (level.returncode, level.stdout) == (1, "")
    assert level.stderr == (
        f"tiertui: error: {media / 'team.db'} is read-only (the file or its folder cannot be written): "
        "reading commands and the app open it read-only; this command changes it\n"
    )
    assert (sorted(p.name for p in media.iterdir()), (media / "team.db").read_bytes()) == before


def test_a_write_that_fails_on_a_new_path_leaves_nothing_behind(tmp_path):
    (tmp_path / "bad.toml").write_text("[program]\nname = 'x'\n")
    new = tmp_path / "fresh" / "inner" / "team.db"
    proc = tiertui("--db", f"sqlite:///{new}", "program", "load", str(tmp_path / "bad.toml"), check=False)
    assert proc.returncode == 1 and "made a new database" not in proc.stderr
    assert not (tmp_path / "fresh").exists()
