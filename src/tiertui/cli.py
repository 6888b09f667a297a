"""The command line (spec §4). Errors: one line on stderr, non-zero exit, never a traceback."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import platformdirs

from . import __version__

ENV_USER = "TIERTUI_USER"
ROLES = ("viewer", "manager", "approver", "admin")  # as services.roles.ROLES, without importing it here
ENV_DEBUG = "TIERTUI_DEBUG"


class UsageError(Exception):
    """Bad arguments that argparse cannot see (dates, combinations)."""


def current_user(explicit: str | None) -> str:
    if explicit:
        return explicit
    if os.environ.get(ENV_USER):
        return os.environ[ENV_USER]
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
        help="who is acting (default: $TIERTUI_USER, else your login name)",
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
        decide.add_argument("--note", default="")
    users = commands.add_parser("users", parents=[common], help="who may use this database, and their roles")
    users_cmds = users.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    users_cmds.add_parser("list", parents=[common], help="list people and roles (the default)")
    add_user = users_cmds.add_parser("add", parents=[common], help="add a person (admins)")
    add_user.add_argument("name")
    add_user.add_argument("--role", required=True, choices=ROLES)
    set_user = users_cmds.add_parser("set", parents=[common], help="change a person's role (admins)")
    set_user.add_argument("name")
    set_user.add_argument("role", choices=ROLES)
    remove_user = users_cmds.add_parser("remove", parents=[common], help="take a person off (admins)")
    remove_user.add_argument("name")

    listing = ov.add_parser("list", parents=[common], help="list overrides")
    listing.add_argument("--status", choices=["pending", "approved", "rejected"])

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
        help="bring override requests and decisions made in a copy back (once)",
        description="Apply the override requests, edits, approvals and rejections made in the offline copy "
        "FILE to the database (--db) it was taken from, in one transaction; other offline changes "
        "are listed, not synced. A change to an override decided or edited in the team database "
        "meanwhile is reported as a conflict and never overwrites it. Exit status: 0 when every "
        "override change was applied, 3 when some were reported as conflicts or refused, "
        "1 on an error (then nothing was applied).",
    )
    back.add_argument("file", metavar="FILE", help="the offline copy")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        print("tiertui: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # noqa: BLE001 - every error becomes one line for a person
        if os.environ.get(ENV_DEBUG):
            raise
        print(f"tiertui: error: {_message(exc)}", file=sys.stderr)
        return 1


def _message(exc: Exception) -> str:
    from .services import ServiceError
    from .storage import DatabaseError, redact

    if isinstance(exc, (ServiceError, DatabaseError, UsageError)):
        return str(exc)
    text = str(exc).strip().splitlines()
    detail = redact(text[0]) if text else ""
    return f"unexpected {exc.__class__.__name__}: {detail} (set {ENV_DEBUG}=1 for details)"


def _dispatch(args: argparse.Namespace) -> int:
    from .locations import resolve_url  # not tiertui.storage: opening the app need not load SQLAlchemy first

    user = current_user(getattr(args, "user", None))
    explicit = getattr(args, "db", None)
    if args.command == "demo":
        return _demo(args, explicit, user)
    url = resolve_url(explicit)
    if args.command is None:
        return _open_app(url, user)
    if args.command == "db":
        return _db_upgrade(args, url)
    from .storage import open_engine

    engine = open_engine(url)
    try:
        reading = _reading(args)
        if reading:
            from .services import roles

            roles.check(engine, user, "viewer", reading)
        handler = {
            "program": _program,
            "import": _import,
            "level": _level,
            "export": _export,
            "override": _override,
            "whatif": _whatif,
            "users": _users,
            "audit": _audit,
            "offline": _offline,
        }[args.command]
        return handler(args, engine, user)
    finally:
        engine.dispose()


def _reading(args: argparse.Namespace) -> str:
    """What a command that only reads is doing (it needs the viewer role), or "" for a write.

    Writes check their own role in the services.
    """
    action = getattr(args, "action", None)
    if args.command == "export":
        return "exporting scorecards"
    if args.command == "whatif":
        return "what-if scenarios"
    if args.command in ("users", "program", "override") and action in (None, "list"):
        return f"listing {'people' if args.command == 'users' else args.command + 's'}"
    return ""


def _users(args, engine, user: str) -> int:
    from .services import roles

    if args.action == "add":
        person = roles.add(engine, user, args.name, args.role)
        print(f"Added {person.name} as {person.role}.")
    elif args.action == "set":
        person = roles.set_role(engine, user, args.name, args.role)
        print(f"{person.name} is now {person.role}.")
    elif args.action == "remove":
        roles.remove(engine, user, args.name)
        print(f"Removed {args.name}.")
    else:
        for person in roles.people(engine):
            mark = "*" if person.name == user else " "
            print(f"{mark} {person.name:<24} {person.role:<9} added by {person.added_by} {person.added_at:%Y-%m-%d}")
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
            print(f"{redact(url)} is already at schema revision {status.head}.")
            return 0
        backup = schema.upgrade(engine, backup=not args.no_backup)
    finally:
        engine.dispose()
    print(
        f"Upgraded {redact(url)} from revision {status.current or 'none'} to {status.head}."
        + (f" Backup copy: {backup}" if backup else "")
    )
    return 0


def _open_app(url: str, user: str) -> int:
    from .app import run

    return run(url, user)


def _demo(args, explicit: str | None, user: str) -> int:
    from .services.demo import build_demo
    from .storage import open_engine, redact, resolve_url

    url = explicit or os.environ.get("TIERTUI_DATABASE_URL") or demo_url()
    replace = args.replace
    if url == demo_url():  # the dedicated demo file is always made fresh, whatever made it before
        replace = True
        demo_file = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{demo_file}{suffix}").unlink(missing_ok=True)
    engine = open_engine(url)
    try:
        report = build_demo(engine, partners=args.partners, seed=args.seed, user=user, replace=replace)
    finally:
        engine.dispose()
    print(report.text())
    print(f"Demo database: {redact(url)}")
    if args.no_open or not sys.stdout.isatty():
        print(f"Open it with: tiertui --db {redact(resolve_url(url))}")
        return 0
    return _open_app(url, user)


def _program(args, engine, user: str) -> int:
    from .services import programs

    if args.action == "load":
        version = programs.load_program_file(engine, args.file, user)
        print(f"Loaded {version.name!r} as version {version.version} (active).")
        return 0
    for v in programs.program_versions(engine):
        mark = "*" if v.active else " "
        print(f"{mark} v{v.version}  {v.name}  {v.source_name}  {v.loaded_at:%Y-%m-%d %H:%M}  by {v.loaded_by}")
    return 0


def _import(args, engine, user: str) -> int:
    from .services.imports import import_file

    report = import_file(engine, args.kind, args.file, user, level=not args.no_level)
    print(report.text())
    return 0


def _level(args, engine, user: str) -> int:
    from .services.levelling import run_levelling

    print(run_levelling(engine, user).text())
    return 0


def _export(args, engine, user: str) -> int:
    from .services import exports

    rows = exports.scorecard_rows(engine, args.period, allow_stale=args.allow_stale)
    to_stdout = args.output in ("-", "")
    if args.format == "xlsx":
        if to_stdout:
            exports.write_xlsx(rows, sys.stdout.buffer)
        else:
            with open(args.output, "wb") as out:
                exports.write_xlsx(rows, out)
        return 0
    writer = exports.write_csv if args.format == "csv" else exports.write_json
    if to_stdout:
        writer(rows, sys.stdout)
    else:
        with open(args.output, "w", encoding="utf-8", newline="") as out:
            writer(rows, out)
    return 0


def _whatif(args, engine, user: str) -> int:
    from .services import scenarios

    result = scenarios.whatif(engine, args.scenario, args.period)
    scenarios.write_whatif(result, args.format, sys.stdout)
    return 0


def _override(args, engine, user: str) -> int:
    from .services import overrides

    if args.action == "request":
        print(overrides.request(engine, user, args.partner_id, args.tier, args.reason, args.starts, args.expires))
        return 0
    if args.action in ("approve", "reject"):
        view = overrides.decide(engine, user, args.override_id, args.action == "approve", args.note)
        print(f"Override {view.id} for {view.partner_id} ({view.tier}) {view.status} by {view.decided_by}.")
        return 0
    for o in overrides.list_overrides(engine, args.status):
        expires = o.expires_on or "open-ended"
        print(
            f"{o.id:>5}  {o.status:<8}  {o.partner_id:<10} {o.tier:<12} {o.starts_on} to {expires}  "
            f"by {o.requested_by}: {o.reason}"
        )
    return 0


SYNC_INCOMPLETE = 3  # `tiertui offline sync`: some offline changes were conflicts or refused


def _offline(args, engine, user: str) -> int:
    from .services import offline

    if args.action == "copy":

        def progress(fraction: float, message: str) -> None:  # a big copy takes a while: say how far
            print(f"\r{message[:60]:<60} {fraction:4.0%}", end="", file=sys.stderr, flush=True)

        report = offline.take_copy(
            engine, user, args.to, progress if sys.stderr.isatty() else None, replace=args.replace
        )
        if sys.stderr.isatty():
            print("\r" + " " * 66 + "\r", end="", file=sys.stderr, flush=True)
        print(report.text())
        return 0
    report = offline.sync(engine, user, args.file)
    print(report.text())
    return 0 if report.complete else SYNC_INCOMPLETE
