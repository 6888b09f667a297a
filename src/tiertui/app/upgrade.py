"""Opening an older database: the app offers the schema upgrade first (issue 5).

``tiertui`` on a database made by an older tiertui shows :class:`UpgradeApp` before the app: which
revision the database has and which this tiertui needs, what each step changes, where the backup
copy goes (SQLite) or a reminder to back up with ``pg_dump`` (PostgreSQL), and two keys: ``u`` or
Enter upgrades now, Escape or ``q`` quits without changing anything. After a successful upgrade the
app opens on the upgraded database. The other commands keep refusing an older database with one
line naming ``tiertui db upgrade``.

:func:`offer_upgrade` costs nothing noticeable on a current database: a SQLite file at this
tiertui's revision is recognised with :mod:`sqlite3` alone (see ``services.read.fast``). The check
only reads (a SQLite file is opened with writes refused), so quitting leaves the file byte for byte
as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

CSS_FILE = Path(__file__).resolve().parent / "styles" / "upgrade.tcss"


@dataclass(frozen=True)
class Outdated:
    """A database older than this tiertui, and what upgrading it means."""

    url: str = field(repr=False)  # to open it (may hold a password: never shown)
    shown: str  # the URL with any password hidden
    current: str
    head: str
    steps: tuple[tuple[str, str], ...]  # (revision, what it changes), oldest first
    sqlite_file: Path | None  # the file, for SQLite (as the URL names it)
    pg_dump: str | None = None  # for a server database: a command that backs it up (no password in it)

    @property
    def backup_name(self) -> str | None:
        """Where ``schema.upgrade`` puts the copy: next to the file, stamped with the time of the upgrade."""
        if self.sqlite_file is None:
            return None
        return str(self.sqlite_file.with_name(f"{self.sqlite_file.stem}.backup-YYYYMMDD-HHMMSS.db"))


@dataclass(frozen=True)
class Outcome:
    """How :class:`UpgradeApp` ended: upgraded (with the backup copy made, if any), declined, or failed."""

    upgraded: bool
    backup: Path | None = None
    error: str | None = None


# ------------------------------------------------------------------------------ finding out


def outdated(url: str | None) -> Outdated | None:
    """The database at ``url`` if it can be upgraded to this tiertui's schema, else None.

    None also for a new or empty database, one made by a newer tiertui, and any database that
    cannot be read: the app opens those as before and says what is wrong.
    """
    from ..services.read import FastReader

    reader = FastReader.open(url)
    if reader is not None:  # a SQLite file at this tiertui's revision: the usual start
        reader.close()
        return None
    try:
        return _read_state(url)
    except Exception:  # noqa: BLE001 - the app's own open reports it, with the usual message
        return None


def _read_state(url: str | None) -> Outdated | None:
    from sqlalchemy.engine import make_url

    from ..storage import open_engine, redact, resolve_url

    url = resolve_url(url)
    parsed = make_url(url)
    sqlite_file = None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if not database or database == ":memory:" or database.startswith("file:"):
            return None
        sqlite_file = Path(database).expanduser()
        if not sqlite_file.is_file():
            return None  # a new file: the app makes it
        engine = _read_only_sqlite(sqlite_file)
    else:
        engine = open_engine(url, create=False)
    try:
        found = _describe(engine, url, redact(url), sqlite_file)
    finally:
        engine.dispose()
    if found is not None and parsed.get_backend_name() == "postgresql":
        found = replace(found, pg_dump=_pg_dump(parsed))
    return found


def _pg_dump(parsed) -> str:
    """``pg_dump`` with the URL's host, port, user and database (never its password), quoted for a shell."""
    from shlex import quote

    name = parsed.database or "tiertui"
    options = [("--host", parsed.host), ("--port", parsed.port), ("--username", parsed.username)]
    words = ["pg_dump", "--format=custom", f"--file={quote(f'{name}-before-upgrade.dump')}"]
    words += [f"{flag}={quote(str(value))}" for flag, value in options if value]
    return " ".join([*words, quote(parsed.database or "")])


def _read_only_sqlite(path: Path) -> Engine:
    """An engine on ``path`` that cannot write, without tiertui's connection settings (which would
    switch the file to WAL: a change to its bytes before anyone chose to upgrade)."""
    import sqlite3
    from urllib.parse import quote

    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    uri = f"file:{quote(str(path.resolve()))}?mode=rw"  # never creates a file

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(uri, uri=True, timeout=30)
        conn.execute("PRAGMA query_only=ON")
        return conn

    return create_engine("sqlite://", creator=connect, poolclass=NullPool)


def _describe(engine: Engine, url: str, shown: str, sqlite_file: Path | None) -> Outdated | None:
    from alembic.script import ScriptDirectory
    from alembic.script.revision import RevisionError
    from alembic.util import CommandError

    from ..storage import schema

    current = schema.current_revision(engine)
    if current is None or current == schema.HEAD:  # new, or current: one query, no Alembic to load
        return None
    state = schema.status(engine)
    if not state.needs_upgrade or state.is_empty or state.current is None:
        return None
    scripts = ScriptDirectory.from_config(schema.alembic_config())
    try:
        revisions = list(scripts.iterate_revisions(state.head, state.current))
    except (CommandError, RevisionError):  # a revision this tiertui does not know: made by a newer one
        return None
    steps = tuple((r.revision, (r.doc or "").strip()) for r in reversed(revisions) if r.revision != state.current)
    return Outdated(url, shown, state.current, state.head, steps, sqlite_file)


def upgrade_now(target: Outdated) -> Path | None:
    """Upgrade ``target`` to this tiertui's schema (SQLite: a backup copy first); returns the copy."""
    from ..storage import open_engine, schema

    engine = open_engine(target.url, create=False)
    try:
        return schema.upgrade(engine, backup=True)
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------ the screen


class UpgradeScreen(Screen[Outcome]):
    """What is outdated, what upgrading does, and the choice: upgrade now or quit unchanged."""

    BINDINGS = [
        Binding("u,enter", "upgrade", "Upgrade now", id="upgrade.now"),
        Binding("escape,q", "leave", "Quit without changing anything", id="upgrade.quit"),
    ]

    def __init__(self, target: Outdated) -> None:
        super().__init__()
        self.target = target
        self.busy = False
        self.failed: str | None = None

    def compose(self) -> ComposeResult:
        t = self.target
        with Vertical(id="upgrade-panel"):
            yield Static("This database needs an upgrade", id="upgrade-title")
            yield Static(t.shown, id="upgrade-database", markup=False)
            yield Static(
                f"It was made by an older tiertui: schema revision {t.current}. This tiertui needs revision {t.head}.",
                id="upgrade-revisions",
                markup=False,
            )
            yield Static("What the upgrade changes", classes="upgrade-heading")
            yield Static(
                "\n".join(f"{rev}  {what}" for rev, what in t.steps),
                id="upgrade-steps",
                classes="upgrade-indented",
                markup=False,
            )
            yield Static("Backup", classes="upgrade-heading")
            if t.backup_name is not None and t.sqlite_file is not None:
                folder = str(t.sqlite_file.parent)
                where = "in the current folder" if folder == "." else f"in {folder}"
                yield Static("A copy of the file is made first, next to it:", markup=False)
                yield Static(Path(t.backup_name).name, id="upgrade-backup", classes="upgrade-indented", markup=False)
                yield Static(where, id="upgrade-folder", classes="upgrade-indented", markup=False)
            else:
                yield Static("tiertui does not copy a server database: back it up first, e.g. with", markup=False)
                yield Static(t.pg_dump or "pg_dump", id="upgrade-backup", classes="upgrade-indented", markup=False)
            yield Static(
                "The upgrade runs in one transaction: it is complete, or nothing changes. "
                "Older tiertui versions cannot open the upgraded database.",
                id="upgrade-note",
                markup=False,
            )
            yield Static(
                "u or Enter: upgrade now.  Escape or q: quit without changing anything.",
                id="upgrade-status",
                markup=False,
            )
        yield Footer()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "upgrade" and (self.busy or self.failed is not None):
            return None  # shown dimmed: nothing more happens after a failure
        if action == "leave" and self.busy:
            return None  # never quit halfway: the upgrade finishes or rolls back first
        return True

    def _status(self, text: str, kind: str) -> None:
        status = self.query_one("#upgrade-status", Static)
        status.update(text)
        status.set_classes(f"-{kind}")

    def action_upgrade(self) -> None:
        if self.busy or self.failed is not None:
            return
        self.busy = True
        self.refresh_bindings()
        backup = " (a backup copy first)" if self.target.sqlite_file is not None else ""
        self._status(f"Upgrading{backup}… do not close the terminal.", "busy")
        self._run_upgrade()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _run_upgrade(self) -> None:
        try:
            backup = upgrade_now(self.target)
        except Exception as exc:  # noqa: BLE001 - shown to the person, who decides what next
            self.app.call_from_thread(self._upgrade_failed, _one_line(exc))
        else:
            self.app.call_from_thread(self.dismiss, Outcome(True, backup=backup))

    def _upgrade_failed(self, message: str) -> None:
        self.busy = False
        self.failed = message
        self.refresh_bindings()
        self._status(f"The upgrade failed: {message}\nNothing further is changed. Escape or q: quit.", "error")

    def action_leave(self) -> None:
        if not self.busy:
            self.dismiss(Outcome(False, error=self.failed))


def _one_line(exc: BaseException) -> str:
    from ..storage import DatabaseError, redact

    if isinstance(exc, DatabaseError):
        return str(exc)
    lines = str(exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {redact(lines[0]) if lines else ''}"


class UpgradeApp(App[Outcome]):
    """The upgrade offer on its own, before the app: its result says what happened."""

    TITLE = "tiertui"
    CSS_PATH = CSS_FILE
    ENABLE_COMMAND_PALETTE = False

    def __init__(self, target: Outdated) -> None:
        super().__init__()
        self.target = target

    def on_mount(self) -> None:
        self.push_screen(UpgradeScreen(self.target), callback=self.exit)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "quit" and isinstance(self.screen, UpgradeScreen) and self.screen.busy:
            return False  # ctrl+q waits until the upgrade has finished or rolled back
        return True


# ------------------------------------------------------------------------------ the start


def offer_upgrade(url: str | None) -> None:
    """Before the app opens on ``url``: if its database is older, offer the upgrade.

    Returns when the database is current (at once, or after upgrading it). Raises ``SchemaOutdated``
    (the usual one-line refusal) when the person quits without upgrading, and ``DatabaseError``
    when the upgrade failed.
    """
    target = outdated(url)
    if target is None:
        return
    outcome = UpgradeApp(target).run()
    if outcome is not None and outcome.upgraded:
        print(
            f"Upgraded {target.shown} from revision {target.current} to {target.head}."
            + (f" Backup copy: {outcome.backup}" if outcome.backup else "")
        )
        return
    from ..storage import DatabaseError
    from ..storage.schema import SchemaOutdated

    if outcome is not None and outcome.error is not None:
        raise DatabaseError(f"the upgrade of {target.shown} failed: {outcome.error}")
    raise SchemaOutdated(target.shown, target.current, target.head, target.sqlite_file is not None)
