"""Sample gold programs over a scene, with the noun phrase structure needed to word them.

A program is grown around a *witness* object: filters, relation clauses and anchors
are chosen so the witness satisfies them (using the relation truth tables of
:class:`SceneContext`), which makes most attempts succeed without blind trial and
error. Every candidate is then evaluated with the executor (``SceneContext.run``) and
kept only when its answer is what the wording promises:

- ``single``: exactly one object ("the chair ..."), and every step after the category
  filter removes at least one same-class distractor (the relations are needed);
- ``multi``: two or more objects ("all chairs ..."), every step removes something;
- ``zero``: nothing matches, while every step before the last one keeps something
  (a relation nothing satisfies, a colour no such object has, an absent category);
- ``count`` / ``color``: a question about the set / the single object.

Depth is ``ast.depth`` (number of non-``scene()`` steps). ``sample(goal, depth)``
builds a program of exactly that depth or returns None after a bounded number of tries.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from apeiria_model.data.categories import CATEGORIES, ON_SURFACE, WALL_MOUNTED
from apeiria_model.data.scene_context import ANCHOR_FRAME_RELATIONS, GUIDE_RELATIONS, SceneContext
from apeiria_model.programs import ast

GOALS = ("single", "multi", "zero", "count", "color")
MAX_DEPTH = 8
_MATERIAL_FILTERS = ("wooden", "metal", "plastic", "fabric", "leather", "ceramic", "marble")
_SIDE_SUPERLATIVES = ("leftmost", "rightmost", "frontmost", "backmost", "closest", "farthest")
_SIZE_SUPERLATIVES = ("largest", "smallest", "tallest", "shortest")
_HEIGHT_SUPERLATIVES = ("highest", "lowest")
# How natural each relation is to say; 'far' and 'below' are rare in real descriptions.
_RELATION_WEIGHT = {"left": 1.0, "right": 1.0, "front": 0.8, "behind": 0.8, "above": 0.7, "below": 0.4,
                    "on": 1.5, "under": 0.8, "near": 1.0, "far": 0.3, "next_to": 1.2}


@dataclass
class Clause:
    kind: str                      # rel | and | between | not
    relation: str
    frame: str
    anchors: list["NP"]


@dataclass
class Final:
    kind: str                      # super | anchor
    name: str                      # superlative kind or closest / farthest
    rank: int = 1
    anchor: "NP | None" = None


@dataclass
class NP:
    """A noun phrase and its program: adjectives + label, clauses, optional final step."""

    node: object
    label: str
    adjectives: list[str] = field(default_factory=list)
    clauses: list[Clause] = field(default_factory=list)
    final: Final | None = None
    base_node: object = None       # category + adjective filters (the distractor pool)
    size: int = 0                  # objects in the result
    union_with: "NP | None" = None  # "mugs and cups"


@dataclass
class SampledProgram:
    goal: str
    node: object                   # the whole program (Count / Query wrap the NP)
    np: NP
    value: object                  # executor value: id list, int or str


class ProgramSampler:
    """Samples programs over one scene (see the module doc); ``rng`` drives every choice,
    so the same scene and generator state give the same programs."""

    def __init__(self, ctx: SceneContext, rng: np.random.Generator, room_labels: tuple[str, ...] = ()):
        self.ctx = ctx
        self.rng = rng
        self.scene = ctx.scene
        self.present = sorted(set(ctx.labels))
        # Labels that could be in this kind of room but are not: for absent-category queries.
        self.absent = sorted(set(room_labels or CATEGORIES) - set(self.present))
        self._avoid: set[int] = set()
        self.class_size = {lab: len(ctx.run(ctx.category(lab))) for lab in self.present}
        n = len(ctx.ids)
        self._facing = np.array([bool(CATEGORIES.get(lab) and CATEGORIES[lab].facing) for lab in ctx.labels],
                                dtype=bool) if n else np.zeros(0, dtype=bool)
        self._rel_weight = {r: _RELATION_WEIGHT[r] for r in GUIDE_RELATIONS}

    # --- small helpers ----------------------------------------------------------------------
    def _filter(self, label: str):
        return self.ctx.category(label)

    def _set(self, node) -> list[int]:
        return self.ctx.quick(node)

    def _choice(self, seq):
        return seq[int(self.rng.integers(len(seq)))]

    def _weighted(self, items, weights):
        if len(items) == 0:
            return None
        total = float(sum(weights))
        if total <= 0:
            return None
        x = self.rng.random() * total
        acc = 0.0
        for item, w in zip(items, weights):  # plain Python: these lists are short
            acc += w
            if x < acc:
                return item
        return items[-1]

    def _weighted_index(self, weights: np.ndarray) -> int:
        c = np.cumsum(weights)
        return min(int(np.searchsorted(c, self.rng.random() * c[-1], side="right")), len(c) - 1)

    # --- public -----------------------------------------------------------------------------
    def sample(self, goal: str, depth: int, tries: int = 25) -> SampledProgram | None:
        if goal not in GOALS:
            raise ValueError(f"unknown goal {goal!r}; expected one of {', '.join(GOALS)}")
        if not 1 <= depth <= MAX_DEPTH:
            raise ValueError(f"depth must be in 1..{MAX_DEPTH}, got {depth}")
        for _ in range(tries):
            out = self._attempt(goal, depth)
            if out is not None:
                return out
        return None

    def _attempt(self, goal: str, depth: int) -> SampledProgram | None:
        if goal in ("count", "color"):
            if depth < 2:
                return None
            inner_goal = "single" if goal == "color" else self._choice(("multi", "multi", "single", "zero"))
            np_ = self._union_np(depth - 1) if goal == "count" and self.rng.random() < 0.15 else None
            if np_ is None:
                # counting a superlative ("how many leftmost chairs") is always 1: no finals
                np_ = self._target_np(inner_goal, depth - 1, allow_color=goal != "color",
                                      allow_final=goal != "count")
            if np_ is None:
                return None
            node = ast.Count(np_.node) if goal == "count" else ast.Query(np_.node, "color")
            value = self.ctx.quick(node)
            if value is None:
                return None
            return SampledProgram(goal, node, np_, value)
        np_ = None
        if goal == "multi" and self.rng.random() < 0.1:
            np_ = self._union_np(depth)
        if np_ is None:
            np_ = self._target_np(goal, depth)
        if np_ is None:
            return None
        return SampledProgram(goal, np_.node, np_, self._set(np_.node))

    # --- target noun phrases ------------------------------------------------------------------
    def _target_np(self, goal: str, depth: int, allow_color: bool = True, allow_final: bool = True) -> NP | None:
        if goal == "zero" and depth == 1:
            if not self.absent:
                return None
            lab = self._choice(self.absent)
            node = self._filter(lab)
            return NP(node, lab, base_node=node, size=len(self._set(node))) if not self._set(node) else None
        sizes = self.class_size
        if goal == "single" and depth == 1:
            pool = [lab for lab in self.present if sizes[lab] == 1]
        elif goal in ("single", "multi", "zero"):
            pool = [lab for lab in self.present if sizes[lab] >= 2]
        else:
            pool = list(self.present)
        if not pool:
            return None
        if depth >= 4 and goal in ("single", "multi"):
            # long descriptions need many same-class objects to narrow down step by step
            label = self._weighted(pool, [sizes[lab] - 1.0 for lab in pool]) or self._choice(pool)
        else:
            label = self._choice(pool)
        members = self._set(self._filter(label))
        witness = self.ctx.row_of[self._choice(members)]
        np_ = self._build(label, witness, depth, role="target", goal=goal, allow_color=allow_color,
                          allow_final=allow_final)
        if np_ is None:
            return None
        n = len(self._set(np_.node))
        ok = {"single": n == 1, "multi": n >= 2, "zero": n == 0}[goal]
        return np_ if ok else None

    def _union_np(self, depth: int) -> NP | None:
        """'mugs and cups': union of two category filters (+ one adjective each at most)."""
        if depth < 3 or depth > 5:
            return None
        labels = [lab for lab in self.present]
        if len(labels) < 2:
            return None
        a, b = self.rng.choice(len(labels), size=2, replace=False)
        la, lb = labels[int(a)], labels[int(b)]
        extra = depth - 3
        nps = []
        for lab, k in ((la, min(extra, 1)), (lb, extra - min(extra, 1))):
            node = self._filter(lab)
            np_ = NP(node, lab, base_node=node)
            if k:  # one colour or material word, true of some member
                row = self.ctx.row_of[self._choice(self._set(node))]
                f = self._adjective(np_, row, "anchor", "any", False, True)
                if f is None:
                    return None
                np_.node = np_.base_node = f
            nps.append(np_)
        sa, sb = set(self._set(nps[0].node)), set(self._set(nps[1].node))
        if not sa or not sb or sa & sb:
            return None  # overlapping sets ("tables and coffee tables") read badly
        node = ast.Union(nps[0].node, nps[1].node)
        first = nps[0]
        return NP(node, first.label, first.adjectives, [], None, first.base_node, len(sa | sb), nps[1])

    # --- the builder ------------------------------------------------------------------------------
    def _plan(self, budget: int, role: str, goal: str, allow_final: bool = True) -> list[tuple] | None:
        """Split ``budget`` steps into adjectives and operations (each with its cost)."""
        plan: list[tuple] = []
        rem = budget - 1
        max_anchor = 4 if role == "target" else 1
        if rem >= 1 and self.rng.random() < (0.3 if role == "target" else 0.35):
            plan.append(("adj", 1))
            rem -= 1
        n_clauses = 0
        while rem > 0:
            opts, weights = [], []
            finals_ok = allow_final and goal in ("single", "any", "anchor") and not (role == "anchor" and n_clauses)
            if rem == 1:
                if finals_ok:
                    opts.append(("super", 1))
                    weights.append(1.0)
                elif not any(p[0] == "adj" for p in plan):
                    opts.append(("adj", 1))
                    weights.append(1.0)
            if rem >= 2 and n_clauses < (3 if role == "target" else 1):
                a = int(self.rng.integers(1, min(rem - 1, max_anchor) + 1))
                opts.append(("and" if n_clauses and role == "target" and rem - 1 - a >= 2 and
                             self.rng.random() < 0.3 else "rel", a))
                weights.append(3.0)
            if role == "target" and finals_ok and 2 <= rem <= 1 + max_anchor:
                opts.append(("anchor", rem - 1))
                weights.append(1.5)
            if role == "target" and rem >= 3 and n_clauses < 3:
                a = int(self.rng.integers(1, min(rem - 2, 2) + 1))
                b = int(self.rng.integers(1, min(rem - 1 - a, 2) + 1))
                opts.append(("between", a, b))
                weights.append(0.8)
            if role == "target" and 4 <= rem and n_clauses < 3:
                a = int(self.rng.integers(1, min(rem - 3, 2) + 1))
                opts.append(("not", a))
                weights.append(0.6)
            op = self._weighted(opts, weights)
            if op is None:
                return None
            if op[0] == "and":
                cost = 3 + op[1]
            elif op[0] == "not":
                cost = 3 + op[1]
            elif op[0] == "between":
                cost = 1 + op[1] + op[2]
            elif op[0] in ("super", "adj"):
                cost = 1
            else:
                cost = 1 + op[1]
            if cost > rem:
                return None
            plan.append(op)
            rem -= cost
            if op[0] in ("rel", "and", "between", "not"):
                n_clauses += 1
            if op[0] in ("super", "anchor"):
                break
        return plan if rem == 0 else None

    def _build(self, label: str, witness: int, budget: int, role: str, goal: str,
               allow_color: bool = True, allow_final: bool = True) -> NP | None:
        plan = self._plan(budget, role, goal, allow_final)
        if plan is None:
            return None
        base = self._filter(label)
        np_ = NP(base, label, base_node=base)
        # anchors may not be of this class, nor of any class an enclosing phrase is about
        head_set = set(self._set(base)) | self._avoid
        x = self._set(base)
        last = len(plan) - 1
        for k, op in enumerate(plan):
            is_last = k == last
            kind = op[0]
            before = len(x)
            if kind == "adj":
                node = self._adjective(np_, witness, role, goal, is_last, allow_color)
                if node is None:
                    return None
                np_.node = np_.base_node = node
            elif kind in ("rel", "and"):
                later = any(o[0] != "adj" for o in plan[k + 1:])
                if not self._relation_clause(np_, witness, op[1], role, goal, is_last, head_set, kind, later):
                    return None
            elif kind == "not":
                if not self._negated_clause(np_, witness, op[1], goal, is_last, head_set):
                    return None
            elif kind == "between":
                if not self._between_clause(np_, witness, op[1], op[2], goal, is_last, head_set):
                    return None
            elif kind == "super":
                if not self._superlative(np_, witness, role):
                    return None
            elif kind == "anchor":
                if not self._anchor_final(np_, witness, op[1], head_set):
                    return None
            x = self._set(np_.node)
            wid = self.ctx.ids[witness]
            if role == "target":
                if goal == "zero" and is_last:
                    if x:
                        return None
                elif not x or (goal != "any" and len(x) >= before):
                    return None  # every step must narrow the set down
                if goal in ("single", "multi") and kind not in ("super", "anchor") and wid not in x:
                    return None
            elif not x:
                return None
        np_.size = len(x)
        return np_

    # --- steps --------------------------------------------------------------------------------
    def _adjective(self, np_: NP, witness: int, role: str, goal: str, is_last: bool, allow_color: bool):
        obj = self.scene.objects[witness]
        cur = np_.node
        options = []
        if allow_color and obj.color:
            options.append(obj.color)
        mats = [a for a in obj.attributes if a in _MATERIAL_FILTERS]
        options.extend(mats)
        if role == "target" and goal == "zero" and is_last:
            # a colour no such object has: "all purple chairs"
            present = {self.scene.get(i).color for i in self._set(cur)}
            cat = CATEGORIES.get(np_.label)
            pool = [c for c in (cat.colors if cat else ()) if c not in present]
            if not pool or not allow_color:
                return None
            word = self._choice(pool)
        else:
            if role == "target" and goal != "any":
                # only words that tell the witness apart from some of its class
                n_now = len(self._set(cur))
                options = [w for w in options if len(self._set(ast.Filter(cur, w))) < n_now]
            if not options:
                return None
            word = self._choice(options)
        node = ast.Filter(cur, word)
        np_.adjectives.append(word)
        return node

    def _anchor_candidates(self, witness: int, head_set: set[int], np_: NP | None = None) -> list[int]:
        return [int(r) for r in np.flatnonzero(self._anchor_mask(witness, head_set, np_))]

    def _anchor_np(self, row: int, budget: int, head_set: set[int]) -> NP | None:
        label = self.ctx.labels[row]
        if set(self._set(self._filter(label))) & head_set:
            return None  # "tables next to the coffee table": anchor and head classes overlap
        outer = self._avoid
        self._avoid = outer | head_set  # "the kettle far from the stove by a kettle" reads badly
        try:
            np_ = self._build(label, row, budget, role="anchor", goal="anchor")
        finally:
            self._avoid = outer
        if np_ is None or np_.size == 0:
            return None
        return np_

    def _relation_table(self, head_label: str, role: str):
        """Stacked (K, N, N) truth tables of the K (relation, frame) choices, with a (K, N)
        mask of sensible anchors for ``head_label`` and the K relation weights."""
        key = (head_label, role)
        cache = self.__dict__.setdefault("_table_cache", {})
        if key in cache:
            return cache[key]
        combos, tables, masks = [], [], []
        n = len(self.ctx.ids)
        for relation in GUIDE_RELATIONS:
            plaus = self._plausible(relation, head_label)
            if plaus is None:
                continue
            frames = [ast.FRAME_VIEWER]
            if relation in ANCHOR_FRAME_RELATIONS and role == "target":
                frames.append(ast.FRAME_ANCHOR)
            for frame in frames:
                m = plaus.copy()
                if frame == ast.FRAME_ANCHOR:
                    m &= self._facing
                elif relation in ("front", "behind") and role == "target":
                    m &= ~self._facing  # "in front of the sofa" means the sofa's front: said in that frame
                combos.append((relation, frame))
                tables.append(self.ctx.holds(relation, frame))
                masks.append(m)
        if combos:
            out = (combos, np.stack(tables), np.stack(masks),
                   np.array([self._rel_weight[r] for r, _ in combos]), np.array([r == "far" for r, _ in combos]))
        else:
            out = ([], np.zeros((0, n, n), bool), np.zeros((0, n), bool), np.zeros(0), np.zeros(0, bool))
        cache[key] = out
        return out

    def _relation_clause(self, np_: NP, witness: int, anchor_budget: int, role: str, goal: str,
                         is_last: bool, head_set: set[int], kind: str, later: bool = False) -> bool:
        cand_mask = self._anchor_mask(witness, head_set, np_)
        combos, tables, masks, rel_w, is_far = self._relation_table(np_.label, role)
        if not combos or not cand_mask.any():
            return False
        zero = role == "target" and goal == "zero" and is_last
        h = tables[:, witness, :]
        ok = masks & cand_mask[None, :] & (~h if zero else h)
        ks, rows = np.nonzero(ok)
        if not len(ks):
            return False
        closeness = 1.0 / (0.5 + self.ctx.gaps_from(witness))
        weights = rel_w[ks] * np.where(is_far[ks], 1.0, closeness[rows])
        x_rows = self.ctx.rows(self._set(np_.node))
        if role == "target" and goal in ("single", "multi") and len(x_rows) > 1:
            # How many of the current candidates the relation to that anchor object keeps:
            # it must drop some; keep >= 2 when more steps must narrow down later (or for
            # 'multi'), and ideally just the witness for the last step of 'single'.
            kept = tables[ks[:, None], x_rows[None, :], rows[:, None]].sum(axis=1)
            narrows = kept < len(x_rows)
            if later or goal == "multi":
                good = narrows & (kept >= 2)
            else:
                good = narrows & (kept == 1)
            weights = weights * np.where(good, 1.0, np.where(narrows, 0.05, 0.001))
        for _ in range(4):
            j = self._weighted_index(weights)
            relation, frame = combos[int(ks[j])]
            r = int(rows[j])
            if zero:
                # the whole candidate set must fail the relation w.r.t. that anchor class
                lab_rows = self.ctx.rows(self._set(self._filter(self.ctx.labels[r])))
                if tables[int(ks[j])][np.ix_(x_rows, lab_rows)].any():
                    continue
            anchor = self._anchor_np(r, anchor_budget, head_set)
            if anchor is None:
                continue
            if frame == ast.FRAME_ANCHOR and (anchor.size != 1 or anchor.clauses or anchor.final):
                continue  # "on the sofa's left" needs one plain sofa
            if kind == "and":
                other = ast.Relate(self._filter(np_.label), anchor.node, relation, frame)
                node = ast.Intersection(np_.node, other)
            else:
                node = ast.Relate(np_.node, anchor.node, relation, frame)
            if role == "target" and goal in ("single", "multi"):
                # the whole anchor phrase may name more objects than the one aimed at:
                # check the real outcome now rather than failing the whole attempt later
                got = self._set(node)
                want_one = goal == "single" and not later
                if self.ctx.ids[witness] not in got or len(got) >= len(x_rows) or \
                        (len(got) != 1 if want_one else len(got) < 2):
                    return False  # fail fast: a fresh attempt is cheaper than more anchors
            np_.node = node
            np_.clauses.append(Clause(kind, relation, frame, [anchor]))
            return True
        return False

    def _anchor_mask(self, witness: int, head_set: set[int], np_: NP | None = None) -> np.ndarray:
        """Rows usable as anchors: not of the head class, not the witness itself, and not
        of a class this phrase already relates to ("next to the desk and left of the desk")."""
        ids = self.ctx.ids
        mask = np.ones(len(ids), dtype=bool)
        mask[witness] = False
        if head_set:
            mask[self.ctx.rows(sorted(head_set))] = False
        if np_ is not None:
            used = {a.label for c in np_.clauses for a in c.anchors}
            if np_.final is not None and np_.final.anchor is not None:
                used.add(np_.final.anchor.label)
            for lab in sorted(used):
                mask[self.ctx.rows(self._set(self._filter(lab)))] = False
        return mask

    def _plausible(self, relation: str, head_label: str) -> np.ndarray | None:
        """Anchor rows for which ``relation`` is a sensible thing to say about ``head_label``
        ('the mug on the desk', not 'the window on the flask'); None when never sensible."""
        key = (relation, head_label)
        cache = self.__dict__.setdefault("_plaus_cache", {})
        if key in cache:
            return cache[key]
        head = CATEGORIES.get(head_label)
        hp = head.placement if head else None
        cats = [CATEGORIES.get(lab) for lab in self.ctx.labels]
        n = len(cats)
        out: np.ndarray | None = np.ones(n, dtype=bool)
        if relation == "on":
            out = np.array([c is not None and c.support for c in cats], dtype=bool) if hp == ON_SURFACE else None
        elif relation == "under":
            out = np.array([c is not None and c.support and c.placement != WALL_MOUNTED for c in cats], dtype=bool) \
                if hp != WALL_MOUNTED else None
        elif relation == "above":
            out = None if hp not in (ON_SURFACE, WALL_MOUNTED) else out
        elif relation == "below":
            out = np.array([c is not None and c.placement in (ON_SURFACE, WALL_MOUNTED) for c in cats], dtype=bool)
        cache[key] = out
        return out

    def _negated_clause(self, np_: NP, witness: int, anchor_budget: int, goal: str, is_last: bool,
                        head_set: set[int]) -> bool:
        """exclude(X, relate(category, A, r)): 'the chair that is not near the table'."""
        x_rows = self.ctx.rows(self._set(np_.node))
        cands = self._anchor_candidates(witness, head_set, np_)
        zero = goal == "zero" and is_last
        options = []
        for relation in ("near", "next_to", "on", "left", "right", "under"):
            h = self.ctx.holds(relation)
            for r in cands:
                if zero:
                    lab_rows = self.ctx.rows(self._set(self._filter(self.ctx.labels[r])))
                    if h[np.ix_(x_rows, lab_rows)].any(axis=1).all():
                        options.append((relation, r))
                elif not h[witness, r] and h[x_rows, r].any():
                    options.append((relation, r))
        if not options:
            return False
        for _ in range(3):
            relation, r = self._choice(options)
            anchor = self._anchor_np(r, anchor_budget, head_set)
            if anchor is None:
                continue
            np_.node = ast.Exclude(np_.node, ast.Relate(self._filter(np_.label), anchor.node, relation))
            np_.clauses.append(Clause("not", relation, ast.FRAME_VIEWER, [anchor]))
            return True
        return False

    def _between_clause(self, np_: NP, witness: int, budget_a: int, budget_b: int, goal: str,
                        is_last: bool, head_set: set[int]) -> bool:
        cands = np.array(self._anchor_candidates(witness, head_set, np_), dtype=np.int64)
        if len(cands) < 2:
            return False
        zero = goal == "zero" and is_last
        pairs = self.ctx.between_pairs(witness, cands, cands)
        labels = self.ctx.labels
        ii, jj = np.nonzero(~pairs if zero else pairs)
        keep = [(int(cands[i]), int(cands[j])) for i, j in zip(ii, jj)
                if i < j and labels[cands[i]] != labels[cands[j]]]
        if not keep:
            return False
        for _ in range(3):
            ra, rb = keep[int(self.rng.integers(len(keep)))]
            a = self._anchor_np(ra, budget_a, head_set)
            b = self._anchor_np(rb, budget_b, head_set)
            if a is None or b is None or set(self._set(a.node)) & set(self._set(b.node)):
                continue
            np_.node = ast.RelateMulti(np_.node, a.node, b.node, "between")
            np_.clauses.append(Clause("between", "between", ast.FRAME_VIEWER, [a, b]))
            return True
        return False

    def _superlative(self, np_: NP, witness: int, role: str) -> bool:
        x = self._set(np_.node)
        if len(x) < 2:
            return False
        placement = CATEGORIES[np_.label].placement if np_.label in CATEGORIES else None
        kinds = list(_SIDE_SUPERLATIVES)
        if placement in (ON_SURFACE, WALL_MOUNTED):
            kinds += list(_HEIGHT_SUPERLATIVES)
        if placement not in (WALL_MOUNTED,):
            kinds += list(_SIZE_SUPERLATIVES)
        kind = self._choice(kinds)
        rank = 1
        if role == "target" and len(x) >= 3 and self.rng.random() < 0.2 and kind not in ("closest", "farthest"):
            rank = 2
        if role == "anchor":
            # the witness should be the one picked, so the anchor is the object we related to
            for k in self.rng.permutation(kinds):
                if self.ctx.quick(ast.Superlative(np_.node, str(k))) == [self.ctx.ids[witness]]:
                    kind = str(k)
                    break
            else:
                return False
        np_.node = ast.Superlative(np_.node, kind, rank)
        np_.final = Final("super", kind, rank)
        return True

    def _anchor_final(self, np_: NP, witness: int, anchor_budget: int, head_set: set[int]) -> bool:
        if len(self._set(np_.node)) < 2:
            return False
        cands = self._anchor_candidates(witness, head_set, np_)
        if not cands:
            return False
        for _ in range(4):
            r = self._choice(cands)
            anchor = self._anchor_np(r, anchor_budget, head_set)
            if anchor is None:
                continue
            name = "closest" if self.rng.random() < 0.75 else "farthest"
            np_.node = ast.RelateAnchor(np_.node, anchor.node, name)
            np_.final = Final("anchor", name, 1, anchor)
            return True
        return False
