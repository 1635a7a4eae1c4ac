"""Stage-1 perception alignment tasks (object level, no reasoning).

Three kinds, as in the paper's first curriculum stage:

- ``recognition``: "what is object 7?" -> "a red chair";
- ``localisation``: "where is the lamp?" -> "Object 3 at (1.20, 0.40, 0.45)" (every
  instance, separated by "; ");
- ``caption``: "describe object 7" -> "a red wooden chair at (...), size w x d x h m,
  on the desk (object 2)" -- the support relation is known by construction.

Numbers use 2 decimals, like the answer lines of the reasoning traces.
"""

from __future__ import annotations

import numpy as np

from apeiria_model.data.rooms import GeneratedRoom

TASKS = ("recognition", "localisation", "caption")
_RECOGNITION_PROMPTS = ("what is object {id}?", "name object {id}.", "what kind of object is object {id}?")
_LOCALISATION_PROMPTS = ("where is the {label}?", "locate the {label}.", "where can I find the {label}?")
_CAPTION_PROMPTS = ("describe object {id}.", "give a short description of object {id}.")


def _xyz(v) -> str:
    return "(" + ", ".join(f"{float(x):.2f}" for x in v) + ")"


def _a(text: str) -> str:
    return ("an " if text[:1] in "aeiou" else "a ") + text


def perception_tasks(room: GeneratedRoom, rng: np.random.Generator, n_recognition: int = 6,
                     n_localisation: int = 3, n_caption: int = 3) -> list[dict]:
    """Stage-1 records for one room: ``{scene_id, task, prompt, response, object_ids}``."""
    scene = room.scene
    objs = list(scene.objects)
    out: list[dict] = []
    if not objs:
        return out
    for k in rng.permutation(len(objs))[:n_recognition]:
        o = objs[int(k)]
        prompt = _RECOGNITION_PROMPTS[int(rng.integers(len(_RECOGNITION_PROMPTS)))].format(id=o.id)
        out.append({"scene_id": scene.scene_id, "task": "recognition", "prompt": prompt,
                    "response": _a(o.describe()), "object_ids": [o.id]})
    labels = sorted({o.label for o in objs})
    for k in rng.permutation(len(labels))[:n_localisation]:
        label = labels[int(k)]
        inst = [o for o in objs if o.label == label]
        prompt = _LOCALISATION_PROMPTS[int(rng.integers(len(_LOCALISATION_PROMPTS)))].format(label=label)
        response = "; ".join(f"Object {o.id} at {_xyz(o.center)}" for o in inst)
        out.append({"scene_id": scene.scene_id, "task": "localisation", "prompt": prompt,
                    "response": response, "object_ids": [o.id for o in inst]})
    for k in rng.permutation(len(objs))[:n_caption]:
        o = objs[int(k)]
        words = [o.color] if o.color else []
        words += [a for a in o.attributes]
        text = _a(" ".join(words + [o.label])) + f" at {_xyz(o.center)}, size " + \
            " x ".join(f"{float(s):.2f}" for s in o.size) + " m"
        ids = [o.id]
        sup = room.support_of.get(o.id)
        if sup is not None:
            text += f", on the {scene.get(sup).label} (object {sup})"
            ids.append(sup)
        prompt = _CAPTION_PROMPTS[int(rng.integers(len(_CAPTION_PROMPTS)))].format(id=o.id)
        out.append({"scene_id": scene.scene_id, "task": "caption", "prompt": prompt, "response": text,
                    "object_ids": ids})
    return out
