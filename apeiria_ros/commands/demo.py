"""`apeiria demo`: the whole stack over real DDS on loopback, in about a minute.

A simulated RGB-D camera orbits a room (sim_node), the scene builder turns its frames
into an object map (scene_builder_node), and the grounding node answers a few
instructions over the Ground service; each answer's trace is printed and a top-down
picture with the grounded boxes is written to out/demo/. Every node runs in its own
process and all of them are stopped on any exit.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from apeiria_model.cli.common import die
from apeiria_ros.env import REPO_ROOT

BUILTIN_QUERIES = ["the red object", "the largest object", "the green object closest to the red object",
                   "the leftmost black object", "the tallest object"]
DEMO_CONFIG = REPO_ROOT / "config" / "bringup_demo.yaml"
FALLBACK_SCENE = REPO_ROOT / "config" / "demo_scene.json"


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="run sim -> scene builder -> grounding over ROS 2 and ground a few instructions",
                              description=__doc__.splitlines()[0])
    p.add_argument("--scene", default="", help="Scene JSON v1 to simulate (default: the demo scene asset)")
    p.add_argument("--queries", default="", help="instructions file, one per line (default: demo_queries.txt)")
    p.add_argument("--max-queries", type=int, default=5)
    p.add_argument("--out", default="out/demo", help="output folder (PNG pictures, results.jsonl, logs)")
    p.add_argument("--domain-id", type=int, default=None, help="ROS_DOMAIN_ID (default: derived from the pid)")
    p.add_argument("--map-timeout", type=float, default=45.0, help="seconds to wait for the object map")
    p.set_defaults(func=run)


QUERIES_FILE = REPO_ROOT / "apeiria_model" / "assets" / "scenes" / "demo_queries.txt"


def read_queries(path: Path) -> list[tuple[str, str]]:
    """[(scene file name or '', instruction)] from '<scene file> | <instruction>' or plain lines."""
    out = []
    for ln in path.read_text(encoding="utf-8", errors="replace").splitlines():
        ln = ln.strip()
        if not ln or ln.startswith("#"):
            continue
        scene, sep, text = ln.partition("|")
        out.append((scene.strip(), text.strip()) if sep else ("", ln))
    return out


def pick_scene(explicit: str) -> Path:
    """--scene, else the first scene demo_queries.txt names, else config/demo_scene.json."""
    if explicit:
        return Path(explicit)
    if QUERIES_FILE.is_file():
        for scene, _ in read_queries(QUERIES_FILE):
            if scene and (QUERIES_FILE.parent / scene).is_file():
                return QUERIES_FILE.parent / scene
    return FALLBACK_SCENE


def pick_queries(explicit: str, scene_path: Path, limit: int, class_aware: bool) -> tuple[list[str], str]:
    """(instructions, where they came from). demo_queries.txt names object categories,
    which only a class-aware (learned) segmenter can perceive; a class-agnostic map gets
    the built-in colour / size / layout instructions."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            die(f"queries file not found: {explicit}")
        qs = [t for sc, t in read_queries(path) if not sc or sc == scene_path.name]
        return qs[:limit], str(path)
    if class_aware and QUERIES_FILE.is_file():
        qs = [t for sc, t in read_queries(QUERIES_FILE) if sc == scene_path.name]
        if qs:
            return qs[:limit], str(QUERIES_FILE)
    return BUILTIN_QUERIES[:limit], "built-in (class-agnostic perception: objects are known by colour, size, place)"


def pick_segmenter() -> str:
    try:
        from apeiria_model.perception.segmenters.learned import DEFAULT_ONNX
        return "learned" if Path(DEFAULT_ONNX).is_file() else "geometric"
    except Exception:
        return "geometric"


def best_gt_match(target, gt_scene):
    from apeiria_model.scene.geometry import box_iou

    best = max(gt_scene.objects, key=lambda o: box_iou(target.center, target.size, o.center, o.size), default=None)
    if best is None:
        return None, 0.0
    return best, box_iou(target.center, target.size, best.center, best.size)


def _oracle_summary(res) -> str:
    """One line: what the same reasoner answers on perfect perception (the oracle scene)."""
    if res.answer is not None:
        return f"{res.status}: {res.answer}"
    if res.targets:
        return f"{res.status}: " + ", ".join(f"object {t.id} ({t.label})" for t in res.targets)
    return f"{res.status}" + (f" ({res.message})" if res.message else "")


def run(args) -> int:
    from rich.console import Console
    from rich.panel import Panel

    from apeiria_model.scene.io import SceneValidationError, load_scene
    from apeiria_ros.env import default_domain_id, ros_environment

    console = Console()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    scene_path = pick_scene(args.scene)
    try:
        gt = load_scene(scene_path)
    except (OSError, SceneValidationError) as e:
        die(f"demo scene {scene_path}: {e}")
    segmenter = pick_segmenter()
    queries, source = pick_queries(args.queries, scene_path, max(1, args.max_queries), segmenter == "learned")
    domain = default_domain_id() if args.domain_id is None else args.domain_id
    env = ros_environment(domain, (out / "log" / "ros").resolve())
    import os

    os.environ.update({k: env[k] for k in ("FASTDDS_DEFAULT_PROFILES_FILE", "RMW_IMPLEMENTATION", "ROS_DOMAIN_ID",
                                            "ROS_HOME", "ROS_LOG_DIR")})
    map_file = (out / "map.json").resolve()
    map_file.unlink(missing_ok=True)  # the demo builds its map from scratch
    overrides = {"sim_node": {"scene_file": str(scene_path.resolve())},
                 "scene_builder_node": {"map_file": str(map_file), "segmenter": segmenter}}

    # SIGTERM -> KeyboardInterrupt, so the finally below stops every child.
    def _term(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _term)
    from apeiria_ros.commands.bringup import start_nodes

    console.print(f"[bold]apeiria demo[/]: scene [cyan]{gt.scene_id}[/] ({len(gt)} objects, {scene_path.name}), "
                  f"segmenter {segmenter}, ROS_DOMAIN_ID={domain}, DDS on loopback\ninstructions: {source}")
    t_start = time.monotonic()
    group = start_nodes(DEMO_CONFIG, env, out / "log", overrides)
    try:
        return _demo(console, Panel, group, gt, queries, out, args, t_start)
    except KeyboardInterrupt:
        console.print("interrupted: stopping the nodes")
        return 130
    finally:
        group.stop()


def _demo(console, Panel, group, gt, queries, out, args, t_start) -> int:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    from apeiria.msg import SceneMap
    from apeiria_model.perception.sim.topdown import draw_topdown
    from apeiria_ros.commands.ask import ask
    from apeiria_ros.conversions.result import msg_to_result
    from apeiria_ros.conversions.scene import msg_to_scene
    from apeiria_ros.qos import qos_profile

    ctx = rclpy.context.Context()
    rclpy.init(context=ctx, signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)
    node = rclpy.create_node("apeiria_demo", context=ctx)
    ex = SingleThreadedExecutor(context=ctx)
    ex.add_node(node)
    maps: list = []
    node.create_subscription(SceneMap, "/apeiria/scene_map", maps.append, qos_profile("latched"))
    try:
        # 1. wait for the map: one full camera loop, then until the object count settles
        from apeiria_ros.launching import load_bringup_config

        sim_cfg = load_bringup_config(DEMO_CONFIG)[1]["sim_node"]["ros__parameters"]
        n_poses, rate = int(sim_cfg.get("n_poses", 40)), float(sim_cfg.get("rate", 10.0))
        loop_s = n_poses / rate
        with console.status("building the object map from the simulated camera...") as status:
            t0, stable_since, last_n = time.monotonic(), None, -1
            while time.monotonic() - t0 < args.map_timeout:
                ex.spin_once(timeout_sec=0.1)
                dead = group.exited()
                if dead:
                    name, rc = next(iter(dead.items()))
                    console.print(f"[red]node {name} exited with status {rc}[/]\n{group.log_tail(name)}")
                    return 1
                n = len(maps[-1].objects) if maps else 0
                status.update(f"building the object map: {n} objects, {time.monotonic() - t0:.0f} s")
                if n != last_n:
                    stable_since, last_n = time.monotonic(), n
                if n and time.monotonic() - t0 >= loop_s and time.monotonic() - stable_since >= 1.5:
                    break
        if not maps or not maps[-1].objects:
            console.print(f"[red]no object map within {args.map_timeout:.0f} s[/]; scene builder log:\n"
                          f"{group.log_tail('scene_builder_node')}")
            return 1
        perceived = msg_to_scene(maps[-1])
        console.print(f"map: [bold]{len(perceived)}[/] objects perceived ({len(gt)} in the simulated scene) "
                      f"after {time.monotonic() - t_start:.1f} s")
        # 2. ask. The same instruction is also grounded in-process on the simulator's ground
        # truth, so a wrong or missing answer shows whether perception or reasoning failed.
        from apeiria_model.reasoning import load_reasoner

        oracle = load_reasoner("symbolic")
        results_path = out / "results.jsonl"
        answered = 0
        with results_path.open("w", encoding="utf-8") as rf:
            for i, q in enumerate(queries, 1):
                try:
                    msg = ask(q, timeout=30.0, context=ctx)
                except TimeoutError as e:
                    console.print(f"[red]{e}[/]")
                    return 1
                r = msg_to_result(msg)
                answered += 1
                rf.write(json.dumps(r.to_dict(), ensure_ascii=False) + "\n")
                lines = [f"[bold]status[/] {r.status}   [bold]reasoner[/] {r.reasoner}   {r.latency_ms:.1f} ms"
                         f"   verified: {r.verified}"]
                if r.program:
                    lines.append(f"[bold]program[/] {r.program}")
                if r.trace:
                    lines += ["", r.trace]
                for t in r.targets:
                    m, iou = best_gt_match(t, gt)
                    gt_txt = f" ~ simulated object {m.id} ({m.describe()}), IoU {iou:.2f}" if m is not None else ""
                    lines.append(f"[green]target {t.id}[/] {t.label} at ({', '.join(f'{v:.2f}' for v in t.center)})"
                                 f"{gt_txt}")
                if r.message:
                    lines.append(f"[yellow]note[/] {r.message}")
                lines.append(f"[cyan]on the simulator's ground truth[/] {_oracle_summary(oracle.ground(q, gt))}")
                png = out / f"demo_{i:02d}.png"
                draw_topdown(perceived, png, highlight_ids=r.target_ids, title=q, other_scene=gt,
                             labels=("perceived map", "simulated scene"))
                lines.append(f"picture: {png}")
                console.print(Panel("\n".join(lines), title=f"[{i}/{len(queries)}] {q}", expand=False))
        console.print(f"done in {time.monotonic() - t_start:.1f} s: {answered} instructions answered; "
                      f"results in {results_path}, pictures in {out}/")
        return 0
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=ctx)
