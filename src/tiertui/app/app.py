"""The Textual application: screens over the services, keyboard first."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Callable

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import get_current_worker

from ..services import ServiceError
from ..services.browse import CertificationQuery, PartnerQuery
from ..storage import DatabaseError, open_engine
from .commands import NavigationCommands, PartnerCommands
from .config import Config, load_config

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


class TiertuiApp(App):
    """tiertui: partner levelling for channel managers."""

    TITLE = "tiertui"
    CSS_PATH = css_paths()
    COMMANDS = App.COMMANDS | {PartnerCommands, NavigationCommands}
    NOTIFICATION_TIMEOUT = 6

    BINDINGS = [
        Binding("question_mark,f1", "help", "Keys", id="app.help"),
        Binding("escape", "back", "Back", id="app.back"),
        Binding("g", "dashboard", "Home", id="app.dashboard"),
        Binding("l", "partners", "Partners", id="app.partners"),
        Binding("o", "overrides", "Overrides", id="app.overrides"),
        Binding("c", "certifications", "Certs", id="app.certifications"),
        Binding("w", "whatif", "What-if", id="app.whatif", show=False),
        Binding("L", "level", "Level", id="app.level", show=False),
        Binding("I", "import_file", "Import", id="app.import", show=False),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", show=False, priority=True),
    ]

    def __init__(
        self,
        engine_url: str | None,
        user: str,
        today: date | None = None,
        *,
        config_dir: Path | None = None,
        blink: bool = True,
    ) -> None:
        self.config: Config = load_config(config_dir)
        super().__init__()
        self.engine_url = engine_url
        self.engine = open_engine(engine_url)
        self.user = user
        self.today = today or date.today()
        self.blink = blink
        self.data_version = 0
        self.sub_title = f"{user}"
        if self.config.keymap:
            self.set_keymap(self.config.keymap)

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
        self.engine.dispose()

    # ------------------------------------------------------------------ navigation

    def action_back(self) -> None:
        if len(self.screen_stack) > 1:
            self.pop_screen()

    def action_dashboard(self) -> None:
        while len(self.screen_stack) > 1:
            self.pop_screen()

    def action_partners(self) -> None:
        self.open_partners()

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

    def action_whatif(self) -> None:
        from .screens.scenario import ScenarioScreen

        if not isinstance(self.screen, ScenarioScreen):
            self.push_screen(ScenarioScreen())

    def open_scorecard(self, partner_id: str, period: str | None = None) -> None:
        from .screens.scorecard import ScorecardScreen

        self.push_screen(ScorecardScreen(partner_id, period))

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
            return
        self.push_screen(HelpScreen(self.screen))

    # ------------------------------------------------------------------ long work

    def action_level(self) -> None:
        from ..services.levelling import run_levelling

        self.start_job("Levelling every period", lambda progress: run_levelling(self.engine, self.user, progress).text())

    def action_import_file(self) -> None:
        from .screens.jobs import ImportScreen

        def chosen(result: tuple[str, str] | None) -> None:
            if result:
                kind, path = result
                self.start_job(f"Importing {kind} from {Path(path).name}", lambda progress: _import(self, kind, path, progress))

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

    def data_changed(self) -> None:
        """Something was written: every screen reloads when next shown, the current one now."""
        self.data_version += 1
        for screen in self.screen_stack:
            reload = getattr(screen, "reload_if_stale", None)
            if reload is not None and screen is self.screen:
                reload()


def _import(app: TiertuiApp, kind: str, path: str, progress) -> str:
    try:
        from ..services.imports import import_file
    except ImportError:
        raise ServiceError("importing is not available in this build") from None
    report = import_file(app.engine, kind, path, app.user, progress)
    return report.text() if hasattr(report, "text") else str(report)
