"""The scenario file and its knobs: every editable number of a program file, and editing one.

**Edits** rewrite the TOML document from its parsed form (:mod:`.toml_writer`), so comments are
not kept; each edit is re-validated as a program.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...scoring import Program, ProgramError, parse_program
from ...scoring.program import BENEFIT_KINDS
from ..errors import ServiceError
from .toml_writer import BARE_KEY, dumps

KNOB_KINDS = ("grace_periods", "at_risk_margin", "points", "target", "min_score", "gate", "maximum", "benefit")


@dataclass(frozen=True)
class Knob:
    """One editable number of a program file.

    ``path`` leads into the parsed TOML document (strings and list indices). Indices shift
    when a score component is switched off: read :func:`editable_values` again after each edit.
    """

    key: str  # unique in one program, e.g. "requirements.Gold.gates.revenue"
    path: tuple
    kind: str  # one of KNOB_KINDS
    group: str  # "Program", "Score", a tier name, "Benefits": for grouping on a screen
    label: str  # plain words: "Gold (LATAM) gate revenue"
    value: float | None  # None: not set
    removable: bool  # apply_edit(..., None) switches it off
    integer: bool = False


def _key_text(path: Sequence) -> str:
    parts: list[str] = []
    for p in path:
        if isinstance(p, int):
            parts[-1] += f"[{p}]"
        else:
            parts.append(p if BARE_KEY.fullmatch(p) else json.dumps(p, ensure_ascii=False))
    return ".".join(parts)


def _knob(path: tuple, kind: str, group: str, label: str, value, removable: bool, integer: bool = False) -> Knob:
    return Knob(_key_text(path), path, kind, group, label, None if value is None else float(value), removable, integer)


def parse_scenario(text: str, name: str) -> Program:
    """``text`` parsed as a program; the parser's message as a :class:`ServiceError` when it is not one."""
    try:
        return parse_program(text, name)
    except ProgramError as exc:
        raise ServiceError(str(exc)) from None


def _document(program: Program | str) -> dict[str, Any]:
    text = program.source if isinstance(program, Program) else program
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ServiceError(f"not valid TOML: {exc}") from None


def editable_values(program: Program | str) -> list[Knob]:
    """Every editable number of a program, in file order.

    Includes each tier's min_score even when unset, and, when the program names a
    revenue_metric, each tier's discount, rebate and mdf (unset: None) so they can be added.
    """
    doc = _document(program)
    head = doc.get("program", {})
    knobs = [
        _knob(
            ("program", "grace_periods"),
            "grace_periods",
            "Program",
            "grace periods",
            head.get("grace_periods", 0),
            False,
            True,
        ),
        _knob(
            ("program", "at_risk_margin"),
            "at_risk_margin",
            "Program",
            "at-risk margin",
            head.get("at_risk_margin", 0.10),
            False,
        ),
    ]
    for i, comp in enumerate(doc.get("score", [])):
        metric = comp.get("metric", "?")
        for kind in ("points", "target"):
            knobs.append(_knob(("score", i, kind), kind, "Score", f"score {metric} {kind}", comp.get(kind), True))
    tiers = head.get("tiers", [])
    for tier, spec in doc.get("requirements", {}).items():
        base = ("requirements", tier)
        knobs += _rule_knobs(base, spec, tier, tier, base_rule=True)
        for v, vspec in enumerate(spec.get("variants", [])):
            knobs += _rule_knobs((*base, "variants", v), vspec, tier, _variant_label(tier, vspec), base_rule=False)
    if head.get("revenue_metric"):
        benefits = doc.get("benefits", {})
        for tier in tiers:
            for kind in BENEFIT_KINDS:
                knobs.append(
                    _knob(
                        ("benefits", tier, kind),
                        "benefit",
                        "Benefits",
                        f"{tier} {kind}",
                        benefits.get(tier, {}).get(kind),
                        True,
                    )
                )
    return knobs


def _variant_label(tier: str, spec: Mapping[str, Any]) -> str:
    """A variant's label: "Gold (LATAM / MSP)"."""
    named = " / ".join(str(spec[k]) for k in ("region", "partner_type") if k in spec)
    return f"{tier} ({named})"


def _rule_knobs(path: tuple, spec: Mapping[str, Any], tier: str, label: str, base_rule: bool) -> list[Knob]:
    knobs = []
    if base_rule or "min_score" in spec:
        knobs.append(_knob((*path, "min_score"), "min_score", tier, f"{label} min_score", spec.get("min_score"), True))
    for table, kind in (("gates", "gate"), ("maxima", "maximum")):
        for metric, value in spec.get(table, {}).items():
            knobs.append(_knob((*path, table, metric), kind, tier, f"{label} {kind} {metric}", value, True))
    return knobs


def gate_knob(program: Program | str, tier: str, metric: str, kind: str = "gate", variant: int | None = None) -> Knob:
    """A knob for a gate or maximum (``kind="maximum"``) that may not exist yet, to add it with apply_edit."""
    if kind not in ("gate", "maximum"):
        raise ServiceError(f"kind must be 'gate' or 'maximum', not {kind!r}")
    doc = _document(program)
    spec = doc.get("requirements", {}).get(tier)
    if spec is None:
        raise ServiceError(f"tier {tier!r} has no requirements (tiers above the entry tier have)")
    path: tuple = ("requirements", tier)
    label = tier
    if variant is not None:
        variants = spec.get("variants", [])
        if not 0 <= variant < len(variants):
            raise ServiceError(f"{tier} has no variant {variant + 1}")
        spec = variants[variant]
        path = (*path, "variants", variant)
        label = _variant_label(tier, spec)
    table = "gates" if kind == "gate" else "maxima"
    return _knob((*path, table, metric), kind, tier, f"{label} {kind} {metric}", spec.get(table, {}).get(metric), True)


def apply_edit(program_text: str, knob: Knob, new_value: float | None) -> str:
    """The program text with ``knob`` set to ``new_value`` (None: switch it off), re-validated.

    Switching off a score component's points or target removes the component. Raises
    :class:`ServiceError` with the parser's message when the result is not a valid program.
    """
    doc = _document(program_text)
    if knob.kind not in KNOB_KINDS:
        raise ServiceError(f"unknown kind of value {knob.kind!r}")
    if new_value is None:
        if not knob.removable:
            raise ServiceError(f"{knob.label} cannot be switched off")
        _remove(doc, knob)
    else:
        if isinstance(new_value, bool) or not isinstance(new_value, (int, float)) or not math.isfinite(new_value):
            raise ServiceError(f"{knob.label}: {new_value!r} is not a number")
        number = float(new_value)
        value: int | float = number
        if knob.integer or knob.kind == "grace_periods":
            if not number.is_integer():
                raise ServiceError(f"{knob.label} must be a whole number, not {new_value!r}")
            value = int(number)
        elif number.is_integer() and knob.kind != "at_risk_margin" and abs(number) < 2**53:
            value = int(number)
        _set(doc, knob.path, value)
    text = dumps(doc)
    try:
        parse_program(text, "scenario")
    except ProgramError as exc:
        raise ServiceError(f"{knob.label} = {new_value!r}: {exc}") from None
    return text


def _walk(doc: dict, path: Sequence, create: bool):
    node: Any = doc
    for step in path[:-1]:
        if isinstance(step, int):
            if not isinstance(node, list) or not 0 <= step < len(node):
                raise ServiceError(f"{_key_text(path)}: not in this program")
            node = node[step]
        else:
            if step not in node:
                if not create:
                    return None
                node[step] = {}
            node = node[step]
            if not isinstance(node, (dict, list)):
                raise ServiceError(f"{_key_text(path)}: not in this program")
    return node


def _set(doc: dict, path: Sequence, value) -> None:
    node = _walk(doc, path, create=True)
    node[path[-1]] = value


def _remove(doc: dict, knob: Knob) -> None:
    path = knob.path
    if knob.kind in ("points", "target"):
        score = doc.get("score", [])
        i = path[1]
        if not isinstance(i, int) or not 0 <= i < len(score):
            raise ServiceError(f"{knob.key}: not in this program")
        del score[i]
        return
    node = _walk(doc, path, create=False)
    if node is None or path[-1] not in node:
        return  # already off
    del node[path[-1]]
    if path[-2] in ("gates", "maxima") and not node:
        parent = _walk(doc, path[:-1], create=False)
        del parent[path[-2]]
    if path[0] == "benefits" and not node:
        del doc["benefits"][path[1]]
        if not doc["benefits"]:
            del doc["benefits"]
