"""A partner's scorecard for one period: the result, and why (spec §3.8 to §3.10).

Everything a manager reads out on a call is here twice: as structured data (for the app, the CLI
and JSON exports) and as a sentence (``text``) in plain words with units: "Product revenue:
$148,596 of $350,000 — $201,404 more", "Joint business plan on file: missing", "9.63 more points
(score 40.37 of 50): about $550,000 more product revenue, or 2 more certified people (UC)".
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_CEILING, Decimal

import numpy as np

from . import evaluate as ev
from .evaluate import Lapse
from .numbers import about, decimal6, number_text, round6, score_text, value_text
from .periods import PeriodError, next_period, parse_period
from .program import CERT_PREFIX, Program, track_label

NOT_REPORTED = "not reported"


@dataclass(frozen=True)
class ComponentLine:
    metric: str
    label: str
    value: float
    points: float
    max_points: float
    target: float
    unit: str = ""
    note: str = ""  # (v2 §3.1) "not reported" or "carried from 2026-Q2"; empty when reported


@dataclass(frozen=True)
class CheckLine:
    """One requirement of one tier: ``kind`` is ``min_score``, ``gate`` or ``maximum``."""

    tier: str
    kind: str
    metric: str
    label: str
    value: float
    threshold: float
    met: bool
    close: bool  # within the at-risk margin (never for a flag)
    unit: str = ""
    flag: bool = False
    note: str = ""  # (v2 §3.1) how the partner's own value was reported

    @property
    def shortfall(self) -> float:
        """How far the value is from meeting the threshold (0 when met), on 6-decimal values."""
        if self.met:
            return 0.0
        gap = decimal6(self.value) - decimal6(self.threshold)
        return float(gap if self.kind == "maximum" else -gap)

    def describe(self) -> str:
        """The requirement in plain words, with units; "(not reported)" or "(carried from …)"
        when the partner's own value was not reported for the period (v2 §3.1)."""
        text = self._words()
        return f"{text} ({self.note})" if self.note else text

    def _words(self) -> str:
        if self.kind == "min_score":
            if self.met:
                return f"Score: {score_text(self.value)}, needs at least {number_text(self.threshold)}"
            return (
                f"Score: {score_text(self.value)} of {number_text(self.threshold)} — "
                f"{score_text_up(self.shortfall)} more points"
            )
        if self.flag:
            want = value_text(self.threshold, self.unit)
            if self.met:
                return f"{self.label}: {value_text(self.value, self.unit)}"
            return f"{self.label}: missing" if want == "yes" else f"{self.label}: yes, must be no"
        value, threshold = value_text(self.value, self.unit), value_text(self.threshold, self.unit)
        if self.kind == "maximum":
            text = f"{self.label}: {value}, at most {threshold}"
            return text if self.met else f"{text} — {value_text(self.shortfall, self.unit, up=True)} fewer"
        if self.met:
            return f"{self.label}: {value}, needs at least {threshold}"
        return f"{self.label}: {value} of {threshold} — {value_text(self.shortfall, self.unit, up=True)} more"


@dataclass(frozen=True)
class ScoreRoute:
    """One score component that alone could close the score shortfall, and by how much more."""

    metric: str
    label: str
    unit: str
    amount: float  # exact increase of the metric's value needed
    rounded: float  # what is said: rounded up to a figure one says aloud
    text: str  # "about $550,000 more product revenue", "2 more certified people (UC)"


@dataclass(frozen=True)
class Gap:
    tier: str
    unmet: tuple[CheckLine, ...]
    score_shortfall: float
    score: float = 0.0
    min_score: float | None = None
    routes: tuple[ScoreRoute, ...] = ()

    @property
    def closed(self) -> bool:
        return not self.unmet

    def score_text(self) -> str:
        """ "9.63 more points (score 40.37 of 50): about $550,000 more revenue, or 2 more certified people (UC)"."""
        if not self.score_shortfall or self.min_score is None:
            return ""
        head = (
            f"{score_text_up(self.score_shortfall)} more points "
            f"(score {score_text(self.score)} of {number_text(self.min_score)})"
        )
        if not self.routes:
            return head + ": no single score component can close it alone"
        return head + ": " + ", or ".join(r.text for r in self.routes)

    def texts(self) -> list[str]:
        """Each unmet requirement of the next tier, in plain words, score first."""
        return [self.score_text() if c.kind == "min_score" else c.describe() for c in self.unmet]

    def text(self) -> str:
        if self.closed:
            return f"Meets every requirement of {self.tier}."
        return f"To reach {self.tier}:\n" + "\n".join(f"  • {line}" for line in self.texts())


@dataclass(frozen=True)
class RiskReason:
    """One reason a partner is at risk (§3.8): ``kind`` is grace, min_score, gate, maximum or lapse."""

    kind: str
    tier: str
    metric: str
    label: str
    value: float
    threshold: float
    text: str
    remaining: float | None = None  # lapse: people left at the next period's end
    lapsing: tuple[Lapse, ...] = ()  # lapse: who, and when their certification expires
    next_period: str = ""  # lapse: the period by whose end they lapse
    designations_lost: tuple[str, ...] = ()  # lapse (v2 §3.12): designations met now that would not be


@dataclass(frozen=True)
class DesignationLine:
    """(v2 §3.12) One designation for one partner and period: held or not, and why."""

    name: str
    held: bool
    met: bool  # met in this very period (held may come from the keep-window)
    score: float | None  # its own score (None: it has no score components)
    max_score: float
    components: tuple[ComponentLine, ...]
    checks: tuple[CheckLine, ...]  # its min_score, gates and maxima
    keep_periods: int = 0
    last_met: str | None = None  # the last period it was met in (None: never, as far as known)
    held_through: str | None = None  # the last period the keep-window holds it for
    lapse: str = ""  # (v2 §3.8) met now, but certifications expiring before the next period ends would unmeet it

    @property
    def unmet(self) -> tuple[CheckLine, ...]:
        return tuple(c for c in self.checks if not c.met)

    def text(self) -> str:
        """ "Solution Expert: Cloud: held (met in 2026-Q2; kept through 2026-Q4)" or "not held: …"."""
        score = f", score {score_text(self.score)} of {number_text(self.max_score)}" if self.score is not None else ""
        if self.met:
            keep = (
                f"; kept through {self.held_through} if not met again"
                if self.keep_periods and self.held_through
                else ""
            )
            return f"{self.name}: held, met this period{score}{keep}"
        if self.held:
            return (
                f"{self.name}: held, last met in {self.last_met} (kept {self.keep_periods} further "
                f"period{'s' if self.keep_periods != 1 else ''}, through {self.held_through}){score}"
            )
        return f"{self.name}: not held{score}"

    def gap_texts(self) -> list[str]:
        return [c.describe() for c in self.unmet]


@dataclass(frozen=True)
class Scorecard:
    period: str
    score: float
    max_score: float
    qualified: str
    earned: str
    effective: str
    override_id: int | None
    event: str
    below: int
    at_risk: bool
    at_risk_reasons: tuple[str, ...]  # the texts of ``risks``
    badges: tuple[str, ...]
    components: tuple[ComponentLine, ...]
    checks: tuple[CheckLine, ...]  # the earned tier's and the next tier's
    gap: Gap | None  # None at the top tier
    variant: Mapping[str, str] = field(default_factory=dict)  # tier -> variant applied
    risks: tuple[RiskReason, ...] = ()
    notes: Mapping[str, str] = field(default_factory=dict)  # metric -> "not reported" / "carried from …"
    designations: tuple[DesignationLine, ...] = ()  # (v2 §3.12), in the program's order
    version: str = ""  # (v2 §3.11) the version that governed the period, in words
    floor: str | None = None  # (v2 §3.11) the protection floor in a protected period
    protected_through: date | None = None

    @property
    def score_text(self) -> str:
        return score_text(self.score)

    @property
    def protection_text(self) -> str:
        """ "Protected at Gold through 2026-12-31 (floor Gold)", or "" when the period is not protected."""
        if self.floor is None or self.protected_through is None:
            return ""
        return f"Protected through {self.protected_through.isoformat()}: kept at {self.floor} or above"

    @property
    def designations_held(self) -> tuple[str, ...]:
        return tuple(sorted(d.name for d in self.designations if d.held))


def fmt(value: float) -> str:
    """A number as a channel manager reads it: 1,250,000 / 3 / 87.5."""
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def score_text_up(x: float) -> str:
    """Points still needed: two decimals rounded up, so that they surely suffice."""
    return f"{decimal6(x).quantize(Decimal('0.01'), rounding=ROUND_CEILING):,.2f}"


def value_note(period: str, source: str | None) -> str:
    """(v2 §3.1) "" when reported in ``period``, "carried from <source>", or "not reported"."""
    if source is None:
        return NOT_REPORTED
    return "" if source == period else f"carried from {source}"


def own_sources(
    program: Program, evaluated: Sequence[str], reported: Mapping[str, Collection[str]], period: str
) -> dict[str, str | None]:
    """For :func:`explain` ``sources=``, from one partner's own metric rows (v2 §3.1).

    ``evaluated``: the evaluated period labels, oldest first; ``reported``: metric -> the labels of
    the periods the partner has a stored value for. Returns each declared used metric -> ``period``
    when reported in it, the most recent earlier evaluated period with a value when the metric
    says ``missing = "previous"``, else None (not reported).
    """
    upto = list(evaluated[: list(evaluated).index(period) + 1]) if period in evaluated else [period]
    result: dict[str, str | None] = {}
    for m in program.used_metrics():
        if m not in program.metrics:
            continue
        have = reported.get(m, ())
        if period in have:
            result[m] = period
        elif program.metrics[m].missing == "previous":
            result[m] = next((p for p in reversed(upto[:-1]) if p in have), None)
        else:
            result[m] = None
    return result


def _component_lines(program, score, points, arrays, notes) -> tuple[ComponentLine, ...]:
    """One line per score component (of the tiers' score or a designation's): value, points, note."""
    return tuple(
        ComponentLine(
            c.metric,
            program.label_of(c.metric),
            float(arrays[c.metric][0]),
            float(p[0]),
            c.points,
            c.target,
            program.unit_of(c.metric),
            notes.get(c.metric, ""),
        )
        for c, p in zip(score, points)
    )


def explain(
    program: Program,
    region: str,
    partner_type: str,
    values: Mapping[str, float],
    period: str,
    earned: int,
    event: int,
    below: int = 0,
    effective: int | None = None,
    override_id: int | None = None,
    *,
    sources: Mapping[str, str | None] | None = None,
    remaining: Mapping[str, float] | None = None,
    lapsing: Mapping[str, Sequence[Lapse]] | None = None,
    designation_last: Mapping[str, str | None] | None = None,
    floor: int | None = None,
    protected_through: date | None = None,
    version: str = "",
) -> Scorecard:
    """Explain one partner's result, using the very functions :func:`evaluate.level` uses.

    ``values``: the partner's group values (``PeriodResult.values``). Optional (v2):

    * ``sources``: declared metric -> the period label its own value comes from (``period`` itself
      when reported, an earlier label when carried, None when not reported); a metric left out
      counts as reported. From ``PeriodResult.sources`` (indices into the evaluated periods).
    * ``remaining``: ``cert:<track>`` -> people still certified at the next period's end
      (``PeriodResult.remaining``); ``lapsing``: ``cert:<track>`` -> :func:`evaluate.lapsing_people`,
      whose length gives ``remaining`` when that is not passed. Neither: no lapse risk.
    * (v2 §3.12) ``designation_last``: designation -> the label of the last period it was met in
      (for the keep-window); ``values`` holds ``designation:<name>`` (held) and ``designations``;
      left out, a designation is held when met now.
    * (v2 §3.11) ``floor`` (tier index) and ``protected_through`` in a protected period;
      ``version``: which version governed the period, in words.
    """
    arrays = {m: np.array([float(values.get(m, 0.0))]) for m in program.used_metrics()}
    notes0 = {m: value_note(period, src) for m, src in (sources or {}).items()}
    dlines = _designation_lines(
        program, arrays, values, period, designation_last or {}, notes0, _remaining(arrays, remaining, lapsing)
    )
    points = ev.component_points(program, arrays)
    score_arr = ev.total_score(points, np.zeros(1))
    score = float(score_arr[0])
    thresholds = ev.resolve(program, [region], [partner_type])
    qualified = int(ev.qualified_tier(thresholds, score_arr, arrays)[0])
    left = _remaining(arrays, remaining, lapsing)
    left_arrays = {m: np.array([v]) for m, v in left.items()} if left is not None else None
    earned_arr = np.array([earned])
    risky = bool(
        ev.at_risk(thresholds, score_arr, arrays, earned_arr, np.array([event]), program.at_risk_margin, left_arrays)[0]
    )
    notes = {m: value_note(period, src) for m, src in (sources or {}).items()}
    notes = {m: n for m, n in notes.items() if n}
    components = _component_lines(program, program.score, points, arrays, notes)
    tiers_shown = [t for t in (earned, earned + 1) if t in thresholds]
    checks = tuple(line for t in tiers_shown for line in _checks(program, t, thresholds[t], score_arr, arrays, notes))
    gap = None
    if earned + 1 < len(program.tiers):
        nxt = [c for c in checks if c.tier == program.tiers[earned + 1]]
        unmet = tuple(c for c in nxt if not c.met)
        score_check = next((c for c in unmet if c.kind == "min_score"), None)
        shortfall = score_check.shortfall if score_check else 0.0
        routes = _routes(program, components, shortfall) if shortfall else ()
        gap = Gap(
            program.tiers[earned + 1],
            unmet,
            shortfall,
            score,
            score_check.threshold if score_check else None,
            routes,
        )
    risks = _risks(program, earned, event, below, period, checks, arrays, thresholds, left, lapsing)
    if event == ev.PROTECTED and floor is not None:
        tier = program.tiers[earned]
        risks.insert(
            0,
            RiskReason(
                "protected",
                tier,
                "",
                "",
                float(below),
                float(program.grace_periods),
                f"Protected: qualifies {program.tiers[qualified]}, kept at {tier} through "
                f"{protected_through.isoformat() if protected_through else 'the protection'} "
                f"(floor {program.tiers[floor]}); {below} period{'s' if below != 1 else ''} below, "
                f"{program.grace_periods} of grace after protection ends",
            ),
        )
    variant = {}
    for t, th in thresholds.items():
        i = int(th.variant[0])
        if i:
            variant[program.tiers[t]] = program.requirements[program.tiers[t]].variants[i - 1].describe()
    return Scorecard(
        period=period,
        score=score,
        max_score=program.max_score,
        qualified=program.tiers[qualified],
        earned=program.tiers[earned],
        effective=program.tiers[earned if effective is None else effective],
        override_id=override_id,
        event=ev.EVENTS[event],
        below=below,
        at_risk=risky,
        at_risk_reasons=tuple(r.text for r in risks),
        badges=tuple(sorted(b.name for b in program.badges if round6(arrays[b.metric][0]) >= round6(b.min))),
        components=components,
        checks=checks,
        gap=gap,
        variant=variant,
        risks=tuple(risks),
        notes=notes,
        designations=dlines,
        version=version,
        floor=None if floor is None or floor < 0 else program.tiers[floor],
        protected_through=protected_through if floor is not None and floor >= 0 else None,
    )


def designations_lost(program: Program, values: Mapping[str, float], left: Mapping[str, float]) -> tuple[str, ...]:
    """(v2 §3.8, §3.12) The designations met on ``values`` that would no longer be met if the
    certifications expiring before the next period's end lapsed: each re-evaluated with
    ``cert:<track>`` at ``left`` (the people still certified then, as for the tiers' lapse risk),
    every other value as it is. In the program's order."""
    if not program.designations or not left:
        return ()
    now = designations_met(program, values)
    later = designations_met(program, {**values, **left})
    return tuple(name for name, met in now.items() if met and not later.get(name, False))


def lost_words(program: Program, names: Sequence[str]) -> str:
    """ "it would also lose Cloud Specialist and UC Specialist" (a designation kept by its keep-window
    for further periods says so: "Sales Excellence would no longer be met, kept 2 further periods")."""
    if not names:
        return ""
    keep = {d.name: d.keep_periods for d in program.designations}
    lose = [n for n in names if not keep.get(n)]
    kept = [n for n in names if keep.get(n)]
    parts = []
    if lose:
        parts.append("it would also lose " + _and(lose))
    for n in kept:
        k = keep[n]
        parts.append(f"{n} would no longer be met (kept {k} further period{'s' if k != 1 else ''})")
    return "; ".join(parts)


def _and(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def designations_met(program: Program, values: Mapping[str, float]) -> dict[str, bool]:
    """(v2 §3.12) Each designation of ``program``: met on these group values (not counting its keep-window)."""
    arrays = {m: np.array([float(values.get(m, 0.0))]) for m in program.used_metrics()}
    return {line.name: line.met for line in _designation_lines(program, arrays, values, "", {}, {})}


def _designation_lines(program, arrays, values, period, last_met, notes, left=None) -> tuple[DesignationLine, ...]:
    try:
        nxt = next_period(parse_period(period)).label
    except PeriodError:
        nxt = "the next period"
    lines = []
    for d in program.designations:
        comps = ev.components_points(d.score, arrays)
        dscore = ev.total_score(comps, np.zeros(1)) if d.score else None
        components = _component_lines(program, d.score, comps, arrays, notes)
        checks = []
        if d.rule.min_score is not None and dscore is not None:
            mn = np.array([d.rule.min_score])
            checks.append(
                CheckLine(
                    d.name,
                    "min_score",
                    "score",
                    "Score",
                    float(dscore[0]),
                    d.rule.min_score,
                    bool(ev.score_met(dscore, mn)[0]),
                    False,
                )
            )
        for kind, table, met in (("gate", d.rule.gates, ev.gate_met), ("maximum", d.rule.maxima, ev.maximum_met)):
            for metric, limit in table.items():
                v = arrays[metric]
                checks.append(
                    CheckLine(
                        d.name,
                        kind,
                        metric,
                        program.label_of(metric),
                        float(v[0]),
                        limit,
                        bool(met(v, np.array([limit]))[0]),
                        False,
                        program.unit_of(metric),
                        program.is_flag(metric),
                        notes.get(metric, ""),
                    )
                )
        met_now = all(c.met for c in checks)
        held = bool(round6(float(values.get(d.flag, float(met_now)))) == 1)
        last = period if met_now else last_met.get(d.name)
        through = None
        if last is not None:
            try:
                p = parse_period(last)
                for _ in range(d.keep_periods):
                    p = next_period(p)
                through = p.label
            except PeriodError:
                through = None
        lapse = ""
        if met_now and left is not None:
            for metric, gate in d.rule.gates.items():
                if metric in left and round6(left[metric]) < round6(gate):
                    count = int(round(float(arrays[metric][0]) - left[metric]))
                    track = track_label(metric[len(CERT_PREFIX) :])
                    kept = f"; held through {through} by its keep-window" if d.keep_periods and through else ""
                    lapse = (
                        f"{count} {track} certification{'s' if count != 1 else ''} expire{'s' if count == 1 else ''} "
                        f"before {nxt} ends: {d.name} would no longer be met ({program.label_of(metric)} "
                        f"{number_text(left[metric])} of {number_text(gate)}){kept}"
                    )
                    break
        lines.append(
            DesignationLine(
                d.name,
                held,
                met_now,
                None if dscore is None else float(dscore[0]),
                d.max_score,
                components,
                tuple(checks),
                d.keep_periods,
                last,
                through if held or met_now else None,
                lapse,
            )
        )
    return tuple(lines)


def _remaining(arrays, remaining, lapsing) -> dict[str, float] | None:
    if remaining is None and lapsing is None:
        return None
    left = {m: float(v) for m, v in (remaining or {}).items()}
    for m, people in (lapsing or {}).items():
        if m not in left and m in arrays:
            left[m] = float(arrays[m][0]) - len(people)
    return left


def _lower_first(label: str) -> str:
    """ "Product revenue" -> "product revenue"; "CSAT score" stays as it is."""
    if len(label) > 1 and label[:2].isupper():
        return label
    return label[:1].lower() + label[1:]


def _routes(program: Program, components: Sequence[ComponentLine], shortfall: float) -> tuple[ScoreRoute, ...]:
    """Each component that alone could close ``shortfall`` points, with the increase it needs."""
    routes = []
    need = decimal6(shortfall)
    for c in components:
        if decimal6(c.max_points) - decimal6(c.points) < need:
            continue
        amount = float(need) * c.target / c.max_points
        flag = program.is_flag(c.metric)
        whole = flag or c.metric.startswith(CERT_PREFIX)
        rounded = about(amount, whole=whole)
        label = _lower_first(c.label)
        if flag:
            text = f"{c.label}: yes"
        elif c.metric.startswith(CERT_PREFIX):
            text = f"{number_text(rounded)} more {label}"
        else:
            text = f"about {value_text(rounded, c.unit)} more {label}"
        routes.append(ScoreRoute(c.metric, c.label, c.unit, amount, rounded, text))
    return tuple(routes)


def _risks(program, earned, event, below, period, checks, arrays, thresholds, left, lapsing) -> list[RiskReason]:
    tier = program.tiers[earned]
    reasons = []
    if event == ev.GRACE:
        more = program.grace_periods - below
        reasons.append(
            RiskReason(
                "grace",
                tier,
                "",
                "",
                float(below),
                float(program.grace_periods),
                f"Below {tier} requirements ({below} of {program.grace_periods} grace "
                f"period{'s' if program.grace_periods != 1 else ''} used): "
                + ("demoted next period unless it qualifies again" if more == 0 else f"{more} more before demotion"),
            )
        )
    if earned not in thresholds:
        return reasons
    m = program.at_risk_margin
    for c in checks:
        if c.tier != tier or not c.close:
            continue
        if c.met:
            edge = c.threshold * (1 - m) if c.kind == "maximum" else c.threshold * (1 + m)
            side = "above" if c.kind == "maximum" else "below"
            bound = "maximum" if c.kind == "maximum" else "minimum"
            if c.kind == "min_score":
                shown, limit, at = score_text(c.value), number_text(c.threshold), number_text(edge)
            else:
                shown, limit, at = (value_text(x, c.unit) for x in (c.value, c.threshold, edge))
            text = f"{c.label}: {shown}, close to the {tier} {bound} of {limit} (at risk {side} {at})"
        else:
            text = f"Below {tier}: {c.describe()}"
        reasons.append(RiskReason(c.kind, tier, c.metric, c.label, c.value, c.threshold, text))
    if left is None:
        return reasons
    try:
        nxt = next_period(parse_period(period)).label
    except PeriodError:
        nxt = "the next period"
    th = thresholds[earned]
    for metric, gate in th.gates.items():
        if metric not in left or np.isnan(gate[0]):
            continue
        value, remaining = arrays[metric], np.array([left[metric]])
        if not bool(ev.lapse_close(value, remaining, gate)[0]):
            continue
        people = tuple((lapsing or {}).get(metric, ()))
        count = int(round(float(value[0]) - left[metric]))
        track = track_label(metric[len(CERT_PREFIX) :])
        who = f" ({', '.join(f'{p.person} on {p.expires_on.isoformat()}' for p in people)})" if people else ""
        verb = "expires" if count == 1 else "expire"
        text = (
            f"{count} {track} certification{'s' if count != 1 else ''} {verb} before {nxt} ends{who}: "
            f"{program.label_of(metric)} would be {number_text(left[metric])} of {number_text(float(gate[0]))}"
        )
        lost = designations_lost(program, {m: float(a[0]) for m, a in arrays.items()}, {metric: left[metric]})
        if lost:
            text += "; " + lost_words(program, lost)
        reasons.append(
            RiskReason(
                "lapse",
                tier,
                metric,
                program.label_of(metric),
                float(value[0]),
                float(gate[0]),
                text,
                left[metric],
                people,
                nxt,
                lost,
            )
        )
    return reasons


def _checks(program: Program, t: int, th: ev.Thresholds, score, values, notes) -> list[CheckLine]:
    tier, m = program.tiers[t], program.at_risk_margin
    lines = []
    if not np.isnan(th.min_score[0]):
        lines.append(
            CheckLine(
                tier,
                "min_score",
                "score",
                "Score",
                float(score[0]),
                float(th.min_score[0]),
                bool(ev.score_met(score, th.min_score)[0]),
                bool(ev.score_close(score, th.min_score, m)[0]),
            )
        )
    for kind, table, met, close in (
        ("gate", th.gates, ev.gate_met, ev.gate_close),
        ("maximum", th.maxima, ev.maximum_met, ev.maximum_close),
    ):
        for metric, limit in table.items():
            if np.isnan(limit[0]):
                continue
            v = values[metric]
            flag = metric in th.flags
            lines.append(
                CheckLine(
                    tier,
                    kind,
                    metric,
                    program.label_of(metric),
                    float(v[0]),
                    float(limit[0]),
                    bool(met(v, limit)[0]),
                    not flag and bool(close(v, limit, m)[0]),
                    program.unit_of(metric),
                    flag,
                    notes.get(metric, ""),
                )
            )
    return lines
