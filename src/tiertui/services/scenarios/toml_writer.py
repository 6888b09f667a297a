"""A TOML writer for program files: the text for the dict ``tomllib`` gives (comments are not kept)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from ..errors import ServiceError

_INLINE = ("gates", "maxima")
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")  # a key TOML takes without quotes


def dumps(doc: Mapping[str, Any]) -> str:
    """TOML text for a program document (the dict tomllib gives): tables, arrays of tables, inline gates."""
    out: list[str] = []
    _write_table(out, (), doc, header=None)
    return "\n".join(out).lstrip("\n") + "\n"


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _is_subtable(key: str, value: Any) -> bool:
    return isinstance(value, dict) and key not in _INLINE


def _write_table(out: list[str], path: tuple, table: Mapping[str, Any], header: str | None) -> None:
    plain = [(k, v) for k, v in table.items() if not _is_subtable(k, v) and not _is_table_array(v)]
    nested = [(k, v) for k, v in table.items() if _is_subtable(k, v) or _is_table_array(v)]
    if header is not None:
        out += ["", header]
    elif path and (plain or not nested):
        out += ["", f"[{'.'.join(_toml_key(p) for p in path)}]"]
    for k, v in plain:
        out.append(f"{_toml_key(k)} = {_toml_value(v)}")
    for k, v in nested:
        sub = (*path, k)
        if isinstance(v, dict):
            _write_table(out, sub, v, header=None)
        else:
            for item in v:
                _write_table(out, sub, item, header=f"[[{'.'.join(_toml_key(p) for p in sub)}]]")


def _toml_key(key: str) -> str:
    return key if BARE_KEY.fullmatch(key) else _toml_string(key)


def _toml_string(text: str) -> str:
    body = []
    for ch in text:
        if ch == '"':
            body.append('\\"')
        elif ch == "\\":
            body.append("\\\\")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            body.append(f"\\u{ord(ch):04x}")
        else:
            body.append(ch)
    return '"' + "".join(body) + '"'


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }" if value else "{}"
        )
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise ServiceError(f"cannot write {value!r} as TOML")
