"""Saved views of the partner list: any filter and sort under a name, in ``views.toml`` beside
``keys.toml`` in the user config folder; reopened from the palette (ctrl+p, the view's name).

    [views."Gold at risk"]
    tier = "Gold"
    at_risk = true
    sort = "score"
    descending = true
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import asdict, fields
from pathlib import Path

from ..services.read import PartnerQuery

FILE_NAME = "views.toml"
SAVED = [f.name for f in fields(PartnerQuery) if f.name != "period"]  # a view follows the latest period


def load_views(folder: Path) -> dict[str, PartnerQuery]:
    """The saved views by name (a file that cannot be read gives none; bad entries are skipped)."""
    try:
        data = tomllib.loads((folder / FILE_NAME).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}
    views = {}
    for name, table in (data.get("views") or {}).items():
        if isinstance(table, dict):
            try:
                views[name] = PartnerQuery(**{k: v for k, v in table.items() if k in SAVED})
            except TypeError:
                continue
    return views


def save_view(folder: Path, name: str, query: PartnerQuery) -> Path:
    """Save ``query`` as the view ``name`` (replacing one of that name); written whole, then renamed."""
    views = load_views(folder)
    views[name] = query
    lines = []
    for view_name, q in views.items():
        lines.append(f"[views.{json.dumps(view_name)}]")
        for key, value in asdict(q).items():
            if key not in SAVED or value is None or (key == "text" and not value):
                continue
            lines.append(f"{key} = {json.dumps(value)}")  # a JSON string, number or bool is valid TOML
        lines.append("")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FILE_NAME
    partial = path.with_suffix(".toml.partial")
    partial.write_text("\n".join(lines), encoding="utf-8")
    os.replace(partial, path)
    return path
