"""Roles (viewer < manager < approver < admin), enforced in the services for the CLI and the app."""

from __future__ import annotations

from datetime import date

import pytest
from cli_runner import tiertui
from db_builder import PROGRAM, seat_team, seed
from sqlalchemy import text
from sqlmodel import Session

from tiertui.services import overrides, programs, roles, scenarios
from tiertui.services.demo import DEMO_PEOPLE, DIRECTOR, build_demo
from tiertui.services.errors import ServiceError
from tiertui.services.imports import import_file
from tiertui.services.levelling import run_levelling
from tiertui.services.roles import RoleRefused
from tiertui.storage import open_engine

CAST = {"ada": "admin", "pam": "approver", "quinn": "approver", "max": "manager", "val": "viewer"}


def counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
            for t in ("tier_override", "audit_entry", "program_version", "partner", "level_result", "app_user")
        }


@pytest.fixture(params=["sqlite", "postgresql"])
def team(request, tmp_path):
    """A seeded database on either backend whose people are exactly ``CAST``."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'team.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = open_engine(url)
    seat_team(engine, {"admin": "admin", **CAST})  # db_builder.seed loads the program as "admin"
    seed(engine)
    yield engine
    engine.dispose()


def test_the_first_person_to_use_a_new_sqlite_database_is_its_admin(db_url, tmp_path):
    engine = open_engine(db_url)
    assert roles.people(engine) == []
    seed(engine)  # "admin" loads the program: the first write claims the file
    assert [(p.name, p.role, p.added_by) for p in roles.people(engine)] == [("admin", "admin", "admin")]
    with pytest.raises(RoleRefused, match="zed is not a user of this database; loading programs needs the admin role"):
        programs.store_program(engine, programs.parse_program(PROGRAM, "again.toml"), "zed", "again.toml")
    with Session(engine) as s:
        assert s.exec(text("SELECT actor, action, detail FROM audit_entry ORDER BY id LIMIT 1")).one() == (
            "admin",
            "user.add",
            '{"role": "admin", "why": "first person to use this database"}',
        )
    engine.dispose()


def test_each_role_does_its_own_work_and_no_more(team):
    engine = team
    with pytest.raises(RoleRefused, match="val is a viewer; requesting overrides needs the manager role"):
        overrides.request(engine, "val", "B2", "Gold", "x", date(2026, 1, 1))
    with pytest.raises(RoleRefused, match="val is a viewer; running levelling needs the manager role"):
        run_levelling(engine, "val")
    oid = overrides.request(engine, "max", "B2", "Gold", "launch", date(2026, 1, 1))
    run_levelling(engine, "max")
    with pytest.raises(
        RoleRefused,
        match="max is a manager; approving overrides needs the approver role "
        r"\(ada or admin, the admins, can grant it: tiertui users set max approver\)",
    ):
        overrides.decide(engine, "max", oid, approve=True)
    with pytest.raises(RoleRefused, match="pam is an approver; loading programs needs the admin role"):
        programs.store_program(engine, programs.parse_program(PROGRAM, "b.toml"), "pam", "b.toml")
    with pytest.raises(RoleRefused, match="pam is an approver; activating scenarios needs the admin role"):
        scenarios.activate_scenario(engine, "pam", "anything")
    assert overrides.decide(engine, "pam", oid, approve=True).status == "approved"
    # the four-eyes rule still holds for approvers and admins
    own = overrides.request(engine, "ada", "C3", "Silver", "keep", date(2026, 1, 1))
    with pytest.raises(ServiceError, match=f"you requested override {own}; someone else must approve it"):
        overrides.decide(engine, "ada", own, approve=True)
    assert overrides.decide(engine, "quinn", own, approve=False, note="no").status == "rejected"


def test_a_refused_write_changes_nothing(team, tmp_path):
    engine = team
    oid = overrides.request(engine, "max", "B2", "Gold", "launch", date(2026, 1, 1))
    before = counts(engine)
    partners = tmp_path / "p.csv"
    partners.write_text("partner_id,name\nZ9,Zed\n")
    for refused in (
        lambda: import_file(engine, "partners", partners, "pam"),
        lambda: overrides.decide(engine, "val", oid, approve=True),
        lambda: overrides.edit(engine, "val", oid, "Gold", "changed", date(2026, 1, 1), None),
        lambda: run_levelling(engine, "nobody"),
        lambda: roles.add(engine, "pam", "eve", "admin"),
        lambda: roles.set_role(engine, "max", "max", "admin"),
        lambda: roles.remove(engine, "quinn", "ada"),
    ):
        with pytest.raises(RoleRefused):
            refused()
    assert counts(engine) == before
    assert overrides.get(engine, oid).status == "pending"


def test_admins_manage_people_and_every_change_is_audited(team):
    engine = team
    roles.add(engine, "ada", "eve", "viewer")
    assert roles.set_role(engine, "ada", "eve", "approver").role == "approver"
    roles.remove(engine, "ada", "eve")
    assert "eve" not in {p.name for p in roles.people(engine)}
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT actor, action, entity_id, detail FROM audit_entry WHERE entity_id = 'eve' ORDER BY id")
        ).all()
    assert [tuple(r) for r in rows] == [
        ("ada", "user.add", "eve", '{"login": "eve", "role": "viewer"}'),
        ("ada", "user.set_role", "eve", '{"after": "approver", "before": "viewer"}'),
        ("ada", "user.remove", "eve", '{"before": "approver"}'),
    ]
    with pytest.raises(ServiceError, match="unknown role 'boss': use one of viewer, manager, approver, admin"):
        roles.add(engine, "ada", "eve", "boss")
    with pytest.raises(ServiceError, match="pam is already a user"):
        roles.add(engine, "ada", "pam", "viewer")
    with pytest.raises(ServiceError, match="nobody is not a user"):
        roles.set_role(engine, "ada", "nobody", "viewer")


def test_the_last_admin_cannot_step_down_or_be_removed(team):
    engine = team
    roles.remove(engine, "ada", "admin")  # the seeding admin; ada stays
    with pytest.raises(ServiceError, match="ada is the last admin: make someone else admin first"):
        roles.set_role(engine, "ada", "ada", "viewer")
    with pytest.raises(ServiceError, match="ada is the last admin"):
        roles.remove(engine, "ada", "ada")
    roles.set_role(engine, "ada", "pam", "admin")
    roles.set_role(engine, "pam", "ada", "viewer")
    assert {p.name: p.role for p in roles.people(engine)}["ada"] == "viewer"


def test_a_team_database_starts_with_no_one_until_its_first_admin_adds_themself(postgres_url):
    engine = open_engine(postgres_url)
    try:
        with pytest.raises(
            RoleRefused,
            match="this team database has no users yet: its first admin runs "
            rf"`tiertui users add THEIR_NAME --role admin --login {login_of(postgres_url)}`, connected as their own login",
        ):
            programs.store_program(engine, programs.parse_program(PROGRAM, "p.toml"), "ada", "p.toml")
        with pytest.raises(RoleRefused, match="its first admin adds themself"):
            roles.add(engine, "ada", "bob", "admin")  # not themself
        with pytest.raises(RoleRefused, match="its first admin adds themself"):
            roles.add(engine, "ada", "ada", "viewer")  # not as admin
        assert roles.people(engine) == []
        roles.add(engine, "ada", "ada", "admin")
        programs.store_program(engine, programs.parse_program(PROGRAM, "p.toml"), "ada", "p.toml")
        with pytest.raises(RoleRefused, match="zed is not a user of this database"):
            roles.add(engine, "zed", "zed", "admin")  # the door closes once someone is in
    finally:
        engine.dispose()


def test_the_demo_makes_its_builder_admin_and_gives_its_cast_roles(db_url):
    engine = open_engine(db_url)
    build_demo(engine, partners=30, seed=3, user="me")
    people = {p.name: p.role for p in roles.people(engine)}
    assert people == {"me": "admin", **DEMO_PEOPLE}
    assert people[DIRECTOR] == "approver"
    with pytest.raises(RoleRefused, match=f"{DIRECTOR} is an approver; building a demo needs the admin role"):
        build_demo(engine, partners=30, seed=3, user=DIRECTOR, replace=True)
    engine.dispose()


# --------------------------------------------------------------------------- the command line


def test_users_command_line(tmp_path):
    db = ["--db", f"sqlite:///{tmp_path / 'cli.db'}"]
    (tmp_path / "program.toml").write_text(PROGRAM)
    tiertui(*db, "program", "load", str(tmp_path / "program.toml"), user="ann")  # makes the file
    first = tiertui(*db, "users", user="ann").stdout  # the first person to use a new file owns it
    assert first.split()[:3] == ["*", "ann", "admin"]
    assert tiertui(*db, "users", "add", "bob", "--role", "manager", user="ann").stdout == "Added bob as manager.\n"
    listing = tiertui(*db, "users", "list", user="bob").stdout.splitlines()
    assert [line.split()[:3] for line in listing] == [["ann", "admin", "added"], ["*", "bob", "manager"]]
    refused = tiertui(*db, "users", "set", "bob", "admin", user="bob", check=False)
    assert (refused.returncode, refused.stderr) == (
        1,
        "tiertui: error: bob is a manager; changing roles needs the admin role "
        "(ann, the admin, can grant it: tiertui users set bob admin)\n",
    )
    stranger = tiertui(*db, "override", "list", user="zed", check=False)
    assert stranger.returncode == 1
    assert stranger.stderr.startswith("tiertui: error: zed is not a user of this database; listing overrides needs")
    bad = tiertui(*db, "users", "add", "carl", "--role", "boss", user="ann", check=False)
    assert bad.returncode == 2 and "invalid choice: 'boss'" in bad.stderr
    assert tiertui(*db, "users", "set", "bob", "approver", user="ann").stdout == "bob is now approver.\n"
    assert tiertui(*db, "users", "remove", "bob", user="ann").stdout == "Removed bob.\n"


# --------------------------------------------------------------------------- PostgreSQL: the login is the person


@pytest.fixture
def two_logins(postgres_url):
    """A fresh team database (schema made by the superuser, no people) and two logins of it."""
    from db_builder import postgres_logins

    open_engine(postgres_url).dispose()  # the schema, made by its owner
    with postgres_logins(postgres_url, "ana", "ben") as urls:
        engines = {person: open_engine(url) for person, url in urls.items()}
        try:
            yield postgres_url, urls, engines
        finally:
            for engine in engines.values():
                engine.dispose()


def login_of(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).username


def test_the_first_admin_of_a_team_database_is_the_connecting_login(two_logins):
    _, urls, engines = two_logins
    ana, ben = engines["ana"], engines["ben"]
    ana_login, ben_login = login_of(urls["ana"]), login_of(urls["ben"])
    # ben cannot seat ana (or anyone else's login) as the first admin
    with pytest.raises(RoleRefused, match="its first admin adds themself, connected as their own login"):
        roles.add(ben, "Ana Lima", "Ana Lima", "admin", login=ana_login)
    with pytest.raises(RoleRefused, match=f"you are connected as {ben_login}"):
        roles.add(ben, ben_login, "Ben Ode", "viewer", login=ben_login)  # not as admin either
    assert roles.people(ana) == []
    # a name that is not a login name needs --login on PostgreSQL
    with pytest.raises(ServiceError, match="Ana Lima is not a PostgreSQL login name: give theirs"):
        roles.add(ana, ana_login, "Ana Lima", "admin")
    acting = roles.acting_person(ana, None, "whoever")  # no one yet: the login itself
    assert acting == ana_login
    person = roles.add(ana, acting, "Ana Lima", "admin", login=ana_login)
    assert (person.name, person.role, person.login, person.added_by) == ("Ana Lima", "admin", ana_login, "Ana Lima")
    assert roles.acting_person(ana, None, "whoever") == "Ana Lima"  # from now on the login is Ana
    # the door closes: ben's login is nobody here
    with pytest.raises(RoleRefused, match=f"the login {ben_login} is not a user of this database"):
        roles.add(ben, ben_login, ben_login, "admin")


def test_one_login_cannot_act_as_another_person(two_logins):
    _, urls, engines = two_logins
    ana, ben = engines["ana"], engines["ben"]
    ana_login, ben_login = login_of(urls["ana"]), login_of(urls["ben"])
    roles.add(ana, ana_login, "Ana Lima", "admin", login=ana_login)
    roles.add(ana, "Ana Lima", "Ben Ode", "approver", login=ben_login)
    programs.store_program(ana, programs.parse_program(PROGRAM, "p.toml"), "Ana Lima", "p.toml")
    oid = None
    with Session(ana) as s, s.begin():
        from tiertui.storage.tables import Partner

        s.add(Partner(partner_id="B2", name="Bluepeak", region="EMEA", partner_type="VAR"))
    oid = overrides.request(ana, "Ana Lima", "B2", "Gold", "launch", date(2026, 1, 1))
    before = counts(ana)

    # the mapping: each login is its person, whatever name was given by default
    assert roles.acting_person(ben, None, "root") == "Ben Ode"
    assert roles.acting_person(ben, "Ben Ode", "root") == "Ben Ode"
    assert roles.acting_person(ben, ben_login, "root") == "Ben Ode"  # the login names the same person
    with pytest.raises(
        roles.NotThisLogin,
        match=f"connected to this team database as the login {ben_login}, which is Ben Ode: you may act only as Ben Ode, not as Ana Lima",
    ):
        roles.acting_person(ben, "Ana Lima", "root")
    # the services refuse too, whatever name a caller passes: ben cannot make himself admin as Ana,
    # nor approve as Ana, nor use Ana's role to load a program
    with pytest.raises(roles.NotThisLogin, match="you may act only as Ben Ode, not as Ana Lima"):
        roles.set_role(ben, "Ana Lima", "Ben Ode", "admin")
    with pytest.raises(roles.NotThisLogin):
        programs.store_program(ben, programs.parse_program(PROGRAM, "q.toml"), "Ana Lima", "q.toml")
    with pytest.raises(roles.NotThisLogin):
        overrides.request(ben, "Ana Lima", "B2", "Silver", "as ana", date(2026, 1, 1))
    with pytest.raises(roles.NotThisLogin, match="Ben Ode connects with the login|you may act only as Ana Lima"):
        overrides.decide(ana, "Ben Ode", oid, approve=True)  # and ana cannot approve her own as ben
    assert counts(ana) == before
    assert {p.name: p.role for p in roles.people(ana)} == {"Ana Lima": "admin", "Ben Ode": "approver"}
    # as himself, ben approves ana's request (the four-eyes rule is now between two real people)
    assert overrides.decide(ben, "Ben Ode", oid, approve=True).decided_by == "Ben Ode"
    with pytest.raises(
        RoleRefused,
        match="Ben Ode is an approver; adding people needs the admin role "
        r"\(Ana Lima, the admin, can grant it: tiertui users set 'Ben Ode' admin\)",
    ):
        roles.add(ben, "Ben Ode", "Cy", "viewer", login="cy")


def test_an_admin_gives_an_upgraded_person_their_login(two_logins):
    """A database from before logins gave each person their name as login; an admin sets the real one."""
    _, urls, engines = two_logins
    ana, ben = engines["ana"], engines["ben"]
    ana_login, ben_login = login_of(urls["ana"]), login_of(urls["ben"])
    roles.add(ana, ana_login, "Ana Lima", "admin", login=ana_login)
    roles.add(ana, "Ana Lima", "benode", "viewer")  # login "benode": not ben's real one
    with pytest.raises(RoleRefused, match=f"the login {ben_login} is not a user of this database"):
        roles.acting_person(ben, None, "x") and roles.check(ben, ben_login, "viewer", "reading")
    with pytest.raises(ServiceError, match=f"the login {ana_login} is already Ana Lima's"):
        roles.set_role(ana, "Ana Lima", "benode", "viewer", login=ana_login)
    assert roles.set_role(ana, "Ana Lima", "benode", "manager", login=ben_login).login == ben_login
    assert roles.acting_person(ben, None, "x") == "benode"
    assert roles.check(ben, "benode", "manager", "requesting overrides") == "manager"
