"""The program file (TOML): its model and its validation (spec §1).

Loading never half-succeeds: :func:`parse_program` returns a complete, validated
:class:`Program` or raises :class:`ProgramError` naming the key (and a line number
whenever one can be found) and suggesting the closest valid name for a misspelling.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NoReturn

from .numbers import is_flag_unit
from .periods import FREQUENCIES

ROLLUPS = ("sum", "none", "any")
MISSING = ("zero", "previous")
CERT_PREFIX = "cert:"
DESIGNATION_PREFIX = "designation:"  # a flag: 1 when the designation is held (v2 §3.12)
DESIGNATIONS = "designations"  # the number of designations held (v2 §3.12)
PROTECT = ("carried", "highest")
BENEFIT_KINDS = ("discount", "rebate", "mdf")

_PROGRAM_KEYS = (
    "name",
    "frequency",
    "grace_periods",
    "at_risk_margin",
    "tiers",
    "revenue_metric",
    "effective_from",
)
_METRIC_KEYS = ("label", "unit", "rollup", "missing")
_SCORE_KEYS = ("metric", "points", "target")
_RULE_KEYS = ("min_score", "gates", "maxima")
_REQUIREMENT_KEYS = (*_RULE_KEYS, "variants")
_VARIANT_KEYS = ("region", "partner_type", *_RULE_KEYS)
_BADGE_KEYS = ("name", "metric", "min")
_TRANSITION_KEYS = ("tiers", "protect_through", "protect", "lookback_periods")
_DESIGNATION_KEYS = ("name", *_RULE_KEYS, "keep_periods", "score")
_TOP_KEYS = ("program", "metrics", "score", "requirements", "badges", "benefits", "transition", "designations")


class ProgramError(ValueError):
    """A program file that cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    unit: str = ""
    rollup: str = "sum"
    missing: str = "zero"  # (v2 §3.1) zero | previous

    @property
    def is_flag(self) -> bool:
        """``unit = "yes/no"``: values are 0 or 1, shown as yes/no, never within a margin (v2)."""
        return is_flag_unit(self.unit)


@dataclass(frozen=True)
class ScoreComponent:
    metric: str
    points: float
    target: float


@dataclass(frozen=True)
class Rule:
    """Requirements of one tier for one kind of partner: all optional."""

    min_score: float | None = None
    gates: Mapping[str, float] = field(default_factory=dict)
    maxima: Mapping[str, float] = field(default_factory=dict)

    def merged(self, other: Rule) -> Rule:
        """This rule with ``other``'s keys replacing its own (variant merging, §1)."""
        return Rule(
            other.min_score if other.min_score is not None else self.min_score,
            {**self.gates, **other.gates},
            {**self.maxima, **other.maxima},
        )


@dataclass(frozen=True)
class Variant:
    region: str | None
    partner_type: str | None
    rule: Rule

    def matches(self, region: str, partner_type: str) -> bool:
        """All named fields must match, trimmed and case-insensitively (v2 §3.4)."""
        if self.region is not None and not _same(self.region, region):
            return False
        if self.partner_type is not None and not _same(self.partner_type, partner_type):
            return False
        return True

    def describe(self) -> str:
        named = [v for v in (self.region, self.partner_type) if v is not None]
        return " / ".join(named)


def _same(a: str, b: str | None) -> bool:
    return (a or "").strip().casefold() == (b or "").strip().casefold()


@dataclass(frozen=True)
class Requirement:
    tier: str
    base: Rule
    variants: tuple[Variant, ...] = ()

    def options(self) -> list[Rule]:
        """The base rule, then each variant merged onto it, in file order."""
        return [self.base, *(self.base.merged(v.rule) for v in self.variants)]

    def variant_index(self, region: str, partner_type: str) -> int:
        """Index into :meth:`options`: 0 for the base, 1 + i for variant i."""
        for i, variant in enumerate(self.variants):
            if variant.matches(region, partner_type):
                return i + 1
        return 0

    def resolve(self, region: str, partner_type: str) -> Rule:
        return self.options()[self.variant_index(region, partner_type)]


@dataclass(frozen=True)
class Badge:
    name: str
    metric: str
    min: float


@dataclass(frozen=True)
class Benefits:
    """Fractions of the partner's revenue metric granted at a tier (issue 4)."""

    discount: float = 0.0
    rebate: float = 0.0
    mdf: float = 0.0

    @property
    def total(self) -> float:
        return self.discount + self.rebate + self.mdf


@dataclass(frozen=True)
class Transition:
    """(v2 §3.11) How partners cross into this version: the tier map and the protection."""

    tiers: Mapping[str, str] = field(default_factory=dict)  # old tier name -> tier of this version
    protect_through: date | None = None  # periods ending on or before it are protected
    protect: str = "carried"  # carried | highest
    lookback_periods: int = 0  # with protect = "highest"

    def carry(self, name: str) -> str:
        """An old tier's name in this version: through the map, else the same name."""
        return self.tiers.get(name, name)


@dataclass(frozen=True)
class Designation:
    """(v2 §3.12) An achievement evaluated before tiers, with its own score and requirements."""

    name: str
    rule: Rule
    score: tuple[ScoreComponent, ...] = ()
    keep_periods: int = 0

    @property
    def flag(self) -> str:
        return DESIGNATION_PREFIX + self.name

    @property
    def max_score(self) -> float:
        return float(sum(c.points for c in self.score))

    def used_metrics(self) -> list[str]:
        seen = {c.metric: None for c in self.score}
        seen.update({m: None for m in (*self.rule.gates, *self.rule.maxima)})
        return list(seen)


@dataclass(frozen=True)
class Program:
    name: str
    frequency: str
    grace_periods: int
    at_risk_margin: float
    tiers: tuple[str, ...]
    metrics: Mapping[str, Metric]
    score: tuple[ScoreComponent, ...]
    requirements: Mapping[str, Requirement]
    badges: tuple[Badge, ...]
    benefits: Mapping[str, Benefits] = field(default_factory=dict)
    revenue_metric: str | None = None
    source: str = ""
    effective_from: date | None = None  # (v2 §3.11) first day in force; None: from the start
    transition: Transition | None = None  # (v2 §3.11)
    designations: tuple[Designation, ...] = ()  # (v2 §3.12)

    @property
    def entry_tier(self) -> str:
        return self.tiers[0]

    @property
    def max_score(self) -> float:
        return float(sum(c.points for c in self.score))

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()

    def tier_index(self, tier: str) -> int:
        return self.tiers.index(tier)

    def carried_tier(self, name: str) -> str | None:
        """(v2 §3.11) A tier name on record, in an override or of an earlier version, read in this
        version: itself when this version has it, else through ``[transition] tiers``; None when neither."""
        if name in self.tiers:
            return name
        if self.transition is not None:
            mapped = self.transition.tiers.get(name)
            if mapped in self.tiers:
                return mapped
        return None

    def designation_metrics(self) -> list[str]:
        """``designation:<name>`` of each designation, then ``designations`` (derived, v2 §3.12)."""
        if not self.designations:
            return []
        return [d.flag for d in self.designations] + [DESIGNATIONS]

    def input_metrics(self) -> list[str]:
        """The metrics read from the data (declared and cert:<track>): :meth:`used_metrics` without
        the derived designation metrics."""
        return [m for m in self.used_metrics() if not is_derived(m)]

    def used_metrics(self) -> list[str]:
        """Every metric the rules read, in a stable order (declared first, then cert tracks, then
        (v2) the designations' flags and count)."""
        seen: dict[str, None] = {}
        for d in self.designations:
            for m in d.used_metrics():
                seen[m] = None
        for c in self.score:
            seen[c.metric] = None
        for req in self.requirements.values():
            for rule in req.options():
                for m in (*rule.gates, *rule.maxima):
                    seen[m] = None
        for b in self.badges:
            seen[b.metric] = None
        if self.revenue_metric:
            seen[self.revenue_metric] = None
        declared = [m for m in self.metrics if m in seen]
        certs = sorted(m for m in seen if m.startswith(CERT_PREFIX))
        return declared + certs + self.designation_metrics()

    def label_of(self, metric: str) -> str:
        """What a manager calls the metric: its label; ``cert:uc`` is "Certified people (UC)"."""
        if metric.startswith(CERT_PREFIX):
            return f"Certified people ({track_label(metric[len(CERT_PREFIX) :])})"
        if metric.startswith(DESIGNATION_PREFIX):
            return f"Designation {metric[len(DESIGNATION_PREFIX) :]}"
        if metric == DESIGNATIONS:
            return "Designations held"
        return self.metrics[metric].label if metric in self.metrics else metric

    def unit_of(self, metric: str) -> str:
        if metric.startswith(CERT_PREFIX):
            return "people"
        if metric.startswith(DESIGNATION_PREFIX):
            return "yes/no"
        if metric == DESIGNATIONS:
            return "designations"
        return self.metrics[metric].unit if metric in self.metrics else ""

    def is_flag(self, metric: str) -> bool:
        """A yes/no metric (v2): ``unit = "yes/no"``, or ``designation:<name>``."""
        if metric.startswith(DESIGNATION_PREFIX):
            return True
        return metric in self.metrics and self.metrics[metric].is_flag


def is_derived(metric: str) -> bool:
    """``designations`` and ``designation:<name>``: computed in each period, never read (v2 §3.12)."""
    return metric == DESIGNATIONS or metric.startswith(DESIGNATION_PREFIX)


def timeline_after_load(timeline: Sequence[Program], new: Program) -> list[Program]:
    """(v2 §3.11) The versions in force after loading ``new``: without ``effective_from`` it is the
    only one; with date D, those in force before D stay and those dated on or after D are replaced."""
    if new.effective_from is None:
        return [new]
    kept = [p for p in timeline if p.effective_from is None or p.effective_from < new.effective_from]
    return sort_timeline([*kept, new])


def sort_timeline(timeline: Sequence[Program]) -> list[Program]:
    """Versions by ``effective_from``, a version without it first."""
    return sorted(timeline, key=lambda p: p.effective_from or date.min)


def track_label(track: str) -> str:
    """A certification track as people say it: short codes in capitals (``uc`` → ``UC``),
    longer names with spaces (``contact_center`` → ``contact center``)."""
    text = track.strip().replace("_", " ")
    return text.upper() if len(text) <= 3 else text


# ---------------------------------------------------------------------------- loading


def suggest(name: str, candidates) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or an empty string."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Locator:
    """Finds the line of a key in the TOML source, best effort, for messages."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def line(self, *needles: str) -> int | None:
        """The line of the last needle, found in order: each on a line after the one before."""
        start, found = 0, None
        for needle in needles:
            pat = re.compile(r"(^|[\s\[.{,\"'])" + re.escape(needle) + r"($|[\s\].=}\"',])")
            for number in range(start, len(self.lines)):
                if pat.search(self.lines[number].split("#", 1)[0]):
                    start, found = number + 1, number + 1
                    break
            else:
                return found
        return found


def program_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def parse_program(text: str, filename: str = "program") -> Program:
    """Parse and validate program TOML; raise :class:`ProgramError` on the first problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProgramError(f"{filename}: not valid TOML: {exc}") from None
    return _Builder(data, text, filename).build()


class _Builder:
    def __init__(self, data: dict[str, Any], text: str, filename: str) -> None:
        self.data = data
        self.text = text
        self.filename = filename
        self.loc = _Locator(text)

    # -- errors
    def fail(self, key: str, message: str, *needles: str) -> NoReturn:
        line = self.loc.line(*needles) if needles else None
        where = f"{self.filename}, line {line}" if line else self.filename
        raise ProgramError(f"{where}: {key}: {message}")

    def check_keys(self, table: Mapping[str, Any], allowed, key: str, *needles: str) -> None:
        for k in table:
            if k not in allowed:
                self.fail(f"{key}.{k}" if key else k, "unknown key" + suggest(k, allowed), *needles, k)

    def number(self, value: Any, key: str, *needles: str, positive=False, allow_zero=True) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.fail(key, f"must be a number, not {value!r}", *needles)
        if positive and (value < 0 or (value == 0 and not allow_zero)):
            self.fail(key, f"must be greater than 0, not {value!r}", *needles)
        return float(value)

    def text_value(self, value: Any, key: str, *needles: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(key, f"must be a non-empty string, not {value!r}", *needles)
        return value.strip()

    def table(self, value: Any, key: str, *needles: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(key, "must be a table", *needles)
        return value

    def metric_name(self, name: str, key: str, *needles: str, derived: bool = True) -> str:
        if is_derived(name):
            if not derived:
                self.fail(
                    key,
                    f"a designation's own requirements and score cannot use {name!r} "
                    "(designations are evaluated before one another's results are known)",
                    *needles,
                )
            if name == DESIGNATIONS:
                return name
            names = [d.name for d in self.designations]
            dname = name[len(DESIGNATION_PREFIX) :]
            if dname not in names:
                self.fail(key, f"unknown designation {dname!r}" + suggest(dname, names), *needles)
            return name
        if name.startswith(CERT_PREFIX):
            if not name[len(CERT_PREFIX) :].strip():
                self.fail(key, f"{name!r} names no certification track", *needles)
            return name
        if name not in self.metrics:
            self.fail(
                key,
                f"undeclared metric {name!r}"
                + suggest(name, self.metrics)
                + f"; declare it as [metrics.{name}] or use cert:<track>",
                *needles,
            )
        return name

    # -- sections
    def build(self) -> Program:
        self.check_keys(self.data, _TOP_KEYS, "")
        if "program" not in self.data:
            self.fail("program", "missing [program] table")
        head = self.table(self.data["program"], "program", "[program]")
        self.check_keys(head, _PROGRAM_KEYS, "program", "[program]")
        name = self.text_value(head.get("name"), "program.name", "name")
        frequency = head.get("frequency", "quarterly")
        if frequency not in FREQUENCIES:
            self.fail(
                "program.frequency",
                f"unknown frequency {frequency!r}{suggest(str(frequency), FREQUENCIES)}; "
                f"use one of {', '.join(FREQUENCIES)}",
                "frequency",
            )
        grace = head.get("grace_periods", 0)
        if isinstance(grace, bool) or not isinstance(grace, int) or grace < 0:
            self.fail("program.grace_periods", f"must be a whole number >= 0, not {grace!r}", "grace_periods")
        margin = self.number(head.get("at_risk_margin", 0.10), "program.at_risk_margin", "at_risk_margin")
        if not 0 <= margin < 1:
            self.fail("program.at_risk_margin", f"must be between 0 and 1, not {margin!r}", "at_risk_margin")
        tiers = head.get("tiers")
        if not isinstance(tiers, list) or not tiers or not all(isinstance(t, str) and t.strip() for t in tiers):
            self.fail("program.tiers", "must be a non-empty list of tier names, lowest first", "tiers")
        tiers = [t.strip() for t in tiers]
        seen: set[str] = set()
        for t in tiers:
            if ";" in t:
                self.fail(
                    "program.tiers", f"tier name {t!r} must not contain ';' (exports join names with it)", "tiers"
                )
            if t.casefold() in seen:
                self.fail("program.tiers", f"duplicate tier name {t!r}", "tiers")
            seen.add(t.casefold())
        self.tiers = tuple(tiers)

        effective_from = head.get("effective_from")
        if effective_from is not None:
            effective_from = self.day(effective_from, "program.effective_from", "effective_from")
        self.metrics = self.build_metrics()
        self.designations: tuple[Designation, ...] = ()
        self.designations = self.build_designations()
        transition = self.build_transition(effective_from)
        score = self.build_score()
        requirements = self.build_requirements()
        badges = self.build_badges()
        revenue_metric = head.get("revenue_metric")
        if revenue_metric is not None:
            revenue_metric = self.metric_name(
                self.text_value(revenue_metric, "program.revenue_metric", "revenue_metric"),
                "program.revenue_metric",
                "revenue_metric",
            )
        benefits = self.build_benefits(revenue_metric)
        return Program(
            name=name,
            frequency=frequency,
            grace_periods=grace,
            at_risk_margin=margin,
            tiers=self.tiers,
            metrics=self.metrics,
            score=score,
            requirements=requirements,
            badges=badges,
            benefits=benefits,
            revenue_metric=revenue_metric,
            source=self.text,
            effective_from=effective_from,
            transition=transition,
            designations=self.designations,
        )

    def day(self, value: Any, key: str, *needles: str) -> date:
        if isinstance(value, date) and not hasattr(value, "hour"):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        self.fail(key, f'must be a date such as "2026-10-01", not {value!r}', *needles)

    def build_transition(self, effective_from: date | None) -> Transition | None:
        if "transition" not in self.data:
            return None
        spec = self.table(self.data["transition"], "transition", "[transition]")
        self.check_keys(spec, _TRANSITION_KEYS, "transition", "[transition]")
        if effective_from is None:
            self.fail(
                "transition",
                "a [transition] needs [program] effective_from: the date this version takes over",
                "[transition]",
            )
        mapping = self.table(spec.get("tiers", {}), "transition.tiers", "[transition]", "tiers")
        tiers: dict[str, str] = {}
        for old, new in mapping.items():
            key = f"transition.tiers.{old}"
            new = self.text_value(new, key, "[transition]", old)
            if new not in self.tiers:
                self.fail(
                    key,
                    f"maps {old!r} to {new!r}, which this version does not have"
                    + suggest(new, self.tiers)
                    + f" (tiers: {', '.join(self.tiers)})",
                    "[transition]",
                    old,
                )
            tiers[old.strip()] = new
        through = spec.get("protect_through")
        if through is not None:
            through = self.day(through, "transition.protect_through", "[transition]", "protect_through")
        protect = spec.get("protect", "carried")
        if protect not in PROTECT:
            self.fail(
                "transition.protect",
                f"unknown protect {protect!r}{suggest(str(protect), PROTECT)}; use carried or highest",
                "[transition]",
                "protect",
            )
        lookback = spec.get("lookback_periods")
        if lookback is not None and (isinstance(lookback, bool) or not isinstance(lookback, int) or lookback < 1):
            self.fail(
                "transition.lookback_periods",
                f"must be a whole number >= 1, not {lookback!r}",
                "[transition]",
                "lookback_periods",
            )
        if protect == "highest" and lookback is None:
            self.fail(
                "transition.lookback_periods",
                'missing: protect = "highest" needs lookback_periods (how many periods before the change count)',
                "[transition]",
                "protect",
            )
        return Transition(tiers, through, protect, lookback or 0)

    def build_designations(self) -> tuple[Designation, ...]:
        raw = self.data.get("designations", [])
        if not isinstance(raw, list):
            self.fail("designations", "must be an array of tables: [[designations]]", "designations")
        result: list[Designation] = []
        names: set[str] = set()
        for i, spec in enumerate(raw, start=1):
            key = f"designations[{i}]"
            at = ("[[designations]]",) * i
            spec = self.table(spec, key, *at)
            self.check_keys(spec, _DESIGNATION_KEYS, key, *at)
            name = self.text_value(spec.get("name"), f"{key}.name", *at, "name")
            if ";" in name:
                self.fail(
                    f"{key}.name",
                    f"designation name {name!r} must not contain ';' (exports join names with it)",
                    *at,
                    "name",
                )
            if name in names:
                self.fail(f"{key}.name", f"duplicate designation {name!r}", *at, "name")
            names.add(name)
            keep = spec.get("keep_periods", 0)
            if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
                self.fail(f"{key}.keep_periods", f"must be a whole number >= 0, not {keep!r}", *at, "keep_periods")
            rule = self.build_rule(spec, key, *at, derived=False)
            comps = spec.get("score", [])
            if not isinstance(comps, list):
                self.fail(f"{key}.score", "must be an array of tables: [[designations.score]]", *at)
            score = []
            for j, comp in enumerate(comps, start=1):
                ckey = f"{key}.score[{j}]"
                cat = (*at, *("[[designations.score]]",) * j)
                score.append(self.component(comp, ckey, cat, derived=False))
            if rule.min_score is not None and not score:
                self.fail(f"{key}.min_score", "needs [[designations.score]] components to score against", *at)
            result.append(Designation(name, rule, tuple(score), keep))
        return tuple(result)

    def build_metrics(self) -> dict[str, Metric]:
        metrics: dict[str, Metric] = {}
        section = self.table(self.data.get("metrics", {}), "metrics", "[metrics")
        for name, spec in section.items():
            needle = f"metrics.{name}"
            spec = self.table(spec, needle, needle)
            self.check_keys(spec, _METRIC_KEYS, needle, needle)
            if name.startswith(CERT_PREFIX):
                self.fail(needle, "cert:<track> metrics are built in and must not be declared", needle)
            if is_derived(name):
                self.fail(needle, f"{name!r} is computed from [[designations]] and must not be declared", needle)
            label = spec.get("label", name)
            unit = spec.get("unit", "")
            if not isinstance(label, str) or not isinstance(unit, str):
                self.fail(needle, "label and unit must be strings", needle)
            flag = is_flag_unit(unit)
            rollup = spec.get("rollup", "none" if flag else "sum")
            if rollup not in ROLLUPS:
                self.fail(
                    f"{needle}.rollup",
                    f"unknown rollup {rollup!r}{suggest(str(rollup), ROLLUPS)}; use sum, none or any (flags)",
                    needle,
                    "rollup",
                )
            if flag and rollup == "sum":
                self.fail(
                    f"{needle}.rollup",
                    'a yes/no flag cannot be summed: use rollup = "none" (its own value) or "any" '
                    "(yes when any partner of the group has yes)",
                    needle,
                    "rollup",
                )
            if not flag and rollup == "any":
                self.fail(
                    f"{needle}.rollup",
                    'rollup = "any" is for yes/no flags only (unit = "yes/no"); use sum or none',
                    needle,
                    "rollup",
                )
            missing = spec.get("missing", "zero")
            if missing not in MISSING:
                self.fail(
                    f"{needle}.missing",
                    f"unknown missing {missing!r}{suggest(str(missing), MISSING)}; use zero or previous",
                    needle,
                    "missing",
                )
            metrics[name] = Metric(name, label, unit.strip() if flag else unit, rollup, missing)
        return metrics

    def build_score(self) -> tuple[ScoreComponent, ...]:
        components = self.data.get("score", [])
        if not isinstance(components, list):
            self.fail("score", "must be an array of tables: [[score]]", "score")
        return tuple(
            self.component(comp, f"score[{i}]", ("[[score]]",) * i) for i, comp in enumerate(components, start=1)
        )

    def component(self, comp: Any, key: str, at: tuple[str, ...], derived: bool = True) -> ScoreComponent:
        comp = self.table(comp, key, *at)
        self.check_keys(comp, _SCORE_KEYS, key, *at)
        for required in _SCORE_KEYS:
            if required not in comp:
                self.fail(f"{key}.{required}", "missing", *at)
        metric = self.text_value(comp["metric"], f"{key}.metric", *at, "metric")
        metric = self.metric_name(metric, f"{key}.metric", *at, "metric", derived=derived)
        points = self.number(comp["points"], f"{key}.points", *at, "points", positive=True, allow_zero=False)
        target = self.number(comp["target"], f"{key}.target", *at, "target", positive=True, allow_zero=False)
        return ScoreComponent(metric, points, target)

    def build_rule(self, spec: Mapping[str, Any], key: str, *at: str, derived: bool = True) -> Rule:
        min_score = spec.get("min_score")
        if min_score is not None:
            min_score = self.number(min_score, f"{key}.min_score", *at, "min_score")
            if min_score < 0:
                self.fail(f"{key}.min_score", f"must not be negative, not {min_score:g}", *at, "min_score")
        parts = []
        for kind in ("gates", "maxima"):
            table = self.table(spec.get(kind, {}), f"{key}.{kind}", *at, kind)
            values = {}
            for metric, value in table.items():
                mkey = f"{key}.{kind}.{metric}"
                self.metric_name(metric, mkey, *at, metric, derived=derived)
                values[metric] = self.number(value, mkey, *at, metric)
                if values[metric] < 0:
                    self.fail(mkey, f"must not be negative, not {values[metric]:g}", *at, metric)
            parts.append(values)
        return Rule(min_score, parts[0], parts[1])

    def build_requirements(self) -> dict[str, Requirement]:
        section = self.table(self.data.get("requirements", {}), "requirements", "[requirements")
        result: dict[str, Requirement] = {}
        for tier, spec in section.items():
            key = f"requirements.{tier}"
            if tier not in self.tiers:
                self.fail(key, f"unknown tier {tier!r}" + suggest(tier, self.tiers[1:]), key)
            if tier == self.tiers[0]:
                self.fail(key, f"{tier!r} is the entry tier and takes no requirements", key)
            spec = self.table(spec, key, key)
            self.check_keys(spec, _REQUIREMENT_KEYS, key, key)
            base = self.build_rule(spec, key, key)
            variants = []
            raw_variants = spec.get("variants", [])
            if not isinstance(raw_variants, list):
                self.fail(f"{key}.variants", "must be an array of tables", key)
            for i, vspec in enumerate(raw_variants, start=1):
                vkey = f"{key}.variants[{i}]"
                at = (f"{key}.variants",) * i
                vspec = self.table(vspec, vkey, *at)
                self.check_keys(vspec, _VARIANT_KEYS, vkey, *at)
                region = vspec.get("region")
                ptype = vspec.get("partner_type")
                if region is None and ptype is None:
                    self.fail(vkey, "a variant must name a region, a partner_type, or both", *at)
                if region is not None:
                    region = self.text_value(region, f"{vkey}.region", *at, "region")
                if ptype is not None:
                    ptype = self.text_value(ptype, f"{vkey}.partner_type", *at, "partner_type")
                variants.append(Variant(region, ptype, self.build_rule(vspec, vkey, *at)))
            result[tier] = Requirement(tier, base, tuple(variants))
        for tier in self.tiers[1:]:
            if tier not in result:
                self.fail(
                    f"requirements.{tier}",
                    f"missing: every tier above the entry tier needs a [requirements.{tier}] table "
                    "(otherwise every partner would qualify for it)",
                    "tiers",
                )
        return {t: result[t] for t in self.tiers[1:]}

    def build_badges(self) -> tuple[Badge, ...]:
        badges = self.data.get("badges", [])
        if not isinstance(badges, list):
            self.fail("badges", "must be an array of tables: [[badges]]", "badges")
        result = []
        names: set[str] = set()
        for i, spec in enumerate(badges, start=1):
            key = f"badges[{i}]"
            at = ("[[badges]]",) * i
            spec = self.table(spec, key, *at)
            self.check_keys(spec, _BADGE_KEYS, key, *at)
            for required in _BADGE_KEYS:
                if required not in spec:
                    self.fail(f"{key}.{required}", "missing", *at)
            name = self.text_value(spec["name"], f"{key}.name", *at, "name")
            if name in names:
                self.fail(f"{key}.name", f"duplicate badge {name!r}", *at, "name")
            if ";" in name:
                self.fail(
                    f"{key}.name", f"badge name {name!r} must not contain ';' (exports join names with it)", *at, "name"
                )
            names.add(name)
            metric = self.metric_name(
                self.text_value(spec["metric"], f"{key}.metric", *at, "metric"), f"{key}.metric", *at, "metric"
            )
            minimum = self.number(spec["min"], f"{key}.min", *at, "min")
            if minimum < 0:
                self.fail(f"{key}.min", f"must not be negative, not {minimum:g}", *at, "min")
            result.append(Badge(name, metric, minimum))
        return tuple(result)

    def build_benefits(self, revenue_metric: str | None) -> dict[str, Benefits]:
        section = self.table(self.data.get("benefits", {}), "benefits", "[benefits")
        result = {}
        for tier, spec in section.items():
            key = f"benefits.{tier}"
            if tier not in self.tiers:
                self.fail(key, f"unknown tier {tier!r}" + suggest(tier, self.tiers), key)
            spec = self.table(spec, key, key)
            self.check_keys(spec, BENEFIT_KINDS, key, key)
            values = {}
            for kind in BENEFIT_KINDS:
                if kind in spec:
                    value = self.number(spec[kind], f"{key}.{kind}", kind)
                    if not 0 <= value <= 1:
                        self.fail(f"{key}.{kind}", f"is a fraction of revenue between 0 and 1, not {value!r}", kind)
                    values[kind] = value
            result[tier] = Benefits(**values)
        if result and revenue_metric is None:
            self.fail(
                "program.revenue_metric",
                "benefits need [program] revenue_metric to name the revenue metric",
                "[benefits",
            )
        return result
