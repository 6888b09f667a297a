"""Incremental re-levelling: in a write's own transaction, exactly the partners the write affects.

A partner's results depend on its own inputs and on those of its descendants (its group values),
so a write that changes a partner's metrics, certifications, parent, region, type or tier on
record affects that partner and all its ancestors, before and after the write. Evaluating a set
of partners closed under descendants with ``scoring.level`` is exact (every group lies inside
it), and every period is evaluated, since the earned tier and the grace counter run period by
period from the tier on record. The rows are built, digested and stored by the same code as a full
run (``levelling._result_rows``, ``queries.store_results``), which rewrites only changed rows.

A full re-level (``levelling.level_all``) is done instead, in the same transaction, when the
stored results were made by another program version, when the evaluated periods change (a new
period touches every partner), or when asked (a program load). Nothing is done on a database that
was never levelled: it has no results to keep current until its first ``tiertui level``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from sqlmodel import col, select

from ..scoring import Program
from ..storage import queries
from ..storage.tables import LevelRun
from . import timeline
from .levelling import Progress, _quiet, _result_rows, evaluate, level_all, load_inputs
from .programs import active_program, active_version
from .unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Relevelled:
    """What a write's re-levelling did: ``partners`` evaluated; ``full``: every partner."""

    partners: int
    full: bool = False
    rows: int = 0

    def text(self) -> str:
        if self.full:
            return f"re-levelled all {self.partners:,} partners"
        return f"re-levelled {self.partners:,} partner{'' if self.partners == 1 else 's'}"


NOTHING = Relevelled(0)
FAMILY_STARTS = 64  # up to this many partners changed: their family is read by itself, not the whole tree


def relevel(
    uow: UnitOfWork,
    user: str,
    *,
    keys: Iterable[int] = (),
    partner_ids: Iterable[str] = (),
    former_parents: Iterable[str] = (),
    ancestors: bool = True,
    full: bool = False,
    why: str = "",
    progress: Progress = _quiet,
) -> Relevelled:
    """Re-level, inside ``uow``, the partners a write changed and every partner whose results depend on them.

    ``keys``/``partner_ids``: the partners whose inputs changed. ``former_parents``: parents they
    had before the write (their groups lost a member). ``ancestors``: False when only the partners'
    own results can change (an override decision: overrides never change group values).
    ``full``: every partner (a program load).
    """
    assert uow.session is not None
    session = uow.session
    uow.lock_results()
    version = active_version(session)
    if version is None:
        return NOTHING
    last = session.exec(select(LevelRun).order_by(col(LevelRun.id).desc())).first()
    if last is None:
        return NOTHING  # never levelled: nothing to keep current
    versions = timeline.programs(session)
    program = versions[-1] if versions else active_program(session)
    metrics = timeline.run_metrics(versions or [program])
    if full or last.program_id != version.id or json.loads(last.metrics) != metrics:
        return _full(uow, user, why)
    conn = uow.connection
    keys, partner_ids, former_parents = list(keys), list(partner_ids), list(former_parents)
    if len(keys) + len(partner_ids) + len(former_parents) <= FAMILY_STARTS:
        # a few partners (an override decision, a small import): the database walks their family
        # through the parent index; the same set, in the same order, as from the whole tree below
        cols, sub_parent = queries.read_partner_family(conn, keys, partner_ids, former_parents, ancestors)
        if len(cols.key) == 0:
            return NOTHING
        if len(cols.key) > queries.count_partners(conn) // 2:
            return _full(uow, user, why)  # most of the database: the full run reads faster
        return _evaluate(uow, user, why, program, versions, metrics, last, cols, sub_parent, progress)
    tree_keys, ids, parent = queries.read_partner_tree(conn)
    n = len(tree_keys)
    if n == 0:
        return NOTHING
    chosen = np.zeros(n, dtype=bool)
    position = {pid: i for i, pid in enumerate(ids)}
    lookup = np.full(int(tree_keys.max()) + 1, -1, dtype=np.int64)
    lookup[tree_keys] = np.arange(n)
    starts = [int(lookup[k]) for k in keys if 0 <= k < len(lookup) and lookup[k] >= 0]
    starts += [position[p] for p in partner_ids if p in position]
    chosen[starts] = True
    if ancestors:
        frontier = np.array(starts + [position[p] for p in former_parents if p in position], dtype=np.int64)
        chosen[frontier] = True
        while len(frontier):
            up = parent[frontier]
            up = up[up >= 0]
            up = up[~chosen[up]]  # never climbs a node twice (cycle-safe)
            chosen[up] = True
            frontier = np.unique(up)
    if not chosen.any():
        return NOTHING
    has_parent = parent >= 0
    while True:  # close under descendants: a partner whose parent is chosen is chosen
        grown = chosen | (has_parent & chosen[np.maximum(parent, 0)])
        if (grown == chosen).all():
            break
        chosen = grown
    subset = np.flatnonzero(chosen)
    if len(subset) > n // 2:  # most of the database: the full run reads faster
        return _full(uow, user, why)
    inside = np.full(n, -1, dtype=np.int64)
    inside[subset] = np.arange(len(subset))
    sub_parent = parent[subset]
    sub_parent = np.where(sub_parent >= 0, inside[np.maximum(sub_parent, 0)], -1)
    cols = queries.read_partners_by_key(conn, tree_keys[subset])
    return _evaluate(uow, user, why, program, versions, metrics, last, cols, sub_parent, progress)


def _evaluate(
    uow: UnitOfWork,
    user: str,
    why: str,
    program: Program,
    versions: list[Program],
    metrics: list,
    last: LevelRun,
    cols: queries.PartnerColumns,
    sub_parent: np.ndarray,
    progress: Progress,
) -> Relevelled:
    """Evaluate the partners ``cols`` (closed under descendants) in every period and store what changed."""
    subset = cols.key
    progress(0.1, f"re-levelling {len(subset):,} partners")
    conn = uow.connection
    loaded = load_inputs(conn, program, restricted=(cols, sub_parent), versions=versions)
    results = evaluate(loaded)
    if ",".join(r.period.label for r in results) != last.periods:
        return _full(uow, user, why)  # the evaluated periods changed: every partner has new rows
    written = queries.store_results(conn, _result_rows(program, loaded.partners.key, results, metrics), partial=True)
    progress(1.0, f"re-levelled {len(subset):,} partners")
    return Relevelled(len(subset), False, written)


def _full(uow: UnitOfWork, user: str, why: str) -> Relevelled:
    summary = level_all(uow, user, why=why or "a write changed the program or the evaluated periods")
    return Relevelled(summary.partners, True)
