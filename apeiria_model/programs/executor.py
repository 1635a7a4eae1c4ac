"""Execute a program over a scene, recording every step with its evidence.

``Executor(matcher).execute(program, scene)`` walks the AST in post-order (children
first, the order of ``ast.walk``) and records one :class:`ExecStep` per node other
than ``scene()``. Set values are lists of object ids in ascending id order (a
superlative / closest / farthest step holds at most one id). ``count`` gives an int,
``query`` a string.

Semantics decided here (documented, tested):
- Empty sets are not errors: they flow on and give empty results, count 0.
- ``query`` on an empty set, on objects whose values disagree, or on an attribute the
  object lacks gives ``value=None`` with ``result.message`` saying why.
- :class:`ProgramExecutionError` is raised only for programs that cannot mean anything:
  unknown relation / superlative / attribute, a relation used by the wrong operation
  ("closest" in ``relate`` instead of ``relate_anchor``), a count/query nested inside
  another operation, or a non-program object.

The single-operation entry point :meth:`Executor.run_op` is what trace verification
uses to re-check a step from its stated inputs, so executing and verifying can never
disagree about what a relation means.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from apeiria_model.programs import ast
from apeiria_model.programs import graded
from apeiria_model.programs import relations as rel
from apeiria_model.programs.concepts import (ConceptMatcher, LexicalConceptMatcher, MATERIAL_ADJECTIVES,
                                             normalise_color, object_attributes)
from apeiria_model.programs.errors import ProgramExecutionError
from apeiria_model.scene.model import Scene

OPS = ("filter", "relate", "relate_multi", "relate_anchor", "union", "intersection", "exclude",
       "superlative", "count", "query")
QUERY_ATTRIBUTES = {"color": "color", "colour": "color", "label": "label", "category": "label", "name": "label",
                    "type": "label", "class": "label", "size": "size", "dimensions": "size", "material": "material",
                    "position": "position", "location": "position", "center": "position", "centre": "position"}
_MATERIALS = frozenset(MATERIAL_ADJECTIVES.values())


@dataclass
class Evidence:
    """Why one object is in a step's output."""

    object_id: int
    anchor_ids: tuple[int, ...] = ()   # the anchor(s) it relates to (a pair for between)
    measure: str = ""                  # "score", "offset", "distance", "volume", ...
    value: float = float("nan")        # metres, m^3 or a score
    note: str = ""


@dataclass
class ExecStep:
    index: int                         # 1-based, post-order
    op: str                            # one of OPS
    text: str                          # the node's DSL text
    args: dict[str, Any]               # concept | relation (+frame) | kind (+rank) | attribute
    inputs: list[list[int]]            # input sets, in argument order
    input_steps: list[int | None]      # step index giving each input; None = scene()
    output: list[int] | int | str | None
    evidence: list[Evidence] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class ExecutionResult:
    program: Any
    value: list[int] | int | str | None
    steps: list[ExecStep]
    message: str = ""

    @property
    def is_set(self) -> bool:
        return isinstance(self.value, list)

    @property
    def ids(self) -> list[int]:
        return list(self.value) if isinstance(self.value, list) else []


def _sorted_ids(ids) -> list[int]:
    return sorted(int(i) for i in ids)


def _fmt(v: float) -> str:
    return f"{v:.2f}"


class _GeometryCache:
    """Per-scene arrays, reused while the same Scene object is executed again.

    One (weakref, geometry) tuple is swapped in a single assignment, so concurrent
    callers (a ROS multi-threaded executor) can never pair one scene with another's arrays.
    """

    def __init__(self) -> None:
        self._entry: tuple[weakref.ReferenceType, rel.SceneGeometry] | None = None

    def get(self, scene: Scene) -> rel.SceneGeometry:
        entry = self._entry
        if entry is not None and entry[0]() is scene:
            return entry[1]
        geom = rel.SceneGeometry.from_scene(scene)
        try:
            self._entry = (weakref.ref(scene), geom)
        except TypeError:  # not weak-referenceable: just do not cache
            self._entry = None
        return geom


class Executor:
    """Runs programs; ``matcher`` decides what a filter concept names (lexical by default)."""

    def __init__(self, matcher: ConceptMatcher | None = None):
        self.matcher = matcher if matcher is not None else LexicalConceptMatcher()
        if not hasattr(self.matcher, "scores") or not hasattr(self.matcher, "threshold"):
            raise TypeError("matcher must have .scores(concept, objects) and .threshold")
        self._cache = _GeometryCache()

    # --- whole programs ---------------------------------------------------------------
    def execute(self, program, scene: Scene) -> ExecutionResult:
        if not isinstance(scene, Scene):
            raise ProgramExecutionError(f"scene must be a Scene, got {type(scene).__name__}")
        if not isinstance(program, ast.SET_NODE_TYPES + ast.VALUE_NODE_TYPES):
            raise ProgramExecutionError(f"not a program node: {type(program).__name__}")
        geom = self._cache.get(scene)
        steps: list[ExecStep] = []
        messages: list[str] = []
        try:
            value, _ = self._eval(program, scene, geom, steps, messages, top=True)
        except RecursionError:
            raise ProgramExecutionError("program nested too deeply to execute") from None
        return ExecutionResult(program, value, steps, "; ".join(messages))

    def _eval(self, node, scene, geom, steps, messages, top=False):
        if isinstance(node, ast.Scene):
            return _sorted_ids(scene.ids), None
        if isinstance(node, ast.VALUE_NODE_TYPES) and not top:
            raise ProgramExecutionError(f"{type(node).__name__.lower()}() gives a value, not a set: "
                                        "it can only be the outermost operation")
        if not isinstance(node, ast.SET_NODE_TYPES + ast.VALUE_NODE_TYPES):
            raise ProgramExecutionError(f"not a program node: {type(node).__name__}")
        inputs, input_steps = [], []
        for child in ast.children(node):
            value, idx = self._eval(child, scene, geom, steps, messages)
            inputs.append(value)
            input_steps.append(idx)
        op, args = node_op(node)
        output, evidence, notes = self._run(op, args, inputs, scene, geom)
        index = len(steps) + 1
        steps.append(ExecStep(index, op, str(node), args, inputs, input_steps, output, evidence, notes))
        if op == "query" and output is None:
            messages.extend(notes)
        return output, index

    # --- one operation (also used by trace verification) --------------------------------
    def run_op(self, op: str, args: dict[str, Any], inputs: Sequence[Sequence[int]], scene: Scene):
        """Execute one operation on explicit input id sets: (output, evidence, notes).

        Every id must belong to ``scene`` (``ProgramExecutionError`` otherwise).
        """
        geom = self._cache.get(scene)
        clean = []
        for ids in inputs:
            bad = [i for i in ids if not scene.has(int(i))]
            if bad:
                raise ProgramExecutionError(f"object(s) {', '.join(map(str, bad))} not in the scene")
            clean.append(_sorted_ids(set(int(i) for i in ids)))
        return self._run(op, args, clean, scene, geom)

    def _run(self, op, args, inputs, scene, geom):
        expected = ast.OP_INPUTS
        if op not in expected:
            raise ProgramExecutionError(f"unknown operation {op!r}: expected one of {', '.join(OPS)}")
        if len(inputs) != expected[op]:
            raise ProgramExecutionError(f"{op} takes {expected[op]} input set(s), got {len(inputs)}")
        return getattr(self, "_op_" + op)(args, inputs, scene, geom)

    def _op_scene(self, args, inputs, scene, geom):
        # only reached through run_op: a bare ``scene()`` program has one trace step
        return _sorted_ids(scene.ids), [], []

    def _op_filter(self, args, inputs, scene, geom):
        ids = inputs[0]
        concept = args.get("concept")
        if not isinstance(concept, str) or not concept.strip():
            raise ProgramExecutionError(f"filter needs a non-empty concept, got {concept!r}")
        objects = [scene.get(i) for i in ids]
        scores = np.asarray(self.matcher.scores(concept, objects), dtype=float).reshape(-1)
        if scores.shape[0] != len(objects):
            raise ProgramExecutionError(f"concept matcher returned {scores.shape[0]} scores for {len(objects)} objects")
        scores = np.nan_to_num(scores, nan=0.0)
        keep = scores >= float(self.matcher.threshold)
        out = [i for i, k in zip(ids, keep) if k]
        evidence = [Evidence(i, (), "score", float(s)) for i, s, k in zip(ids, scores, keep) if k]
        return out, evidence, []

    def _op_relate(self, args, inputs, scene, geom):
        name = rel.canonical_relation(args.get("relation", ""))
        frame = args.get("frame", ast.FRAME_VIEWER)
        if frame not in ast.FRAMES:
            raise ProgramExecutionError(f"unknown frame {frame!r}: expected one of {', '.join(ast.FRAMES)}")
        if name in rel.ANCHOR_RELATIONS:
            raise ProgramExecutionError(f"relation {name!r} picks one object: use relate_anchor(set, anchors, {name})")
        if name in rel.MULTI_RELATIONS:
            raise ProgramExecutionError(f"relation {name!r} needs two anchor sets: use relate_multi(set, a, b, {name})")
        cand_ids, anch_ids = inputs
        holds, best, measure, dist, notes = rel.binary_best(name, geom, geom.rows(cand_ids), geom.rows(anch_ids), frame)
        out, evidence = [], []
        for k in np.flatnonzero(holds):
            j = int(best[k])
            out.append(cand_ids[k])
            evidence.append(Evidence(cand_ids[k], (anch_ids[j],), rel.RELATION_MEASURE[name], float(measure[k]),
                                     f"distance {_fmt(float(dist[k]))} m"))
        return out, evidence, list(notes)

    def _op_relate_multi(self, args, inputs, scene, geom):
        name = rel.canonical_relation(args.get("relation", "between"))
        if name not in rel.MULTI_RELATIONS:
            raise ProgramExecutionError(f"relate_multi supports {', '.join(rel.MULTI_RELATIONS)}, got {name!r}")
        cand_ids, a_ids, b_ids = inputs
        holds, best_a, best_b, offset, position = rel.between_best(
            geom, geom.rows(cand_ids), geom.rows(a_ids), geom.rows(b_ids))
        out, evidence = [], []
        for k in np.flatnonzero(holds):
            ja, jb = int(best_a[k]), int(best_b[k])
            out.append(cand_ids[k])
            evidence.append(Evidence(cand_ids[k], (a_ids[ja], b_ids[jb]), rel.RELATION_MEASURE[name],
                                     float(offset[k]), f"{int(round(100 * float(position[k])))}% of the way"))
        return out, evidence, []

    def _op_relate_anchor(self, args, inputs, scene, geom):
        name = rel.canonical_relation(args.get("relation", ""))
        frame = args.get("frame", ast.FRAME_VIEWER)
        if frame not in ast.FRAMES:
            raise ProgramExecutionError(f"unknown frame {frame!r}: expected one of {', '.join(ast.FRAMES)}")
        if name not in graded.PICK_RELATIONS:
            raise ProgramExecutionError(f"relate_anchor supports {', '.join(graded.PICK_RELATIONS)}, got {name!r}")
        cand_ids, anch_ids = inputs
        if name in rel.ANCHOR_RELATIONS:
            row, gap, anchor_row = rel.anchor_superlative(name, geom, geom.rows(cand_ids), geom.rows(anch_ids))
            if row is None:
                return [], [], []
            oid = int(geom.ids[row])
            return [oid], [Evidence(oid, (int(geom.ids[anchor_row]),), "distance", float(gap))], []
        labels = np.array([scene.get(i).label for i in anch_ids], dtype=object)
        pick = graded.graded_pick(name, geom, geom.rows(cand_ids), geom.rows(anch_ids), frame, labels)
        if pick.row is None:
            return [], [], pick.notes
        oid = int(geom.ids[pick.row])
        runner = "" if pick.runner_up is None else f" over Object {int(geom.ids[pick.runner_up])}"
        note = "alone" if pick.runner_up is None else f"margin {_fmt(pick.margin)}{runner}"
        anchors = tuple(int(geom.ids[r]) for r in pick.anchors)
        return [oid], [Evidence(oid, anchors, "score", pick.score, note)], pick.notes

    def _op_union(self, args, inputs, scene, geom):
        return _sorted_ids(set(inputs[0]) | set(inputs[1])), [], []

    def _op_intersection(self, args, inputs, scene, geom):
        return _sorted_ids(set(inputs[0]) & set(inputs[1])), [], []

    def _op_exclude(self, args, inputs, scene, geom):
        return _sorted_ids(set(inputs[0]) - set(inputs[1])), [], []

    def _op_superlative(self, args, inputs, scene, geom):
        rank = args.get("rank", 1)
        if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or rank < 1:
            raise ProgramExecutionError(f"superlative rank must be a positive integer, got {rank!r}")
        kind, rank = superlative_kind_and_rank(args.get("kind", ""), int(rank))
        ids = inputs[0]
        ordered = rel.rank_rows(kind, geom, geom.rows(ids))
        if len(ordered) < rank:
            return [], [], [f"only {len(ordered)} object(s) to rank, asked for number {rank}"]
        row = int(ordered[rank - 1])
        oid = int(geom.ids[row])
        key = float(rel.superlative_keys(kind, geom, np.array([row]))[0])
        return [oid], [Evidence(oid, (), kind, abs(key), f"rank {rank} of {len(ordered)}")], []

    def _op_count(self, args, inputs, scene, geom):
        return len(inputs[0]), [], []

    def _op_query(self, args, inputs, scene, geom):
        attr_name = str(args.get("attribute", "")).strip().lower()
        if attr_name not in QUERY_ATTRIBUTES:
            raise ProgramExecutionError(f"unknown query attribute {attr_name!r}: expected one of "
                                        f"{', '.join(sorted(set(QUERY_ATTRIBUTES.values())))}")
        attr = QUERY_ATTRIBUTES[attr_name]
        ids = inputs[0]
        if not ids:
            return None, [], [f"query {attr}: no object to ask about (the set is empty)"]
        values = {}
        for i in ids:
            values[i] = object_value(scene.get(i), attr)
        missing = [i for i, v in values.items() if v is None]
        if missing:
            return None, [], [f"query {attr}: object(s) {', '.join(map(str, missing))} have no {attr}"]
        distinct = sorted(set(values.values()))
        if len(distinct) > 1:
            return None, [], [f"query {attr}: {len(ids)} objects disagree ({', '.join(distinct)})"]
        return distinct[0], [], []


def superlative_kind_and_rank(kind: str, rank: int = 1) -> tuple[str, int]:
    """Canonical (kind, rank); a kind phrase may carry its own rank ('second from the left')."""
    try:
        return rel.canonical_superlative(kind), rank
    except ProgramExecutionError:
        parsed = rel.parse_superlative_phrase(kind) if isinstance(kind, str) else None
        if parsed is None:
            raise
    name, phrase_rank = parsed
    if phrase_rank < 1:
        raise ProgramExecutionError(f"superlative {kind!r}: say the opposite superlative instead of 'last'")
    if phrase_rank != 1 and rank != 1:
        raise ProgramExecutionError(f"superlative {kind!r} with rank {rank} gives two ranks")
    return name, phrase_rank if phrase_rank != 1 else rank


def object_value(obj, attr: str) -> str | None:
    """The answer a query of ``attr`` gives for one object (None when unknown)."""
    if attr == "color":
        return normalise_color(obj.color)
    if attr == "label":
        return obj.label
    if attr == "size":
        return " x ".join(_fmt(float(v)) for v in obj.size)
    if attr == "position":
        return "(" + ", ".join(_fmt(float(v)) for v in obj.center) + ")"
    if attr == "material":
        mats = sorted(a for a in object_attributes(obj) if a in _MATERIALS)
        return " and ".join(mats) if mats else None
    return None


def node_op(node) -> tuple[str, dict[str, Any]]:
    """(operation name, arguments) of one AST node, as an ExecStep records them."""
    if isinstance(node, ast.Filter):
        return "filter", {"concept": node.concept}
    if isinstance(node, ast.Relate):
        return "relate", {"relation": node.relation, "frame": node.frame}
    if isinstance(node, ast.RelateMulti):
        return "relate_multi", {"relation": node.relation}
    if isinstance(node, ast.RelateAnchor):
        return "relate_anchor", {"relation": node.relation, "frame": node.frame}
    if isinstance(node, ast.Union):
        return "union", {}
    if isinstance(node, ast.Intersection):
        return "intersection", {}
    if isinstance(node, ast.Exclude):
        return "exclude", {}
    if isinstance(node, ast.Superlative):
        return "superlative", {"kind": node.kind, "rank": node.rank}
    if isinstance(node, ast.Count):
        return "count", {}
    if isinstance(node, ast.Query):
        return "query", {"attribute": node.attribute}
    raise ProgramExecutionError(f"not a program node: {type(node).__name__}")
