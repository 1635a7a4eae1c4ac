"""Per-scene evaluation context shared by the program sampler and the generator.

Gold answers come from :class:`apeiria_model.programs.executor.Executor` only. This
context memoises each sub-program's value (``run``) by composing the executor's own
single-operation entry point (``Executor.run_op``), so the thousands of candidate
programs tried per scene share their sub-results instead of re-running them; the
generator still re-executes every accepted program with ``Executor.execute`` and keeps
it only if both agree.

It also holds, for guidance only, the pairwise truth tables of every binary relation
over all objects (``holds``), computed by :mod:`apeiria_model.programs.relations` (the
one definition of each relation), so the sampler can pick relations that are true for
a chosen object without trial and error.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from apeiria_model.programs import ast
from apeiria_model.programs import relations as rel
from apeiria_model.programs.executor import Executor, node_op
from apeiria_model.scene.model import Scene

GUIDE_RELATIONS = ("left", "right", "front", "behind", "above", "below", "on", "under", "near", "far",
                   "next_to")
ANCHOR_FRAME_RELATIONS = ("front", "behind", "left", "right")


class SceneContext:
    def __init__(self, scene: Scene, executor: Executor | None = None):
        if not isinstance(scene, Scene):
            raise TypeError(f"scene must be a Scene, got {type(scene).__name__}")
        self.scene = scene
        self.executor = executor or Executor()
        # Two memo levels: by object identity (cheap: nested dataclass hashing is not),
        # then by structure for equal sub-programs built separately.
        self._by_id: dict[int, tuple[Any, Any]] = {}
        self._memo: dict[Any, Any] = {}
        self._quick_by_id: dict[int, tuple[Any, Any]] = {}
        self._filters: dict[str, ast.Filter] = {}
        self.geom = rel.SceneGeometry.from_scene(scene)
        self.ids = [int(i) for i in self.geom.ids]
        self.row_of = dict(self.geom.row_of)
        self.labels = [o.label for o in scene.objects]
        self._holds: dict[tuple[str, str], np.ndarray] = {}
        self._gaps: np.ndarray | None = None

    # --- gold values through the executor ------------------------------------------------
    def category(self, label: str) -> ast.Filter:
        """The shared ``filter(scene(), label)`` node (one object per label: memo hits)."""
        f = self._filters.get(label)
        if f is None:
            f = self._filters[label] = ast.Filter(ast.Scene(), label)
        return f

    def run(self, node) -> Any:
        """Value of ``node`` (sorted id list, int or str), memoised per sub-program."""
        hit = self._by_id.get(id(node))
        if hit is not None and hit[0] is node:
            return hit[1]
        if isinstance(node, ast.Scene):
            value: Any = sorted(self.ids)
        else:
            inputs = [self.run(c) for c in ast.children(node)]
            op, args = node_op(node)
            key = (op, tuple(sorted(args.items())), tuple(tuple(i) if isinstance(i, list) else i for i in inputs))
            if key in self._memo:
                value = self._memo[key]
            else:
                value, _evidence, _notes = self.executor.run_op(op, args, inputs, self.scene)
                self._memo[key] = value
        self._by_id[id(node)] = (node, value)  # keeps node alive, so its id stays unique
        return value

    def quick(self, node) -> Any:
        """Like :meth:`run`, but ``relate`` steps read the relation truth tables instead of
        calling the executor: for the sampler's many trial programs. Same semantics as
        the executor's relate (kept objects have the relation to at least one anchor);
        every kept program's value is recomputed with :meth:`run` and compared."""
        hit = self._quick_by_id.get(id(node))
        if hit is not None and hit[0] is node:
            return hit[1]
        if isinstance(node, ast.Relate) and node.frame in ast.FRAMES:
            name = rel.RELATION_ALIASES.get(node.relation, node.relation)
            if name in GUIDE_RELATIONS or name == "inside":
                x = self.quick(node.input)
                a = self.quick(node.anchor)
                if not x or not a:
                    value: Any = []
                else:
                    h = self.holds(name, node.frame)[np.ix_(self.rows(x), self.rows(a))]
                    value = [i for i, k in zip(x, h.any(axis=1)) if k]
                self._quick_by_id[id(node)] = (node, value)
                return value
        if isinstance(node, ast.Scene) or isinstance(node, ast.Filter) and isinstance(node.input, ast.Scene):
            value = self.run(node)
        else:
            kids = [self.quick(c) for c in ast.children(node)]
            op, args = node_op(node)
            key = (op, tuple(sorted(args.items())), tuple(tuple(i) if isinstance(i, list) else i for i in kids))
            if key in self._memo:
                value = self._memo[key]
            else:
                value, _evidence, _notes = self.executor.run_op(op, args, kids, self.scene)
                self._memo[key] = value
        self._quick_by_id[id(node)] = (node, value)
        return value

    def execute(self, node):
        """Full execution with steps (the record of truth for a kept sample)."""
        return self.executor.execute(node, self.scene)

    # --- guidance tables --------------------------------------------------------------------
    def holds(self, relation: str, frame: str = ast.FRAME_VIEWER) -> np.ndarray:
        """(N, N) bool: row object stands in ``relation`` to column object."""
        key = (relation, frame)
        m = self._holds.get(key)
        if m is None:
            rows = np.arange(len(self.ids))
            m = rel.binary_relation(relation, self.geom, rows, rows, frame).holds.copy()
            self._holds[key] = m
        return m

    def rows(self, ids) -> np.ndarray:
        return np.fromiter((self.row_of[int(i)] for i in ids), dtype=np.int64, count=len(ids))

    def between_pairs(self, target_row: int, rows_a: np.ndarray, rows_b: np.ndarray) -> np.ndarray:
        """(len(a), len(b)) bool: the target lies between a and b."""
        res = rel.between_relation(self.geom, np.array([target_row]), rows_a, rows_b)
        return res.holds[0]

    def gaps_from(self, row: int) -> np.ndarray:
        """Box-gap distance from object ``row`` to every object."""
        if self._gaps is None:
            c, s = self.geom.centers, self.geom.sizes
            self._gaps = rel.box_gaps(c[:, None, :], s[:, None, :], c[None, :, :], s[None, :, :])
        return self._gaps[row]
