"""The Textual application: screens over the services, keyboard first."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from textual import events, work
from textual.app import App
from textual.binding import Binding
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.worker import get_current_worker

from ..safe_text import visible

# Only light modules here: SQLAlchemy, SQLModel and numpy (about a second to import) load in the
# start-up worker after the first frame, or when a screen that needs them opens.
from ..services import ServiceError
from ..services.read import CertificationQuery, FastReader, PartnerQuery, Reader, open_reader
from .config import Config, load_config
from .config import config_dir as default_config_dir

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from ..services.read.early import EarlyDashboard
    from ..services.read.sql import Dashboard
    from ..services.scenarios import ScenarioSession, SessionLoader
    from .screens.scenario import ScenarioScreen

PACKAGE_STYLES = Path(__file__).resolve().parent / "styles"
CHECKOUT_STYLES = Path(__file__).resolve().parents[3] / "styles"


def styles_dir() -> Path:
    """``styles/`` at the repository root in a checkout; the copy shipped in the package otherwise."""
    for folder in (CHECKOUT_STYLES, PACKAGE_STYLES):
        if folder.is_dir() and any(folder.glob("*.tcss")):
            return folder
    return PACKAGE_STYLES


def css_paths() -> list[Path]:
    return sorted(styles_dir().glob("*.tcss"))


_frozen = False

# imported by the start-up worker once the first screen has its data (see TiertuiApp._start_up)
WARM_SCREENS = (
    ".screens.partners",
    ".screens.overrides",
    ".screens.certifications",
    ".screens.scorecard",
    ".screens.audit",
    ".screens.scenario",
    ".screens.help",
)


def _freeze_import_objects() -> None:
    """Move what importing made (modules, classes, functions, parsed CSS: ~100,000 objects that live
    as long as the process) out of the garbage collector's sight, once per process. Every full
    collection walked them all: ~25 ms of the start-up, and 80 ms pauses now and then while typing."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.freeze()


def _partner_commands():
    from .commands import PartnerCommands  # loads the services: only when the palette opens

    return PartnerCommands


def _saved_view_commands():
    from .commands import SavedViewCommands

    return SavedViewCommands


def _navigation_commands():
    from .commands import NavigationCommands

    return NavigationCommands


class TiertuiApp(App):
    """tiertui: partner levelling for channel managers."""

    TITLE = "tiertui"
    CSS_PATH = css_paths()
    COMMANDS = App.COMMANDS | {_partner_commands, _navigation_commands, _saved_view_commands}
    NOTIFICATION_TIMEOUT = 6
    # every screen is "-cols80" below 100 columns (styles/app.tcss: filter boxes that keep their labels)
    HORIZONTAL_BREAKPOINTS = [(0, "-cols80"), (100, "-cols120")]

    BINDINGS = [
        Binding("question_mark,f1", "help", "Keys", id="app.help"),
        Binding("escape", "back", "Back", id="app.back"),
        Binding("g", "dashboard", "Home", id="app.dashboard"),
        Binding("l", "partners", "Partners", id="app.partners"),
        Binding("m", "my_partners", "My partners", id="app.my_partners", show=False),
        Binding("o", "overrides", "Overrides", id="app.overrides"),
        Binding("c", "certifications", "Certs", id="app.certifications"),
        Binding("w", "whatif", "What-if", id="app.whatif", show=False),
        Binding("h", "audit", "Audit log", id="app.audit", show=False),
        Binding("L", "level", "Level", id="app.level", show=False),
        Binding("I", "import_file", "Import", id="app.import", show=False),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", show=False, priority=True),
    ]

    class DataChanged(Message):
        """Something was written (an approval, a levelling run, an import, a saved scenario): posted
        by the app to every screen in its stack; data screens reload (the one on top at once)."""

        def __init__(self, version: int) -> None:
            super().__init__()
            self.version = version

    def __init__(
        self,
        engine_url: str | None,
        user: str,
        today: date | None = None,
        *,
        config_dir: Path | None = None,
        blink: bool = True,
        early: EarlyDashboard | None = None,
    ) -> None:
        _freeze_import_objects()
        self.config: Config = load_config(config_dir)
        self.config_folder: Path = config_dir or default_config_dir()  # keys.toml and views.toml
        super().__init__()
        self.engine_url = engine_url
        self._engine: Engine | None = None
        self._engine_lock = threading.Lock()
        self._started = False
        self.role: str | None = None  # the acting person's role, once checked (see _engine_opened)
        self.startup_error: BaseException | None = None  # the start-up worker's; run() raises it after the app
        # A SQLite file at this tiertui's schema revision is read with sqlite3 at once and the engine opens
        # after the first frame; anything else opens now, as before: a bad URL or an outdated schema is
        # refused before the app starts.
        self.user = user
        self.reader: Reader
        self.early = early if early is not None and early.url == engine_url else None
        early_reader = self.early.reader() if self.early is not None else None
        if early_reader is not None:
            self.reader, fast = early_reader, True
        else:
            self.reader, fast = open_reader(engine_url, lambda: self.engine)
        if not fast:
            self._engine = self._open_engine()
            # a team database: whether this person may open it is settled before anything of it is shown
            try:
                self._engine_opened(self._engine)
            except BaseException:
                self._engine.dispose()
                raise
        self.today = today or date.today()
        self.blink = blink
        self.data_version = 0
        self._find_texts: tuple[int, dict[int, str]] | None = None  # (data version, find texts)
        # the what-if screen's partner data, read once and kept while nothing is written (see SessionLoader)
        self._whatif_loader: SessionLoader | None = None
        # the what-if screen, kept for the next visit while nothing is written (see action_whatif)
        self._whatif_screen: ScenarioScreen | None = None
        # the dashboard's figures as last shown, with the data version they were read at: the what-if
        # screen shows its "before" tiers from them at once, before the partner data is read
        self.known_dashboard: tuple[int, Dashboard] | None = None
        from ..locations import is_read_only_url

        read_only = " · read-only" if is_read_only_url(engine_url) else ""  # read-only media: nothing can change
        self.sub_title = f"{visible(user)} · {visible(self.database_name())}{read_only}"
        if self.config.keymap:
            self.set_keymap(self.config.keymap)

    @property
    def whatif_loader(self) -> SessionLoader:
        """The what-if session's loader (made on first use: importing it loads numpy and SQLAlchemy)."""
        loader = self._whatif_loader
        if loader is None:
            from ..services.scenarios import SessionLoader

            with self._engine_lock:
                if self._whatif_loader is None:
                    self._whatif_loader = SessionLoader()
                loader = self._whatif_loader
        return loader

    @property
    def whatif_session(self) -> ScenarioSession | None:
        """The what-if session read last (maybe older than the data now), or None."""
        return self._whatif_loader.session if self._whatif_loader is not None else None

    def database_name(self) -> str:
        """The database as the header shows it beside the person: a SQLite file's name ("tiertui.db",
        "trip.db" for an offline copy), or a server's "user@host:port/database"; never a password."""
        if isinstance(self.reader, FastReader):
            return self.reader.path.name  # no SQLAlchemy on this path
        from ..storage.database import display_name  # the engine is open: SQLAlchemy is loaded already

        return display_name(self.engine_url)

    # ------------------------------------------------------------------ lifecycle

    def get_default_screen(self) -> Screen:
        from .screens.dashboard import DashboardScreen

        return DashboardScreen()

    def on_mount(self) -> None:
        if self.config.theme:
            if self.config.theme in self.available_themes:
                self.theme = self.config.theme
            else:
                self.config.problems.append(f"unknown theme {self.config.theme!r} in {self.config.path}")
        for problem in self.config.problems:
            self.notify(problem, title="Configuration", severity="warning", timeout=10)

    def on_unmount(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        if self.reader is not None:
            self.reader.close()

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every notification is literal text: messages name partners, reasons and people (data), so
        they are never read as markup (``markup`` is ignored), and control characters show as escapes."""
        super().notify(
            visible(message, keep_newlines=True), title=visible(title), severity=severity, timeout=timeout, markup=False
        )

    # ------------------------------------------------------------------ the database

    @property
    def engine(self) -> Engine:
        """The engine; opened on first use if the start-up worker has not opened it yet."""
        engine = self._engine
        if engine is None:
            with self._engine_lock:
                if self._engine is None:
                    self._engine = self._open_engine()
                engine = self._engine
        return engine

    def _open_engine(self) -> Engine:
        from ..storage import open_engine

        return open_engine(self.engine_url)

    def data_shown(self) -> None:
        """A screen has its data up: the start-up work the first screens do not need runs now.

        Opening the engine imports SQLAlchemy and SQLModel (about half a second of CPU, holding the
        GIL); started with the first frame it would slow the screens that are loading, so it waits
        for the first of them to be filled. Whatever needs the engine sooner opens it (``engine``).
        """
        if not self._started:
            self._started = True
            self._start_up()

    @work(thread=True, exclusive=True, group="start-up", exit_on_error=False)
    def _start_up(self) -> None:
        """Open the engine (importing SQLAlchemy, checking the schema) if the fast path left it closed,
        then the start-up work that needs it."""
        try:
            self._engine_opened(self.engine)
        except Exception as exc:  # noqa: BLE001 - reported when the app has closed (run() raises it)
            self.call_from_thread(self._start_up_failed, exc)
            return
        # the screens' modules (and what they import: the scenarios service, numpy, Textual's DataTable
        # and TabbedContent): imported here rather than on the event loop when a screen's key is first
        # pressed, where they held up its first frame (`c` took 250-300 ms, most of it importing)
        import importlib

        for module in WARM_SCREENS:
            importlib.import_module(module, __package__)
        self.call_from_thread(self._warm_styles)

        if self.config.keymap:  # binding ids that no screen or widget has: after the first screen, not before it
            from .config import known_binding_ids, unknown_binding_problems

            for problem in unknown_binding_problems(self.config, known_binding_ids()):
                self.call_from_thread(self.notify, problem, title="Configuration", severity="warning", timeout=15)

    def _warm_styles(self) -> None:
        """Add the default CSS of every widget class the screens use to the stylesheet now, in one
        parse, while the person reads the dashboard: Textual adds a class's CSS when its first widget
        is mounted, and each addition re-parses the stylesheet and restyles the screen, several times
        while a screen with new kinds of widgets (tabs, data tables, selects) opens for the first time."""
        from types import SimpleNamespace

        from textual.dom import DOMNode
        from textual.widget import Widget

        classes: dict[type[Widget], None] = {}  # in the order found: the stylesheet's sources keep it
        stack: list[type[Widget]] = [Widget]
        while stack:
            for sub in stack.pop().__subclasses__():
                if sub not in classes:
                    classes[sub] = None
                    stack.append(sub)
        stylesheet = self.stylesheet
        for cls in classes:
            if not cls.__module__.startswith(("textual.widgets", "tiertui.app")):
                continue
            # DOMNode._get_default_css reads only the class's CSS bases (no instance needed)
            for read_from, css, tie_breaker, scope in DOMNode._get_default_css(
                SimpleNamespace(_node_bases=DOMNode._css_bases(cls))  # type: ignore[arg-type]
            ):
                stylesheet.add_source(
                    css, read_from=read_from, is_default_css=True, tie_breaker=tie_breaker, scope=scope
                )
        stylesheet.rules  # noqa: B018 - parsed now, once

    def _engine_opened(self, engine: Engine) -> None:
        """Start-up work that needs the engine: the acting person's role.

        The person must be a user of the database (viewer or above; on a SQLite file with no people
        yet they become its admin), else the app closes saying who can add them. On a current
        SQLite file this runs in the start-up worker (a thread, after the first screen has its
        data), where an exception ends the app with its message (see ``run``); on any database the
        fast path does not read (a team database, a new file) it runs in ``__init__``, so a
        stranger is refused before the first frame, and the worker finds the role known.
        """
        from ..services import roles

        if self.role is None:
            self.role = roles.check(engine, self.user, "viewer", "opening tiertui")

    def _start_up_failed(self, exc: BaseException) -> None:
        self.startup_error = exc
        self.exit(return_code=1)

    # ------------------------------------------------------------------ navigation

    def on_key(self, event: events.Key) -> None:
        """A character that reaches the app while a text box has the focus was typed for that box: it
        was handed to the widget focused when the app took it, before the key in front of it (``/``)
        moved the focus to the box (keys typed in a burst, a busy app). It goes into the box, in
        order, rather than nowhere; the box itself never lets a character it got reach the app."""
        from textual.widgets import Input

        focused = self.focused
        if event.is_printable and event.character and isinstance(focused, Input):
            event.prevent_default()  # no binding of the app's for it: the box consumes characters
            selection = focused.selection  # as the box does with a key it is handed
            if selection.is_empty:
                focused.insert_text_at_cursor(event.character)
            else:
                focused.replace(event.character, *selection)

    def action_back(self) -> None:
        """Escape: first leave the focused field (a search box clears itself first), then the screen."""
        from textual.widgets import Input, Select

        from .widgets.search_box import leave_field

        focused = self.focused
        if isinstance(focused, Input | Select):
            leave_field(focused)
            return
        if len(self.screen_stack) > 1:
            self.pop_screen()

    def action_dashboard(self) -> None:
        while len(self.screen_stack) > 1:
            self.pop_screen()

    def action_partners(self) -> None:
        self.open_partners()

    def action_my_partners(self) -> None:
        """The partners whose account manager is the acting person."""
        from ..services.read import PartnerQuery

        self.open_partners(PartnerQuery(manager=self.user), title=f"My partners ({self.user})")

    def open_partners(self, query: PartnerQuery | None = None, title: str | None = None) -> None:
        from .screens.partners import PartnersScreen

        self.push_screen(PartnersScreen(query, title))

    def action_overrides(self) -> None:
        from .screens.overrides import OverridesScreen

        if not isinstance(self.screen, OverridesScreen):
            self.push_screen(OverridesScreen())

    def action_certifications(self) -> None:
        self.open_certifications()

    def open_certifications(self, query: CertificationQuery | None = None) -> None:
        from .screens.certifications import CertificationsScreen

        self.push_screen(CertificationsScreen(query))

    def action_audit(self) -> None:
        from .screens.audit import AuditScreen

        if not isinstance(self.screen, AuditScreen):
            self.push_screen(AuditScreen())

    def action_whatif(self) -> None:
        """The what-if screen: the one of the last visit while nothing was written since (shown again
        as a new one would be, without building its hundreds of widgets again), else a new one."""
        from .screens.scenario import ScenarioScreen

        if isinstance(self.screen, ScenarioScreen):
            return
        kept = self._whatif_screen
        if kept is not None and kept in self.screen_stack:  # below this screen: a new one on top, not kept
            self.push_screen(ScenarioScreen())
            return
        if kept is not None and kept.loaded_version != self.data_version:  # written since: built anew
            self._whatif_screen = None
            self.uninstall_screen(kept)
            kept.remove()
            kept = None
        if kept is None:
            kept = self._whatif_screen = ScenarioScreen()
            self.install_screen(kept, name="whatif")
        else:
            kept.fresh_visit()
        self.push_screen(kept)

    def open_scorecard(self, partner_id: str, period: str | None = None) -> None:
        from .screens.scorecard import ScorecardScreen

        self.push_screen(ScorecardScreen(partner_id, period))

    def action_copy_summary(self) -> None:
        """The palette's "Copy the scorecard summary": the scorecard on screen does it (its ``y``)."""
        from .screens.scorecard import ScorecardScreen

        if isinstance(self.screen, ScorecardScreen):
            self.screen.action_copy_summary()
        else:
            self.notify("Open a partner's scorecard first, then copy its summary.", timeout=3)

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
            return
        self.push_screen(HelpScreen(self.screen))

    # ------------------------------------------------------------------ long work

    def action_level(self) -> None:
        from ..services.levelling import run_levelling

        self.start_job(
            "Levelling every period", lambda progress: run_levelling(self.engine, self.user, progress).text()
        )

    def action_import_file(self) -> None:
        from .screens.jobs import ImportScreen

        def chosen(result: tuple[str, str] | None) -> None:
            if result:
                kind, path = result
                self.start_job(
                    f"Importing {kind} from {Path(path).name}", lambda progress: _import(self, kind, path, progress)
                )

        self.push_screen(ImportScreen(), chosen)

    def start_job(self, title: str, job: Callable[[Callable[[float, str], None]], str]) -> None:
        """Run ``job`` in a thread with a progress screen; the UI stays responsive."""
        from .screens.jobs import JobScreen

        screen = JobScreen(title)
        self.push_screen(screen)
        self._run_job(screen, job)

    @work(thread=True, exclusive=True, group="job")
    def _run_job(self, screen, job) -> None:
        worker = get_current_worker()

        def progress(fraction: float, message: str = "") -> None:
            if not worker.is_cancelled:
                self.call_from_thread(screen.set_progress, fraction, message)

        from ..storage import DatabaseError

        try:
            text = job(progress)
        except (ServiceError, DatabaseError) as exc:
            self.call_from_thread(screen.failed, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - shown to the person, the app keeps running
            self.call_from_thread(screen.failed, f"unexpected {exc.__class__.__name__}: {exc}")
            return
        self.call_from_thread(screen.finished, str(text))
        self.call_from_thread(self.data_changed)

    def find_partners(self, text: str, limit: int = 15) -> list:
        """Find-a-partner for the palette (call it in a thread): the partners ``text`` finds, best
        first, as rows of the latest period (the rules: :func:`tiertui.services.read.sql.find`). The
        partners' texts are read once per data version."""
        from ..services.read import sql as statements

        version = self.data_version
        cached = self._find_texts
        if cached is None or cached[0] != version:
            cached = self._find_texts = (version, self.reader.partner_find_texts())
        keys = statements.find(cached[1], text, limit)
        return self.reader.partner_rows(keys, self.reader.latest_period()) if keys else []

    def data_changed(self) -> int:
        """Something was written: tell the screens (:class:`DataChanged`); the new data version.

        A screen that has already shown the data after the write (the overrides queue repaints from
        the approval's own read) sets its ``loaded_version`` to it and does not read again."""
        self.data_version += 1
        for screen in self.screen_stack:
            screen.post_message(self.DataChanged(self.data_version))
        return self.data_version


def _import(app: TiertuiApp, kind: str, path: str, progress) -> str:
    try:
        from ..services.imports import import_file
    except ImportError:
        raise ServiceError("importing is not available in this build") from None
    report = import_file(app.engine, kind, path, app.user, progress)
    return report.text() if hasattr(report, "text") else str(report)
