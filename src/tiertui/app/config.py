"""The app's user configuration: key remapping and theme, from ``keys.toml`` in the user config dir.

```toml
[keys]                      # binding id = key(s); several keys: "y,ctrl+y"
"overrides.approve" = "y"
"scorecard.next_period" = "right"

[app]
theme = "nord"              # any Textual theme name
```

A missing file is fine; a broken one is reported in the app (a notification), never fatal; so is
a binding id that no screen or widget has (with the closest known id: a typo is the usual cause).
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

FILE_NAME = "keys.toml"


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir("tiertui", appauthor=False))


@dataclass
class Config:
    keymap: dict[str, str] = field(default_factory=dict)
    theme: str | None = None
    problems: list[str] = field(default_factory=list)
    path: Path | None = None


def load_config(folder: Path | None = None) -> Config:
    path = (folder or config_dir()) / FILE_NAME
    config = Config(path=path)
    if not path.exists():
        return config
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        config.problems.append(f"{path}: {exc}")
        return config
    keys = data.get("keys", {})
    if not isinstance(keys, dict):
        config.problems.append(f"{path}: [keys] must be a table of binding id = key")
        keys = {}
    for binding_id, key in keys.items():
        if isinstance(key, list) and all(isinstance(k, str) for k in key):
            key = ",".join(key)
        if not isinstance(key, str) or not key.strip():
            config.problems.append(f'{path}: keys.{binding_id} must be a key name such as "y" or "ctrl+y"')
            continue
        config.keymap[str(binding_id)] = key.strip()
    app = data.get("app", {})
    if isinstance(app, dict) and isinstance(app.get("theme"), str):
        config.theme = app["theme"]
    return config


# ------------------------------------------------------------------ binding ids that nothing has


def known_binding_ids() -> set[str]:
    """Every binding id of the app, its screens and widgets (and Textual's own classes loaded).

    Imports every module of ``tiertui.app.screens`` and ``tiertui.app.widgets`` (some screens load
    the services and SQLAlchemy): call it after the first screen is up, not before.
    """
    from textual.binding import Binding
    from textual.dom import DOMNode

    from . import app as _app  # noqa: F401  (the app's own bindings)
    from . import screens, widgets

    for package in (screens, widgets):
        for module in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
            importlib.import_module(module.name)
    ids: set[str] = set()
    pending: list[type] = [DOMNode]
    seen: set[type] = set()
    while pending:
        cls = pending.pop()
        if cls in seen:
            continue
        seen.add(cls)
        pending.extend(cls.__subclasses__())
        for binding in cls.__dict__.get("BINDINGS", ()):
            if isinstance(binding, Binding) and binding.id:
                ids.add(binding.id)
    return ids


def unknown_binding_problems(config: Config, known: Iterable[str]) -> list[str]:
    """One message per binding id in ``config.keymap`` that ``known`` does not hold, with the closest
    known id when there is one."""
    known = sorted(set(known))
    problems = []
    for binding_id in config.keymap:
        if binding_id in known:
            continue
        close = difflib.get_close_matches(binding_id, known, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        problems.append(f"{config.path}: no key binding has the id {binding_id!r}{hint} (it was ignored)")
    return problems
