"""The command line (spec §4). Errors: one line on stderr, non-zero exit, never a traceback."""

from __future__ import annotations

import argparse
import getpass
import os
import shlex
import sys
from collections.abc import Sequence
from datetime import date
from functools import partial
from pathlib import Path

import platformdirs

from . import __version__
from .safe_text import visible

ENV_USER = "TIERTUI_USER"
ROLES = ("viewer", "manager", "approver", "admin")  # as services.roles.ROLES, without importing it here
ENV_DEBUG = "TIERTUI_DEBUG"
MESSAGE_LINE = 400  # characters of one line of an error message; longer lines are cut
MESSAGE_LINES = 40  # lines of an error message


def say(text: object = "", *, file=None) -> None:
    """Print text that holds data (names, reasons, notes) literally: control and escape characters
    are shown as escapes, never sent to the terminal (spec §4, safe output)."""
    print(visible(text, keep_newlines=True), file=file)


class UsageError(Exception):
    """Bad arguments that argparse cannot see (dates, combinations)."""


def claimed_user(explicit: str | None) -> str | None:
    """The name given for the acting person (``--user``, else ``TIERTUI_USER``), or None."""
    return explicit or os.environ.get(ENV_USER) or None


def current_user(explicit: str | None) -> str:
    claimed = claimed_user(explicit)
    if claimed:
        return claimed
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "unknown"


def demo_url() -> str:
    folder = Path(platformdirs.user_data_dir("tiertui", appauthor=False))
    return f"sqlite:///{folder / 'demo.db'}"


def iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (use YYYY-MM-DD)") from None


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, like every other error
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db",
        metavar="URL",
        default=argparse.SUPPRESS,
        help="database URL (default: $TIERTUI_DATABASE_URL, else a SQLite file in your data folder)",
    )
    common.add_argument(
        "--user",
        metavar="NAME",
        default=argparse.SUPPRESS,
        help="who is acting (default: $TIERTUI_USER, else your login name; on PostgreSQL the database "
        "login decides, and this may only name that same person)",
    )
    parser = _Parser(prog="tiertui", description="Partner levelling for channel managers.", parents=[common])
    parser.add_argument("--version", action="version", version=f"tiertui {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    demo = commands.add_parser("demo", parents=[common], help="make a demo database and open it")
    demo.add_argument("--partners", type=positive_int, default=5000, help="how many partners (default 5,000)")
    demo.add_argument("--seed", type=int, default=2026, help="random seed (same seed, same data)")
    demo.add_argument("--no-open", action="store_true", help="build it, print where it is, do not open the app")
    demo.add_argument("--replace", action="store_true", help="replace the data of a database that has partners")

    db = commands.add_parser("db", parents=[common], help="database maintenance")
    db_cmds = db.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Parser)
    upgrade = db_cmds.add_parser("upgrade", parents=[common], help="upgrade the database's schema to this tiertui")
    upgrade.add_argument("--no-backup", action="store_true", help="SQLite: do not copy the file first")

    program = commands.add_parser("program", parents=[common], help="load or list program files")
    program_cmds = program.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Parser)
    load = program_cmds.add_parser("load", parents=[common], help="validate a program file and make it active")
    load.add_argument("file", metavar="FILE.toml")
    program_cmds.add_parser("list", parents=[common], help="list every loaded version")

    imp = commands.add_parser("import", parents=[common], help="import partners, metrics or certifications")
    imp.add_argument("kind", choices=["partners", "metrics", "certifications"])
    imp.add_argument("file", metavar="FILE.csv|FILE.xlsx")
    imp.add_argument(
        "--no-level",
        action="store_true",
        help="for scripted bulk loads: do not re-level; the results are stale until `tiertui level`",
    )

    commands.add_parser("level", parents=[common], help="evaluate every period and print a summary")
    commands.add_parser(
        "status", parents=[common], help="periods, how many partners reported each metric, the last levelling run"
    )

    export = commands.add_parser("export", parents=[common], help="export results")
    export.add_argument("what", choices=["scorecards"])
    export.add_argument("--period", required=True, metavar="P", help="e.g. 2026-Q3, 2026-07 or 2026")
    export.add_argument("--format", choices=["csv", "json", "xlsx"], default="csv")
    export.add_argument("-o", "--output", metavar="FILE", default="-", help="file to write (- or none: stdout)")
    export.add_argument(
        "--allow-stale", action="store_true", help="export even when the results are stale (after import --no-level)"
    )

    whatif = commands.add_parser(
        "whatif", parents=[common], help="compare a scenario program file with the active program for one period"
    )
    whatif.add_argument("scenario", metavar="SCENARIO.toml")
    whatif.add_argument("--period", metavar="P", help="default: the latest levelled period")
    whatif.add_argument("--format", choices=["text", "csv", "json"], default="text")

    override = commands.add_parser("override", parents=[common], help="request and decide tier overrides")
    ov = override.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Parser)
    req = ov.add_parser("request", parents=[common], help="request a tier for a partner (prints the new id)")
    req.add_argument("partner_id")
    req.add_argument("tier")
    req.add_argument("--reason", required=True)
    req.add_argument("--starts", required=True, type=iso_date, metavar="DATE")
    req.add_argument("--expires", type=iso_date, metavar="DATE")
    for verb in ("approve", "reject"):
        decide = ov.add_parser(verb, parents=[common], help=f"{verb} a pending override (not your own)")
        decide.add_argument("override_id", type=positive_int)
        decide.add_argument("--note", default="", help="why (required to reject)" if verb == "reject" else "why")
    revoke = ov.add_parser(
        "revoke", parents=[common], help="revoke an approved override (approvers; not one you requested)"
    )
    revoke.add_argument("override_id", type=positive_int)
    revoke.add_argument("--note", required=True, help="why it is revoked (required)")
    note = commands.add_parser("note", parents=[common], help="call notes on a partner: add one, list them")
    note_cmds = note.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Parser)
    note_add = note_cmds.add_parser("add", parents=[common], help="add a dated note by you (audited)")
    note_add.add_argument("partner_id", metavar="PARTNER")
    note_add.add_argument("text", metavar="TEXT")
    note_cmds.add_parser("list", parents=[common], help="a partner's notes, newest first").add_argument(
        "partner_id", metavar="PARTNER"
    )
    delete = commands.add_parser("delete", parents=[common], help="remove data on purpose (admins; audited)")
    del_cmds = delete.add_subparsers(dest="action", metavar="WHAT", required=True, parser_class=_Parser)
    del_metrics = del_cmds.add_parser("metrics", parents=[common], help="metric values of a period")
    del_metrics.add_argument("--period", required=True, metavar="P", help="e.g. 2026-Q3, 2026-07 or 2026")
    del_metrics.add_argument("--metric", metavar="M", help="only this metric")
    del_metrics.add_argument("--partner", metavar="ID", help="only this partner")
    del_certs = del_cmds.add_parser("certifications", parents=[common], help="certifications of a partner")
    del_certs.add_argument("--partner", required=True, metavar="ID")
    del_certs.add_argument("--person", metavar="NAME", help="only this person (every renewal; case-insensitive)")
    del_partner = del_cmds.add_parser(
        "partner", parents=[common], help="a partner without subsidiaries, with all its data"
    )
    del_partner.add_argument("partner_id", metavar="ID")
    users = commands.add_parser("users", parents=[common], help="who may use this database, and their roles")
    users_cmds = users.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    users_cmds.add_parser("list", parents=[common], help="list people and roles (the default)")
    add_user = users_cmds.add_parser("add", parents=[common], help="add a person (admins)")
    add_user.add_argument("name")
    add_user.add_argument("--role", required=True, choices=ROLES)
    add_user.add_argument(
        "--login",
        metavar="LOGIN",
        help="their PostgreSQL login (default: NAME, when it is a valid login name; needed otherwise)",
    )
    set_user = users_cmds.add_parser("set", parents=[common], help="change a person's role (admins)")
    set_user.add_argument("name")
    set_user.add_argument("role", choices=ROLES)
    set_user.add_argument("--login", metavar="LOGIN", help="also give them this PostgreSQL login")
    remove_user = users_cmds.add_parser("remove", parents=[common], help="take a person off (admins)")
    remove_user.add_argument("name")

    listing = ov.add_parser("list", parents=[common], help="list overrides")
    listing.add_argument("--status", choices=["pending", "approved", "rejected", "revoked"])
    show = ov.add_parser(
        "show", parents=[common], help="one override in full, and the periods approving (or revoking) it changes"
    )
    show.add_argument("override_id", type=positive_int)

    audit = commands.add_parser("audit", parents=[common], help="who changed what and when, newest first")
    audit.add_argument("--partner", metavar="ID", help="only entries about this partner (its overrides included)")
    audit.add_argument("--since", type=iso_date, metavar="YYYY-MM-DD", help="entries on or after this day (UTC)")
    audit.add_argument("--limit", type=positive_int, metavar="N", help="only the newest N entries")
    audit.add_argument("--format", choices=["text", "csv", "json"], default="text")

    offline = commands.add_parser("offline", parents=[common], help="take a SQLite copy for a trip, sync it back")
    offline_cmds = offline.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Parser)
    take = offline_cmds.add_parser(
        "copy",
        parents=[common],
        help="write a SQLite copy of the database (--db) to FILE",
        description="Write a SQLite copy of the database (--db) to FILE, to work on with "
        "`tiertui --db sqlite:///FILE` where the team database cannot be reached.",
    )
    take.add_argument("--to", required=True, metavar="FILE", help="the copy's file (refused if it exists)")
    take.add_argument("--replace", action="store_true", help="overwrite FILE if it exists")
    back = offline_cmds.add_parser(
        "sync",
        parents=[common],
        help="bring override requests and decisions, and call notes, made in a copy back (once)",
        description="Apply the override requests, edits, approvals and rejections, and the call notes, made in "
        "the offline copy FILE to the database (--db) it was taken from, in one transaction; other offline changes "
        "are listed, not synced. A change to an override decided or edited in the team database "
        "meanwhile is reported as a conflict and never overwrites it. Exit status: 0 when every "
        "override change was applied, 3 when some were reported as conflicts or refused, "
        "1 on an error (then nothing was applied).",
    )
    back.add_argument("file", metavar="FILE", help="the offline copy")

    publish = commands.add_parser(
        "publish", parents=[common], help="publish every evaluated period up to P: its results stay put"
    )
    publish.add_argument("period", metavar="P")
    unpublish = commands.add_parser("unpublish", parents=[common], help="reopen P and the periods after it (admins)")
    unpublish.add_argument("period", metavar="P")
    unpublish.add_argument("--reason", required=True)

    report = commands.add_parser("report", parents=[common], help="partner-facing HTML scorecards")
    report.add_argument("what", choices=["scorecards"])
    report.add_argument("--period", required=True, metavar="P")
    report.add_argument("--partner", metavar="ID", help="only this partner's page (no index)")
    report.add_argument("--out", required=True, metavar="DIR", help="the folder to write the pages into")

    notify = commands.add_parser(
        "notify", parents=[common], help="e-mail partners and account managers what changed in a published period"
    )
    notify.add_argument("--period", required=True, metavar="P")
    where = notify.add_mutually_exclusive_group()
    where.add_argument("--outbox", metavar="DIR", help="write .eml files into DIR (the default: ./outbox)")
    where.add_argument("--smtp", metavar="HOST:PORT", help="send through this SMTP server")
    notify.add_argument("--starttls", action="store_true", help="with --smtp: upgrade the connection with STARTTLS")
    notify.add_argument("--resend", action="store_true", help="send again what was already sent (audited)")

    serve = commands.add_parser("serve", parents=[common], help="serve the app to a web browser")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=positive_int, default=8000, help="port (default 8000)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _opening_the_app(sys.argv[1:] if argv is None else argv) or build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        print("tiertui: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _closed_pipe()
    except Exception as exc:  # noqa: BLE001 - every error becomes one line for a person
        if os.environ.get(ENV_DEBUG):
            raise
        try:
            print(f"tiertui: error: {_message(exc)}", file=sys.stderr)
        except BrokenPipeError:
            return _closed_pipe()
        return 1


def _opening_the_app(argv: Sequence[str]) -> argparse.Namespace | None:
    """``tiertui [--db URL] [--user NAME]``, the command that opens the app, read without building the
    whole parser (its forty-odd subcommands cost a few milliseconds of every start); None for any
    other command line, which the full parser reads (and explains when it is wrong)."""
    args = argparse.Namespace(command=None)
    tokens = list(argv)
    while tokens:
        token = tokens.pop(0)
        name, equals, value = token.partition("=")
        if name not in ("--db", "--user"):
            return None
        if not equals:
            if not tokens or tokens[0].startswith("-"):
                return None  # a missing value: the full parser says so
            value = tokens.pop(0)
        setattr(args, name[2:], value)
    return args


def _closed_pipe() -> int:
    """The reader went away (``tiertui export ... | head``): end quietly. Standard output is pointed
    at the null device so that Python's final flush has nowhere to fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    return 1


def _message(exc: Exception) -> str:
    from .services import ServiceError
    from .storage import DatabaseError

    if isinstance(exc, (ServiceError, DatabaseError, UsageError)):
        return _capped(_shown(str(exc)))
    text = str(exc).strip().splitlines()
    detail = _shown(text[0]) if text else ""
    return _capped(f"unexpected {exc.__class__.__name__}: {detail} (set {ENV_DEBUG}=1 for details)")


def _shown(text: str) -> str:
    """A message as printed: passwords in URLs hidden, control characters shown as escapes."""
    from .storage import redact

    return visible(redact(text), keep_newlines=True)


def _capped(text: str) -> str:
    """At most :data:`MESSAGE_LINES` lines of at most :data:`MESSAGE_LINE` characters each."""
    lines = text.split("\n")
    head, tail = MESSAGE_LINE * 3 // 4, MESSAGE_LINE // 4  # the start and the end say what went wrong
    kept = [
        line
        if len(line) <= MESSAGE_LINE
        else f"{line[:head]}...({len(line) - head - tail:,} characters left out)...{line[-tail:]}"
        for line in lines[:MESSAGE_LINES]
    ]
    if len(lines) > MESSAGE_LINES:
        kept.append(f"... and {len(lines) - MESSAGE_LINES:,} more lines")
    return "\n".join(kept)


def _dispatch(args: argparse.Namespace) -> int:
    from .locations import resolve_url  # not tiertui.storage: opening the app need not load SQLAlchemy first

    user = current_user(getattr(args, "user", None))
    explicit = getattr(args, "db", None)
    if args.command == "demo":
        return _demo(args, explicit, user)
    url = resolve_url(explicit)
    url, made = _existing_database(args, url)
    if args.command is None:
        return _open_app(url, user, claimed_user(getattr(args, "user", None)))
    if args.command == "db":
        return _db_upgrade(args, url)
    from .storage import open_engine

    new_folders = _missing_folders(made) if made is not None else []
    engine = open_engine(url)
    done = False
    try:
        user = _acting(engine, args, user)
        reading = _reading(args)
        if reading:
            from .services import roles

            roles.check(engine, user, "viewer", reading)
        handler = {
            "program": _program,
            "import": _import,
            "level": _level,
            "status": _status,
            "export": _export,
            "override": _override,
            "note": _note,
            "whatif": _whatif,
            "users": _users,
            "audit": _audit,
            "offline": _offline,
            "publish": _publish,
            "unpublish": _unpublish,
            "report": _report,
            "notify": _notify,
            "serve": _serve,
            "delete": _delete,
        }[args.command]
        code = handler(args, engine, user)
        done = code == 0
        return code
    finally:
        engine.dispose()
        if made is not None:
            if done:
                print(f"tiertui: made a new database: {visible(str(made))}", file=sys.stderr)
            else:  # the write that was to build it failed: leave nothing behind, not even its folders
                _remove_new(made, new_folders)


def _missing_folders(path: Path) -> list[Path]:
    """The folders above ``path`` that do not exist yet, deepest first."""
    missing = []
    for folder in path.parents:
        if folder.exists():
            break
        missing.append(folder)
    return missing


def _remove_new(path: Path, folders: list[Path]) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    for folder in folders:
        try:
            folder.rmdir()  # only if empty
        except OSError:
            break


def _creates(args: argparse.Namespace) -> bool:
    """Whether the command may make the database when it does not exist (writes that build one)."""
    action = getattr(args, "action", None)
    return (
        (args.command == "program" and action == "load")
        or args.command == "import"
        or (args.command == "users" and action == "add")
    )


def _reads_only(args: argparse.Namespace) -> bool:
    """Whether the command only reads (the app included): it may open a read-only database."""
    action = getattr(args, "action", None)
    if args.command in (None, "export", "status", "whatif", "audit", "report"):
        return True
    return args.command in ("users", "program", "override", "note") and action in (None, "list", "show")


def _existing_database(args: argparse.Namespace, url: str) -> tuple[str, Path | None]:
    """``url`` as the command may open it, and the file it will make (None: none).

    A SQLite file that does not exist is made only by the writes that build a database; anything
    else is refused and nothing is created (a mistyped --db path must not leave an empty database
    and its folders behind). A file on read-only media is opened read-only for reading commands
    and the app; a write to it is refused saying why.
    """
    from .locations import read_only_url, sqlite_path

    path = sqlite_path(url)
    if path is None:
        return url, None
    if not path.exists():
        if _creates(args):
            return url, path.absolute()
        where = shlex.quote(url)
        raise UsageError(
            f"there is no database at {path.absolute()}, and nothing was created there. "
            f"Check the path, or make a database: `tiertui --db {where} program load FILE` (your program file), "
            "or try the demo: `tiertui demo`"
        )
    if path.is_dir():
        raise UsageError(f"{path.absolute()} is a folder, not a database file")
    read_only = read_only_url(path)
    if read_only is None:
        return url, None
    if _reads_only(args):
        return read_only, None
    raise UsageError(
        f"{path.absolute()} is read-only (the file or its folder cannot be written): reading commands and "
        "the app open it read-only; this command changes it"
    )


def _acting(engine, args: argparse.Namespace, default: str) -> str:
    """Who is acting: on PostgreSQL the person of the database login (a different --user is refused)."""
    if engine.dialect.name == "sqlite":
        return default
    from .services import roles

    return roles.acting_person(engine, claimed_user(getattr(args, "user", None)), default)


def _reading(args: argparse.Namespace) -> str:
    """What a command that only reads is doing (it needs the viewer role), or "" for a write.

    Writes check their own role in the services.
    """
    action = getattr(args, "action", None)
    if args.command == "export":
        return "exporting scorecards"
    if args.command == "whatif":
        return "what-if scenarios"
    if args.command == "status":
        return "reading the status"
    if args.command == "report":
        return "writing partner scorecards"
    if args.command == "serve":
        return "serving the app"
    if args.command == "override" and action == "show":
        return "reading overrides"
    if args.command in ("users", "program", "override", "note") and action in (None, "list"):
        return f"listing {'people' if args.command == 'users' else args.command + 's'}"
    return ""


def _users(args, engine, user: str) -> int:
    from .services import roles

    if args.action == "add":
        person = roles.add(engine, user, args.name, args.role, args.login)
        say(f"Added {visible(person.name)} as {person.role}.")
    elif args.action == "set":
        person = roles.set_role(engine, user, args.name, args.role, args.login)
        say(f"{visible(person.name)} is now {person.role}.")
    elif args.action == "remove":
        roles.remove(engine, user, args.name)
        say(f"Removed {visible(args.name)}.")
    else:
        for person in roles.people(engine):
            mark = "*" if person.name == user else " "
            say(
                f"{mark} {visible(person.name):<24} {person.role:<9} added by {visible(person.added_by)} "
                f"{person.added_at:%Y-%m-%d}"
                + (f"  login {visible(person.login)}" if person.login not in (None, person.name) else "")
            )
    return 0


def _audit(args, engine, user: str) -> int:
    from .services import audit

    lines = audit.entries(engine, user, partner_id=args.partner, since=args.since, limit=args.limit)
    audit.write_entries(lines, args.format, sys.stdout)
    return 0


def _db_upgrade(args, url: str) -> int:
    from .storage import open_engine, redact, schema

    engine = open_engine(url, create=False)
    try:
        status = schema.status(engine)
        if not status.needs_upgrade:
            say(f"{redact(url)} is already at schema revision {status.head}.")
            return 0
        backup = schema.upgrade(engine, backup=not args.no_backup)
    finally:
        engine.dispose()
    say(
        f"Upgraded {redact(url)} from revision {status.current or 'none'} to {status.head}."
        + (f" Backup copy: {backup}" if backup else "")
    )
    return 0


def _open_app(url: str, user: str, claimed: str | None = None) -> int:
    from .services.read.early import EarlyDashboard

    # the dashboard's figures are read (in a thread, on a SQLite file) while Textual and the screens import
    early = EarlyDashboard(url, date.today())
    from .app import run

    if not url.lower().startswith("sqlite"):  # a team database: the login decides who is acting
        from .services import roles
        from .storage import open_engine

        engine = open_engine(url)
        try:
            user = roles.acting_person(engine, claimed, user)
        finally:
            engine.dispose()

    return run(url, user, early=early)


def _demo(args, explicit: str | None, user: str) -> int:
    """Build the demo (never over an existing one without --replace), say where it is, open it."""
    from .services.demo import DIRECTOR, build_demo
    from .storage import open_engine, redact

    url = explicit or os.environ.get("TIERTUI_DATABASE_URL") or demo_url()
    dedicated = url == demo_url()
    demo_file = Path(url.removeprefix("sqlite:///"))
    if dedicated and args.replace:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{demo_file}{suffix}").unlink(missing_ok=True)
    if dedicated and demo_file.exists():
        say(f"The demo database is already there: {demo_file}")
        say("It keeps the approvals, notes and scenarios made in it; `tiertui demo --replace` builds it afresh.")
    else:
        engine = open_engine(url)
        try:
            user = _acting(engine, args, user)
            report = build_demo(engine, partners=args.partners, seed=args.seed, user=user, replace=args.replace)
        finally:
            engine.dispose()
        say(report.text())
        say(f"Demo database: {demo_file if dedicated else redact(url)}")
    if dedicated:
        say("Open it again:           tiertui demo")
        say(f"Open it as its approver: tiertui demo --user {shlex.quote(DIRECTOR)}")
    else:
        where = shlex.quote(redact(url))
        say(f"Open it again:           tiertui --db {where}")
        say(f"Open it as its approver: tiertui --db {where} --user {shlex.quote(DIRECTOR)}")
    if args.no_open or not sys.stdout.isatty():
        return 0
    return _open_app(url, user)


def _program(args, engine, user: str) -> int:
    from .services import programs, timeline

    if args.action == "load":
        version, plan = programs.load_version_file(engine, args.file, user)
        state = "active" if version.active else "in force"
        say(f"Loaded {version.name!r} as version {version.version} ({state}).")
        say(visible(plan.text(), keep_newlines=True))
        return 0
    entries, before = timeline.describe(engine, date.today())
    if entries:
        say("Timeline (the versions in force, oldest first; * active):")
        for e in entries:
            mark = "*" if e.active else " "
            today = ", in force today" if e.in_force_today else ""
            say(f"{mark} v{e.version}  {visible(e.name)}  {e.dates()}{today}: governs {e.governs()}")
        if before:
            say(f"  Not evaluated (before the earliest version): {', '.join(before)}")
        say("")
    say("Every version loaded (* active, + in force):")
    for v in programs.program_versions(engine):
        mark = "*" if v.active else ("+" if v.in_force else " ")
        say(
            f"{mark} v{v.version}  {visible(v.name)}  {visible(v.source_name)}  {v.loaded_at:%Y-%m-%d %H:%M}  "
            f"by {visible(v.loaded_by)}"
        )
    return 0


def _import(args, engine, user: str) -> int:
    from .services.imports import import_file

    report = import_file(engine, args.kind, args.file, user, level=not args.no_level)
    say(report.text())
    return 0


def _level(args, engine, user: str) -> int:
    from .services.levelling import run_levelling

    say(run_levelling(engine, user).text())
    return 0


def _status(args, engine, user: str) -> int:
    from .services.status import read_status

    say(read_status(engine).text())
    return 0


def _export(args, engine, user: str) -> int:
    from .services import exports

    to_stdout = args.output in ("-", "")
    if not to_stdout:
        exports.refuse_database_path(engine, args.output)
    rows = exports.scorecard_rows(engine, args.period, allow_stale=args.allow_stale)
    if args.format == "xlsx":
        if to_stdout:  # built whole first: a reader that goes away (| head) stops one write, not the writer
            import io

            book = io.BytesIO()
            exports.write_xlsx(rows, book)
            sys.stdout.buffer.write(book.getvalue())
            sys.stdout.buffer.flush()
        else:
            with open(args.output, "wb") as out:
                exports.write_xlsx(rows, out)
        return 0
    if args.format == "json":
        from .services.read.engine import period_sentences

        words = period_sentences(engine, rows[0].period) if rows else {}
        writer = partial(exports.write_json, sentences=words)
    else:
        writer = exports.write_csv
    if to_stdout:
        writer(rows, sys.stdout)
    else:
        with open(args.output, "w", encoding="utf-8", newline="") as out:
            writer(rows, out)
    return 0


def _whatif(args, engine, user: str) -> int:
    from .services import scenarios

    result = scenarios.whatif(engine, args.scenario, args.period)
    if args.format != "text":
        scenarios.write_whatif(result, args.format, sys.stdout)
        return 0
    import io

    text = io.StringIO()  # the text report holds names and reasons: shown literally
    scenarios.write_whatif(result, args.format, text)
    sys.stdout.write(visible(text.getvalue(), keep_newlines=True))
    return 0


def _override(args, engine, user: str) -> int:
    from .services import overrides

    if args.action == "request":
        say(overrides.request(engine, user, args.partner_id, args.tier, args.reason, args.starts, args.expires))
        return 0
    if args.action == "reject" and not args.note.strip():
        raise UsageError(f"rejecting override {args.override_id} needs a note saying why: --note TEXT")
    if args.action == "revoke":
        view = overrides.revoke(engine, user, args.override_id, args.note)
        say(
            f"Override {view.id} for {visible(view.partner_id)} ({visible(view.tier)}) revoked "
            f"by {visible(view.revoked_by)}; it no longer applies."
        )
        return 0
    if args.action in ("approve", "reject"):
        view = overrides.decide(engine, user, args.override_id, args.action == "approve", args.note)
        say(
            f"Override {view.id} for {visible(view.partner_id)} ({visible(view.tier)}) {view.status} "
            f"by {visible(view.decided_by)}."
        )
        return 0
    if args.action == "show":
        return _override_show(engine, args.override_id)
    for o in overrides.list_overrides(engine, args.status):
        expires = o.expires_on or "open-ended"
        revoked = (
            f"  (revoked by {visible(o.revoked_by)} on {o.revoked_at:%Y-%m-%d}: {visible(o.revoke_note)})"
            if o.status == "revoked" and o.revoked_at is not None
            else ""
        )
        say(  # every field from data through visible(): a reason cannot rewrite the line (\r) or recolour it
            f"{o.id:>5}  {o.status:<8}  {visible(o.partner_id):<10} {visible(o.tier):<12} {o.starts_on} to "
            f"{expires}  by {visible(o.requested_by)}: {visible(o.reason)}{revoked}"
        )
    return 0


def _override_show(engine, override_id: int) -> int:
    """One override in full and what deciding it changes (the app's detail pane says the same)."""
    from .services import overrides
    from .services.override_effect import effect_of

    o = overrides.get(engine, override_id)
    window = f"from {o.starts_on} " + (f"to {o.expires_on}" if o.expires_on else "with no end")
    lines = [
        f"Override {o.id}: {o.partner_id} {o.partner_name} → {o.tier}, {window}",
        f"Status: {o.status}",
        f"Requested by {o.requested_by} at {str(o.requested_at)[:16]}. Reason: {o.reason}",
    ]
    if o.decided_by:
        lines.append(
            f"{'Approved' if o.status in ('approved', 'revoked') else 'Rejected'} by {o.decided_by} "
            f"at {str(o.decided_at)[:16]}." + (f" Note: {o.note}" if o.note else "")
        )
    if o.status == "revoked":
        lines.append(f"Revoked by {o.revoked_by} at {str(o.revoked_at)[:16]}. Note: {o.revoke_note}")
    lines += effect_of(engine, override_id).lines(shown=10_000)  # the command line lists every period
    for line in lines:  # names, reasons and notes are data: printed literally
        say(visible(line))
    return 0


def _note(args, engine, user: str) -> int:
    from .services import notes

    if args.action == "add":
        view = notes.add_note(engine, user, args.partner_id, args.text)
        say(f"Noted on {view.partner_id} by {view.author} at {view.written_at:%Y-%m-%d %H:%M} UTC.")
        return 0
    for n in notes.list_notes(engine, args.partner_id):  # say(): the text cannot move the cursor or recolour
        say(f"{n.written_at:%Y-%m-%d %H:%M} UTC  {n.author}: " + n.text.replace("\n", "\n    "))
    return 0


def _delete(args, engine, user: str) -> int:
    from .services import deletes

    if args.action == "metrics":
        report = deletes.delete_metrics(engine, user, args.period, args.metric, args.partner)
    elif args.action == "certifications":
        report = deletes.delete_certifications(engine, user, args.partner, args.person)
    else:
        report = deletes.delete_partner(engine, user, args.partner_id)
    say(report.text())
    return 0


SYNC_INCOMPLETE = 3  # `tiertui offline sync`: some offline changes were conflicts or refused


def _offline(args, engine, user: str) -> int:
    from .services import offline

    if args.action == "copy":
        from .services.exports import refuse_database_path

        refuse_database_path(engine, args.to)

        def progress(fraction: float, message: str) -> None:  # a big copy takes a while: say how far
            print(f"\r{message[:60]:<60} {fraction:4.0%}", end="", file=sys.stderr, flush=True)

        report = offline.take_copy(
            engine, user, args.to, progress if sys.stderr.isatty() else None, replace=args.replace
        )
        if sys.stderr.isatty():
            print("\r" + " " * 66 + "\r", end="", file=sys.stderr, flush=True)
        say(report.text())
        return 0
    report = offline.sync(engine, user, args.file)
    say(report.text())
    return 0 if report.complete else SYNC_INCOMPLETE


def _progress_bar(label: str):
    """A progress bar on stderr (the output folder's files are the result, stdout the summary)."""
    shown = {"last": -1}

    def progress(done: int, total: int) -> None:
        if total <= 0:
            return
        percent = int(100 * done / total)
        if percent == shown["last"]:
            return
        shown["last"] = percent
        filled = percent * 30 // 100
        end = "\n" if done >= total else ""
        sys.stderr.write(f"\r{label} [{'#' * filled}{' ' * (30 - filled)}] {percent:3d}%{end}")
        sys.stderr.flush()

    return progress


def _report(args, engine, user: str) -> int:
    from .services import report

    result = report.write_report(engine, args.period, args.out, args.partner, progress=_progress_bar("scorecards"))
    say(result.text())
    return 0


def _publish(args, engine, user: str) -> int:
    from .services import publishing

    say(publishing.publish(engine, user, args.period).text())
    return 0


def _unpublish(args, engine, user: str) -> int:
    from .services import publishing

    say(publishing.unpublish(engine, user, args.period, args.reason).text())
    return 0


def _notify(args, engine, user: str) -> int:
    from .services import notify

    if args.starttls and not args.smtp:
        raise UsageError("--starttls goes with --smtp HOST:PORT")
    if args.smtp:
        host, _, port = args.smtp.rpartition(":")
        if not host or not port.isdigit():
            raise UsageError(f"--smtp {args.smtp!r}: give HOST:PORT, e.g. mail.example.com:587")
        channel: notify.Channel = notify.SmtpChannel(
            host,
            int(port),
            starttls=args.starttls,
            user=os.environ.get("TIERTUI_SMTP_USER") or None,
            password=os.environ.get("TIERTUI_SMTP_PASSWORD") or None,
        )
    else:
        channel = notify.OutboxChannel(Path(args.outbox or "outbox"))
    result = notify.notify(engine, user, args.period, channel, resend=args.resend, progress=_progress_bar("notify"))
    say(result.text())
    return 0 if result.complete else 1


def _serve(args, engine, user: str) -> int:
    from .serve import serve

    return serve(str(engine.url.render_as_string(hide_password=False)), user, args.host, args.port, engine)
