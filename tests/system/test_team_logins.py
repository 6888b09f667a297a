"""On a PostgreSQL team database the login is the person: the command line, as real processes."""

from __future__ import annotations

import pytest
from cli_runner import tiertui
from db_builder import PROGRAM, postgres_logins
from sqlalchemy.engine import make_url

from tiertui.storage import open_engine


@pytest.fixture
def team(postgres_url, tmp_path):
    open_engine(postgres_url).dispose()  # the schema, made by the database's owner
    (tmp_path / "program.toml").write_text(PROGRAM)
    with postgres_logins(postgres_url, "ana", "ben") as urls:
        yield urls


def login(url: str) -> str:
    return make_url(url).username


def test_each_person_acts_only_through_their_own_login(team, tmp_path):
    ana, ben = team["ana"], team["ben"]
    # ben tries to seat ana as the first admin: refused, nothing added
    seized = tiertui("--db", ben, "users", "add", "Ana Lima", "--role", "admin", "--login", login(ana), check=False)
    assert seized.returncode == 1
    assert f"its first admin adds themself, connected as their own login (you are connected as {login(ben)}" in (
        seized.stderr
    )
    # ana seats herself; TIERTUI_USER (here "whoever") does not matter for a login that is nobody yet
    first = tiertui("--db", ana, "users", "add", "Ana Lima", "--role", "admin", "--login", login(ana), user="whoever")
    assert first.stdout == "Added Ana Lima as admin.\n"
    added = tiertui("--db", ana, "users", "add", "Ben Ode", "--role", "viewer", "--login", login(ben), user="")
    assert added.stdout == "Added Ben Ode as viewer.\n"
    no_login = tiertui("--db", ana, "users", "add", "Cy Ng", "--role", "viewer", user="", check=False)
    assert no_login.stderr == (
        "tiertui: error: Cy Ng is not a PostgreSQL login name: give theirs "
        "(tiertui users add 'Cy Ng' --role viewer --login THEIR_LOGIN)\n"
    )

    # the mapping: ben's login is Ben Ode, whatever the computer's login name is
    listing = tiertui("--db", ben, "users", "list", user="").stdout.splitlines()
    assert [line.split()[:3] for line in listing] == [["Ana", "Lima", "admin"], ["*", "Ben", "Ode"]]
    assert [line.split()[-2:] for line in listing] == [["login", login(ana)], ["login", login(ben)]]
    assert tiertui("--db", ben, "users", "list", "--user", "Ben Ode").returncode == 0

    # ben cannot act as ana: --user and TIERTUI_USER are refused, with the reason, and change nothing
    why = (
        f"tiertui: error: you are connected to this team database as the login {login(ben)}, which is Ben Ode: "
        "you may act only as Ben Ode, not as Ana Lima"
    )
    for args, user in (
        (("users", "set", "Ben Ode", "admin", "--user", "Ana Lima"), ""),
        (("users", "set", "Ben Ode", "admin"), "Ana Lima"),
        (("program", "load", str(tmp_path / "program.toml")), "Ana Lima"),
        (("audit",), "Ana Lima"),
        ((), "Ana Lima"),  # the app: refused before it opens
    ):
        refused = tiertui("--db", ben, *args, user=user, check=False)
        assert (refused.returncode, refused.stdout) == (1, ""), args
        assert refused.stderr.startswith(why), (args, refused.stderr)
    # as himself, ben is a viewer: told who can grant more, with a command that pastes
    own = tiertui("--db", ben, "users", "set", "Ben Ode", "admin", user="", check=False)
    assert own.stderr == (
        "tiertui: error: Ben Ode is a viewer; changing roles needs the admin role "
        "(Ana Lima, the admin, can grant it: tiertui users set 'Ben Ode' admin)\n"
    )
    after = tiertui("--db", ana, "users", "list", user="").stdout
    assert "Ben Ode" in after and "viewer" in after.split("Ben Ode")[1].split("\n")[0]
