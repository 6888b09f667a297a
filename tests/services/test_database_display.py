"""``storage.database.display_name``: which database, for a status line, and never a password."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tiertui.storage.database import ENV_URL, UNKNOWN_DATABASE, display_name

PASSWORDS = [
    "s3cret",
    "p@ss",
    "p@ss@word",
    "pa:ss",
    "pa/ss",
    "pa?ss",
    "pa#ss",
    "pa%ss",
    "pa ss",
    "p@:/?#%&=+ss",
    "ünïcödé",
    "@",
    ":",
    "1234",  # would pass for a port
]


# ------------------------------------------------------------------------------ SQLite


@pytest.mark.parametrize(
    "url, expected",
    [
        ("sqlite:///tiertui.db", "tiertui.db"),
        ("sqlite:///data/tiertui.db", "tiertui.db"),
        ("sqlite:///./tiertui.db", "tiertui.db"),
        ("sqlite:///../up/tiertui.db", "tiertui.db"),
        ("sqlite:////home/ann/.local/share/tiertui/tiertui.db", "tiertui.db"),
        ("sqlite+pysqlite:////srv/team@corp/levelling.sqlite", "levelling.sqlite"),
        ("sqlite:///~/tiertui.db", "tiertui.db"),
        ("sqlite:////tmp/with space/my db.db", "my db.db"),
        ("sqlite:///file:/tmp/x.db?mode=ro&uri=true", "x.db"),
        ("sqlite:///file:my%20file.db?uri=true", "my file.db"),
        ("  sqlite:///padded.db  ", "padded.db"),
    ],
)
def test_a_sqlite_file_is_shown_by_its_name(url, expected):
    assert display_name(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite+pysqlite:///:memory:",
        "sqlite:///file:memdb1?mode=memory&cache=shared&uri=true",
    ],
)
def test_a_memory_database(url):
    assert display_name(url) == "in memory"


def test_none_is_the_database_tiertui_opens(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV_URL, raising=False)
    assert display_name(None) == "tiertui.db"
    monkeypatch.setenv(ENV_URL, "postgresql+psycopg://ann:secret@db.example.com:5432/team")
    assert display_name(None) == "ann@db.example.com:5432/team"


# ------------------------------------------------------------------------------ servers


@pytest.mark.parametrize(
    "url, expected",
    [
        ("postgresql+psycopg://ann@db.example.com:5432/tiertui", "ann@db.example.com:5432/tiertui"),
        ("postgresql+psycopg://ann:s3cret@db.example.com:5432/tiertui", "ann@db.example.com:5432/tiertui"),
        ("postgresql://ann@db.example.com/tiertui", "ann@db.example.com/tiertui"),
        ("postgresql://db.example.com:6543/tiertui", "db.example.com:6543/tiertui"),
        ("postgresql://db.example.com", "db.example.com"),
        ("postgresql:///tiertui", "localhost/tiertui"),
        ("postgresql:///tiertui?host=/var/run/postgresql", "/var/run/postgresql/tiertui"),
        ("postgresql://ann:pw@[::1]:5432/tiertui", "ann@[::1]:5432/tiertui"),
        ("postgresql://a%40b.com:pw@host/db", "a@b.com@host/db"),  # an encoded @ in the user name
        ("postgresql://:pw@host/db", "host/db"),
        ("postgresql://host/db?user=ann&password=secret", "ann@host/db"),
        ("postgresql://ann@host/db?password=secret&sslmode=require", "ann@host/db"),
        ("mysql+pymysql://ann:pw@mysql.example.com:3306/tiertui", "ann@mysql.example.com:3306/tiertui"),
    ],
)
def test_a_server_is_user_at_host_port_database(url, expected):
    assert display_name(url) == expected


@pytest.mark.parametrize("password", PASSWORDS)
@pytest.mark.parametrize("encoded", [False, True], ids=["raw", "url-encoded"])
def test_no_part_of_a_password_is_ever_shown(password, encoded):
    secret = quote(password, safe="") if encoded else password
    url = f"postgresql+psycopg://ann:{secret}@db.example.com:5432/tiertui"
    # nothing between the user name and the last @ is read: not the password, nor any piece of it
    assert display_name(url) == "ann@db.example.com:5432/tiertui"


@pytest.mark.parametrize("password", PASSWORDS)
def test_no_password_in_the_query_is_shown(password):
    shown = display_name(f"postgresql://host/db?user=ann&password={quote(password, safe='')}")
    assert shown == "ann@host/db"


def test_an_at_sign_in_the_password_and_in_the_query_still_shows_no_password():
    shown = display_name("postgresql://ann:se@cret@host/db?application_name=a@b")
    assert "se" not in shown and "cret" not in shown and shown.startswith("ann@")


# ------------------------------------------------------------------------------ garbage


@pytest.mark.parametrize(
    "url",
    [
        "tiertui.db",  # a file name without a scheme
        "://nothing",
        "not a url at all",
        "postgresql://ann:secret",  # the password would be read as a port
        "postgresql://ann:secret@host:notaport/db",
        "1http://x",
        "\x00\x01",
    ],
)
def test_garbage_is_an_unknown_database_and_shows_no_secret(url):
    shown = display_name(url)
    assert shown == UNKNOWN_DATABASE
    assert "secret" not in shown


def test_empty_means_the_default_database(monkeypatch):
    monkeypatch.delenv(ENV_URL, raising=False)
    assert display_name("") == "tiertui.db"


def test_control_characters_never_reach_the_status_line():
    assert display_name("sqlite:///bad\nname\x1b[31m.db") == "bad?name?[31m.db"
    shown = display_name("postgresql://ann\x1b:pw@host/d\tb")
    assert shown.isprintable() and "pw" not in shown
