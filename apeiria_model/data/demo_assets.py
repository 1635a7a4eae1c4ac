"""The demo scenes and instructions shipped in ``apeiria_model/assets/scenes/``.

``demo_office.json`` and ``demo_living_room.json`` are rooms from the generator with
fixed seeds (so they can be rebuilt and checked byte for byte); ``demo_queries.txt``
lists instructions over them, each with its gold program and the executor's answer:

    demo_office.json | find the mug on the desk closest to the window
    #   program: relate_anchor(relate(filter(scene(), mug), ...), closest)
    #   answer: [16]

Rebuild with ``python -m apeiria_model.data.demo_assets`` (writes the three files).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from apeiria_model.data.rooms import generate_room
from apeiria_model.programs.executor import Executor
from apeiria_model.programs.grammar import parse_program
from apeiria_model.scene.io import load_scene, scene_to_dict
from apeiria_model.scene.model import Scene

ASSET_DIR = Path(__file__).resolve().parent.parent / "assets" / "scenes"
QUERIES_FILE = "demo_queries.txt"
# file name -> (room type, seed, scene id)
DEMO_SCENES = {
    "demo_office.json": ("office", 37, "demo_office"),
    "demo_living_room.json": ("living_room", 8, "demo_living_room"),
}
# (scene file, instruction, gold program): filters, relations (viewer and allocentric),
# superlatives, between, counting, a colour question and zero-target requests.
DEMO_QUERIES = [
    ("demo_office.json", "find the mug on the desk closest to the window",
     'relate_anchor(relate(filter(scene(), mug), filter(scene(), desk), on), filter(scene(), window), closest)'),
    ("demo_office.json", "the red office chair next to the white desk",
     'relate(filter(filter(scene(), "office chair"), red), filter(filter(scene(), desk), white), next_to)'),
    ("demo_office.json", "how many chairs are next to the table?",
     'count(relate(filter(scene(), chair), filter(scene(), table), next_to))'),
    ("demo_office.json", "the leftmost monitor", 'superlative(filter(scene(), monitor), leftmost)'),
    ("demo_office.json", "what colour is the keyboard?", 'query(filter(scene(), keyboard), color)'),
    ("demo_office.json", "the table between the desk and the bookshelf",
     'relate_multi(filter(scene(), table), filter(scene(), desk), filter(scene(), bookshelf), between)'),
    ("demo_office.json", "go to the chair closest to the door",
     'relate_anchor(filter(scene(), chair), filter(scene(), door), closest)'),
    ("demo_office.json", "find all mugs on the white desk",
     'relate(filter(scene(), mug), filter(filter(scene(), desk), white), on)'),
    ("demo_living_room.json", "the coffee table in front of the sofa",
     'relate(filter(scene(), "coffee table"), filter(scene(), sofa), front, anchor)'),
    ("demo_living_room.json", "how many vases are on the cabinet?",
     'count(relate(filter(scene(), vase), filter(scene(), cabinet), on))'),
    ("demo_living_room.json", "the plant between the brown floor lamp and the coat rack",
     'relate_multi(filter(scene(), plant), filter(filter(scene(), "floor lamp"), brown), '
     'filter(scene(), "coat rack"), between)'),
    ("demo_living_room.json", "the tallest vase on the cabinet",
     'superlative(relate(filter(scene(), vase), filter(scene(), cabinet), on), tallest)'),
]


@dataclass(frozen=True)
class DemoQuery:
    scene_file: str
    instruction: str
    program: str
    answer: object      # id list, int or string, as the executor gave it when written


def build_demo_scene(file_name: str) -> Scene:
    room_type, seed, scene_id = DEMO_SCENES[file_name]
    return generate_room(np.random.default_rng(seed), room_type, scene_id).scene


def scene_text(scene: Scene) -> str:
    """Scene JSON v1 with one object a line: valid JSON that people can read and diff."""
    doc = scene_to_dict(scene)
    objects = doc.pop("objects")
    head = [f" {json.dumps(k)}: {json.dumps(v)}" for k, v in doc.items()]
    body = [f"  {json.dumps(o)}" for o in objects]
    return "{\n" + ",\n".join(head) + ',\n "objects": [\n' + ",\n".join(body) + "\n ]\n}\n"


def queries_text(scenes: dict[str, Scene]) -> str:
    ex = Executor()
    lines = ["# apeiria demo instructions over the scenes in this folder.",
             "# One instruction a line: '<scene file> | <instruction>'. The comment lines under it give",
             "# the gold program and the object IDs (or the value) the executor returns for it.", ""]
    for file_name, text, program in DEMO_QUERIES:
        value = ex.execute(parse_program(program), scenes[file_name]).value
        lines += [f"{file_name} | {text}", f"#   program: {program}", f"#   answer: {json.dumps(value)}", ""]
    return "\n".join(lines)


def load_demo_queries(path: str | Path | None = None) -> list[DemoQuery]:
    """Parse ``demo_queries.txt`` (ValueError naming the line when malformed)."""
    path = Path(path) if path is not None else ASSET_DIR / QUERIES_FILE
    out: list[DemoQuery] = []
    current: dict | None = None
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            body = line.lstrip("#").strip()
            if current is not None and body.startswith("program:"):
                current["program"] = body[len("program:"):].strip()
            elif current is not None and body.startswith("answer:"):
                try:
                    current["answer"] = json.loads(body[len("answer:"):].strip())
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:{n}: answer is not JSON: {e}") from None
            continue
        if "|" not in line:
            raise ValueError(f"{path}:{n}: expected '<scene file> | <instruction>', got {line!r}")
        if current is not None:
            out.append(DemoQuery(**current))
        scene_file, text = (p.strip() for p in line.split("|", 1))
        if not scene_file or not text:
            raise ValueError(f"{path}:{n}: empty scene file or instruction")
        current = {"scene_file": scene_file, "instruction": text, "program": "", "answer": None}
    if current is not None:
        out.append(DemoQuery(**current))
    return out


def load_demo_scene(file_name: str) -> Scene:
    return load_scene(ASSET_DIR / file_name)


def write_demo_assets(folder: str | Path = ASSET_DIR) -> list[Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    scenes = {f: build_demo_scene(f) for f in DEMO_SCENES}
    written = []
    for f, s in scenes.items():
        (folder / f).write_text(scene_text(s), encoding="utf-8")
        written.append(folder / f)
    (folder / QUERIES_FILE).write_text(queries_text(scenes), encoding="utf-8")
    written.append(folder / QUERIES_FILE)
    return written


if __name__ == "__main__":
    for p in write_demo_assets(sys.argv[1] if len(sys.argv) > 1 else ASSET_DIR):
        print(p)
