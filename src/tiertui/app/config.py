"""The app's user configuration: key remapping and theme, from ``keys.toml`` in the user config dir.

```toml
[keys]                      # binding id = key(s); several keys: "y,ctrl+y"
"overrides.approve" = "y"
"scorecard.next_period" = "right"

[app]
theme = "nord"              # any Textual theme name
```

A missing file is fine; a broken one is reported in the app (a notification), never fatal.
"""

from __future__ import annotations

import tomllib
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
