"""Gazebo SDF worlds -> (Scene, meshes) for the simulator.

Reads SDF 1.6+ worlds: inline ``<model>``s (nested models and links allowed) and
``<include>``d models (``model://name`` resolved against the search paths, the world's
folder, ``GZ_SIM_RESOURCE_PATH``, ``IGN_GAZEBO_RESOURCE_PATH`` and ``GAZEBO_MODEL_PATH``,
reading the folder's ``model.config`` to find its SDF file; ``package://pkg/...`` also
looks in ``$AMENT_PREFIX_PATH/share``). Poses (``x y z roll pitch
yaw``, or a quaternion with ``rotation_format="quat_xyzw"``, ``degrees="true"``) compose
down model -> link -> visual. Visual geometry: box, cylinder, sphere, capsule, ellipsoid,
and OBJ / STL / PLY meshes (with ``<scale>``); other mesh formats (DAE, glTF...) are
skipped with a logged warning. Each top-level model becomes one object: its label from
the model name ("kitchen_table_1" -> "kitchen table"), its box the axis-aligned bounds of
its posed visuals, its colour the colour word covering most of its visual surface. Ground planes and
lights are ignored. Anything unusable raises :class:`SdfError` naming the file and element.
"""

from __future__ import annotations

import logging
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import open3d as o3d
from scipy.spatial.transform import Rotation

from apeiria_model.perception.sim.colors import color_rgb, nearest_color_name
from apeiria_model.perception.sim.mesh import ObjectMesh, Part, box, cylinder, ellipsoid, merge_meshes, merge_parts
from apeiria_model.scene.model import Scene, SceneObject

log = logging.getLogger(__name__)

MESH_FORMATS = (".obj", ".stl", ".ply")
ENV_PATHS = ("GZ_SIM_RESOURCE_PATH", "IGN_GAZEBO_RESOURCE_PATH", "GAZEBO_MODEL_PATH")
IGNORED_MODELS = {"ground_plane", "sun", "ground", "default_ground_plane"}
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_INCLUDE_DEPTH = 16
MAX_COORD = 1e6  # metres (or radians): anything larger is a typo, and would overflow float32
DEFAULT_RGB = (0.7, 0.7, 0.7)


class SdfError(ValueError):
    """An SDF world (or a file it refers to) cannot be used; the message says where and why."""


@dataclass
class _Ctx:
    search_paths: list[Path]
    skip_missing: bool
    world_dir: Path = Path(".")
    depth: int = 0
    warnings: list[str] = field(default_factory=list)

    def warn(self, msg: str) -> None:
        log.warning(msg)
        self.warnings.append(msg)


def label_from_name(name: str) -> str:
    """Model name -> words: "kitchen_table_1" -> "kitchen table", "OfficeChair" -> "office chair"."""
    s = re.sub(r"([a-z])([A-Z])", r"\1 \2", name or "")
    words = [w for w in re.split(r"[^A-Za-z]+", s.lower()) if w]
    return " ".join(words) or "object"


def _floats(text: str | None, n: int | tuple[int, ...], where: str) -> np.ndarray:
    parts = (text or "").split()
    ns = (n,) if isinstance(n, int) else n
    if len(parts) not in ns:
        raise SdfError(f"{where}: expected {' or '.join(map(str, ns))} numbers, got {text!r}")
    try:
        v = np.array([float(p) for p in parts])
    except ValueError:
        raise SdfError(f"{where}: not a number in {text!r}") from None
    if not np.all(np.isfinite(v)):
        raise SdfError(f"{where}: numbers must be finite, got {text!r}")
    if np.any(np.abs(v) > MAX_COORD):
        raise SdfError(f"{where}: numbers must be within +-{MAX_COORD:g}, got {text!r}")
    return v


def _pose(elem: ET.Element | None, where: str) -> np.ndarray:
    """4x4 from a <pose> child of ``elem`` (identity when absent or empty)."""
    m = np.eye(4)
    p = elem.find("pose") if elem is not None else None
    if p is None or not (p.text or "").strip():
        return m
    if p.get("relative_to"):
        # Frame graphs (SDF 1.7) are not modelled; poses compose with the parent element.
        log.debug("%s: pose relative_to=%r treated as relative to the parent", where, p.get("relative_to"))
    quat = p.get("rotation_format", "euler_rpy") == "quat_xyzw"
    v = _floats(p.text, 7 if quat else 6, f"{where}/pose")
    if quat:
        q = v[3:]
        if np.linalg.norm(q) < 1e-9:
            raise SdfError(f"{where}/pose: zero quaternion")
        m[:3, :3] = Rotation.from_quat(q / np.linalg.norm(q)).as_matrix()
    else:
        ang = np.radians(v[3:]) if p.get("degrees", "false").lower() == "true" else v[3:]
        m[:3, :3] = Rotation.from_euler("xyz", ang).as_matrix()  # fixed axes: Rz(yaw) Ry(pitch) Rx(roll)
    m[:3, 3] = v[:3]
    return m


def _parse_file(path: Path) -> ET.Element:
    try:
        size = path.stat().st_size
    except OSError as e:
        raise SdfError(f"cannot read {path}: {e.strerror or e}") from None
    if size > MAX_FILE_BYTES:
        raise SdfError(f"{path}: file is {size} bytes, more than the {MAX_FILE_BYTES} allowed")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise SdfError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        raise SdfError(f"{path}: malformed XML ({e})") from None
    if root.tag != "sdf":
        raise SdfError(f"{path}: root element is <{root.tag}>, expected <sdf>")
    return root


def _env_paths() -> list[Path]:
    out = []
    for var in ENV_PATHS:
        for p in os.environ.get(var, "").split(os.pathsep):
            if p.strip():
                out.append(Path(p.strip()))
    return out


def _model_roots(base: Path, ctx: _Ctx) -> list[Path]:
    """Where ``model://name`` may live: explicit paths, the including file's folder, the
    world's folder (and their ``models/`` subfolders), then the Gazebo environment paths."""
    roots = [*ctx.search_paths, base, base / "models", ctx.world_dir, ctx.world_dir / "models", *_env_paths()]
    return list(dict.fromkeys(roots))


def _find_model_dir(name: str, base: Path, ctx: _Ctx) -> Path | None:
    for d in _model_roots(base, ctx):
        cand = d / name
        if cand.is_dir():
            return cand
    return None


def _resolve_uri(uri: str, base: Path, ctx: _Ctx, where: str) -> Path:
    uri = uri.strip()
    for scheme in ("model://", "package://"):
        if uri.startswith(scheme):
            name, _, sub = uri[len(scheme):].partition("/")
            d = _find_model_dir(name, base, ctx)
            if d is None and scheme == "package://":
                # ROS packages install their files under <prefix>/share/<package>.
                for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
                    if prefix.strip() and (Path(prefix) / "share" / name).is_dir():
                        d = Path(prefix) / "share" / name
                        break
            if d is None:
                searched = [str(p) for p in _model_roots(base, ctx)]
                raise SdfError(f"{where}: {'model' if scheme == 'model://' else 'package'} {name!r} ({uri}) "
                               f"not found in {', '.join(searched)}")
            return d / sub if sub else d
    if uri.startswith("file://"):
        return Path(uri[len("file://"):])
    if re.match(r"^https?://", uri, re.I):
        raise SdfError(f"{where}: cannot fetch {uri} (no network access); download the model into a "
                       f"folder on the model search path")
    if re.match(r"^[a-z][a-z0-9+.-]*://", uri, re.I):
        raise SdfError(f"{where}: unsupported URI {uri} (use model://, package://, file:// or a path)")
    p = Path(uri)
    return p if p.is_absolute() else base / p


def _model_sdf_in(folder: Path, where: str) -> Path:
    """The SDF file of a model folder: named by model.config's <sdf>, else model.sdf."""
    cfg = folder / "model.config"
    if cfg.is_file():
        try:
            root = ET.fromstring(cfg.read_bytes())
        except ET.ParseError as e:
            raise SdfError(f"{cfg}: malformed XML ({e})") from None
        except OSError as e:
            raise SdfError(f"cannot read {cfg}: {e.strerror or e}") from None
        names = [e.text.strip() for e in root.findall("sdf") if e.text and e.text.strip()]
        # Several <sdf version=...> entries: prefer the newest version.
        if names:
            versions = [(tuple(int(x) for x in re.findall(r"\d+", e.get("version", "0"))), e.text.strip())
                        for e in root.findall("sdf") if e.text and e.text.strip()]
            cand = folder / max(versions)[1]
            if cand.is_file():
                return cand
            raise SdfError(f"{where}: {cfg} names {cand.name}, which does not exist")
    cand = folder / "model.sdf"
    if cand.is_file():
        return cand
    raise SdfError(f"{where}: model folder {folder} has neither model.config nor model.sdf")


def _material_rgb(visual: ET.Element) -> np.ndarray | None:
    mat = visual.find("material")
    if mat is None:
        return None
    for tag in ("diffuse", "ambient"):
        e = mat.find(tag)
        if e is not None and (e.text or "").split():
            try:
                v = np.array([float(x) for x in e.text.split()[:3]])
            except ValueError:
                continue
            if v.shape == (3,) and np.all(np.isfinite(v)):
                return np.clip(v, 0.0, 1.0)
    name = mat.find("script/name")
    if name is not None and name.text:
        # Gazebo classic material scripts: "Gazebo/Red", "Gazebo/Wood", "Gazebo/DarkGrey".
        word = re.sub(r"([a-z])([A-Z])", r"\1 \2", name.text.split("/")[-1])
        return color_rgb(word)
    return None


def _load_mesh_file(path: Path, scale: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    if not path.is_file():
        raise SdfError(f"{where}: mesh file {path} not found")
    mesh = o3d.io.read_triangle_mesh(str(path), enable_post_processing=False)
    v = np.asarray(mesh.vertices, dtype=float)
    t = np.asarray(mesh.triangles, dtype=np.int32)
    if len(t) == 0 or len(v) == 0:
        raise SdfError(f"{where}: mesh file {path} has no triangles (unreadable or empty)")
    if not np.all(np.isfinite(v)) or t.min() < 0 or t.max() >= len(v):
        raise SdfError(f"{where}: mesh file {path} has invalid vertices or faces")
    vc = None
    if mesh.has_vertex_colors():
        c = np.asarray(mesh.vertex_colors, dtype=float)
        vc = c[t].mean(axis=1)
    return v * scale, t, vc


def _geometry(visual: ET.Element, base: Path, ctx: _Ctx, where: str) -> tuple[Part | None, bool]:
    """(part in the visual's frame, is_ground_plane)."""
    g = visual.find("geometry")
    if g is None or len(g) == 0:
        ctx.warn(f"{where}: visual without geometry skipped")
        return None, False
    geom = g[0]
    rgb = DEFAULT_RGB
    tag = geom.tag
    w = f"{where}/geometry/{tag}"
    if tag == "box":
        s = _floats(geom.findtext("size", "1 1 1"), 3, f"{w}/size")
        if np.any(s <= 0):
            raise SdfError(f"{w}/size: sizes must be > 0, got {s.tolist()}")
        return box(-s[0] / 2, s[0] / 2, -s[1] / 2, s[1] / 2, -s[2] / 2, s[2] / 2, rgb), False
    if tag in ("cylinder", "capsule"):
        r = _floats(geom.findtext("radius", "0.5"), 1, f"{w}/radius")[0]
        length = _floats(geom.findtext("length", "1"), 1, f"{w}/length")[0]
        if r <= 0 or length <= 0:
            raise SdfError(f"{w}: radius and length must be > 0, got {r}, {length}")
        part = cylinder(0, 0, -length / 2, length / 2, r, rgb)
        if tag == "capsule":
            caps = [ellipsoid((0, 0, z), (r, r, r), rgb) for z in (-length / 2, length / 2)]
            m = merge_parts([part, *caps], 0)
            part = Part(m.vertices, m.triangles, np.asarray(rgb))
        return part, False
    if tag == "sphere":
        r = _floats(geom.findtext("radius", "0.5"), 1, f"{w}/radius")[0]
        if r <= 0:
            raise SdfError(f"{w}/radius: must be > 0, got {r}")
        return ellipsoid((0, 0, 0), (r, r, r), rgb), False
    if tag == "ellipsoid":
        radii = _floats(geom.findtext("radii", "1 1 1"), 3, f"{w}/radii")
        if np.any(radii <= 0):
            raise SdfError(f"{w}/radii: must be > 0, got {radii.tolist()}")
        return ellipsoid((0, 0, 0), radii, rgb), False
    if tag == "plane":
        return None, True
    if tag == "mesh":
        uri = (geom.findtext("uri") or "").strip()
        if not uri:
            raise SdfError(f"{w}: <mesh> without <uri>")
        scale = _floats(geom.findtext("scale", "1 1 1"), 3, f"{w}/scale")
        if np.any(scale == 0):
            raise SdfError(f"{w}/scale: must not be 0, got {scale.tolist()}")
        ext = Path(uri.split("?")[0]).suffix.lower()
        if ext not in MESH_FORMATS:
            ctx.warn(f"{w}: mesh {uri} skipped: format {ext or '(none)'} not supported "
                     f"(use {', '.join(MESH_FORMATS)})")
            return None, False
        try:
            path = _resolve_uri(uri, base, ctx, w)
            v, t, vc = _load_mesh_file(path, scale, w)
        except SdfError as e:
            if ctx.skip_missing:
                ctx.warn(f"{e} (skipped)")
                return None, False
            raise
        if np.prod(np.sign(scale)) < 0:  # a mirroring scale flips the winding
            t = t[:, ::-1].copy()
        part = Part(v, t, np.asarray(rgb))
        if vc is not None:
            part.rgb = vc  # per-triangle colours from the file; a <material> overrides below
        return part, False
    ctx.warn(f"{w}: geometry <{tag}> not supported, skipped")
    return None, False


def _surface_area(m: ObjectMesh) -> float:
    v = m.vertices[m.triangles]
    return float(0.5 * np.linalg.norm(np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0]), axis=1).sum())


def _dominant_color(colors: list[tuple[np.ndarray, float]]) -> str | None:
    """The colour word covering the most visual surface (a red handle on a white door: white)."""
    area: dict[str, float] = {}
    for rgb, a in colors:
        name = nearest_color_name(rgb)
        area[name] = area.get(name, 0.0) + a
    return max(area, key=area.get) if area else None


def _collect_model(model: ET.Element, parent: np.ndarray, base: Path, ctx: _Ctx, where: str,
                   pose_override: np.ndarray | None = None
                   ) -> tuple[list[ObjectMesh], list[tuple[np.ndarray, float]], bool]:
    """All visuals of a model (links, nested models, nested includes) in world coordinates.

    Returns (meshes, [(material rgb, surface area)], only_ground).
    """
    t_model = parent @ (pose_override if pose_override is not None else _pose(model, where))
    meshes: list[ObjectMesh] = []
    colors: list[tuple[np.ndarray, float]] = []  # (material rgb, surface area) per visual
    saw_ground = False
    for link in model.findall("link"):
        lw = f"{where}/link[{link.get('name', '?')}]"
        t_link = t_model @ _pose(link, lw)
        for visual in link.findall("visual"):
            vw = f"{lw}/visual[{visual.get('name', '?')}]"
            part, is_ground = _geometry(visual, base, ctx, vw)
            saw_ground |= is_ground
            if part is None:
                continue
            t_vis = t_link @ _pose(visual, vw)
            mat = _material_rgb(visual)
            rgb = mat if mat is not None else part.rgb
            m = merge_parts([Part(part.vertices, part.triangles, np.zeros(3))], 0)
            tc = np.asarray(rgb, dtype=np.float32)
            m.triangle_colors = (np.broadcast_to(tc, (m.n_triangles, 3)) if tc.ndim == 1 else tc).astype(np.float32)
            m = m.transformed(t_vis)
            meshes.append(m)
            if mat is not None:
                colors.append((mat, _surface_area(m)))
    for sub in model.findall("model"):
        sm, sc, _ = _collect_model(sub, t_model, base, ctx, f"{where}/model[{sub.get('name', '?')}]")
        meshes += sm
        colors += sc
    for inc in model.findall("include"):
        got = _include(inc, t_model, base, ctx, f"{where}/include")
        if got is not None:
            meshes += got[1]
            colors += got[2]
    only_ground = saw_ground and not meshes
    return meshes, colors, only_ground


def _include(inc: ET.Element, parent: np.ndarray, base: Path, ctx: _Ctx, where: str):
    """(name, meshes, colours) of an <include>d model, or None for an ignored one."""
    uri = (inc.findtext("uri") or "").strip()
    if not uri:
        raise SdfError(f"{where}: <include> without <uri>")
    target = uri.rstrip("/").split("/")[-1]
    if target in IGNORED_MODELS:
        return None
    if ctx.depth >= MAX_INCLUDE_DEPTH:
        raise SdfError(f"{where}: includes nested deeper than {MAX_INCLUDE_DEPTH} (a cycle?) at {uri}")
    try:
        folder = _resolve_uri(uri, base, ctx, where)
        if folder.is_file():
            sdf_path = folder
        elif folder.is_dir():
            sdf_path = _model_sdf_in(folder, where)
        else:
            raise SdfError(f"{where}: {uri} resolves to {folder}, which does not exist")
        root = _parse_file(sdf_path)
    except SdfError as e:
        if ctx.skip_missing:
            ctx.warn(f"{e} (include skipped)")
            return None
        raise
    model = root.find("model")
    if model is None:
        raise SdfError(f"{sdf_path}: no <model> element")
    name = (inc.findtext("name") or "").strip() or model.get("name") or target
    override = _pose(inc, where) if inc.find("pose") is not None else None
    ctx.depth += 1
    try:
        meshes, colors, only_ground = _collect_model(model, parent, sdf_path.parent, ctx,
                                                     f"{sdf_path}:model[{name}]", pose_override=override)
    finally:
        ctx.depth -= 1
    if only_ground:
        return None
    return name, meshes, colors


def load_sdf_world(path: str | os.PathLike, search_paths: Sequence[str | os.PathLike] = (),
                   skip_missing: bool = False) -> tuple[Scene, list[ObjectMesh]]:
    """Load a Gazebo world: a Scene (one object per top-level model) + its meshes.

    ``search_paths``: extra folders holding model folders for ``model://`` URIs.
    ``skip_missing``: log and skip unresolvable includes/meshes instead of raising.
    A file holding a single ``<model>`` (a model.sdf) loads as a one-object world.
    """
    path = Path(path)
    root = _parse_file(path)
    ctx = _Ctx([Path(p) for p in search_paths], bool(skip_missing), path.parent)
    world = root.find("world")
    container = world if world is not None else root
    if world is None and root.find("model") is None:
        raise SdfError(f"{path}: no <world> or <model> element")
    base = path.parent
    entries: list[tuple[str, list[ObjectMesh], list[tuple[np.ndarray, float]]]] = []
    try:
        for child in container:
            if child.tag == "model":
                name = child.get("name") or f"model_{len(entries)}"
                if name in IGNORED_MODELS:
                    continue
                meshes, colors, only_ground = _collect_model(child, np.eye(4), base, ctx, f"{path}:model[{name}]")
                if only_ground:
                    continue
                entries.append((name, meshes, colors))
            elif child.tag == "include":
                got = _include(child, np.eye(4), base, ctx, f"{path}:include")
                if got is not None:
                    entries.append(got)
    except SdfError:
        raise
    except (ValueError, RecursionError) as e:  # geometry that overflows, absurdly deep nesting
        raise SdfError(f"{path}: unusable geometry ({e})") from None
    objects: list[SceneObject] = []
    out_meshes: list[ObjectMesh] = []
    for name, meshes, colors in entries:
        if not meshes:
            ctx.warn(f"{path}: model {name!r} has no renderable visuals, skipped")
            continue
        oid = len(objects)
        try:
            merged = merge_meshes(meshes, oid, name)
        except ValueError as e:  # e.g. scales that overflow to infinity
            raise SdfError(f"{path}: model {name!r}: {e}") from None
        lo, hi = merged.bounds()
        size = np.maximum(hi - lo, 0.01)  # flat visuals still get a usable box
        center = (lo + hi) / 2
        color = _dominant_color(colors)
        objects.append(SceneObject(oid, label_from_name(name), tuple(float(x) for x in center),
                                   tuple(float(x) for x in size), color=color))
        out_meshes.append(merged)
    scene_id = (world.get("name") if world is not None else None) or path.stem
    return Scene(scene_id, tuple(objects)), out_meshes
