"""ROS 2 benchmarks (real DDS on loopback, nodes in their own processes):

1. instruction -> published GroundingResult latency (topic path, symbolic reasoner,
   50-object map): p50 / p95 end to end, next to the reasoner's own time;
2. sensor pipeline at 15 Hz 640x480 RGB-D into scene_builder_node (frames pre-rendered
   by the simulator, so the publisher holds 15 Hz whatever the renderer's speed):
   frames sent vs received vs processed vs dropped, queue depth, and the scene
   builder's RSS growth over the run (8 s when quick, 5 minutes otherwise);
3. flood accounting (``flood``): 10,000 instructions at 1 kHz on the topic and 500
   concurrent ``Ground`` service calls (1,000 / 100 when quick): how many got exactly
   one result, by status (served / busy), and how many none (the target: 0); then a
   soak of steady requests (5 minutes, 10 s when quick) with the grounding node's RSS
   sampled every second (the target: growth < 50 MB).
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from pathlib import Path

import numpy as np

LABELS = ["chair", "table", "mug", "lamp", "book", "plant", "sofa", "bed", "cabinet", "shelf", "monitor", "box",
          "bottle", "pillow", "clock", "window", "door", "trash can", "backpack", "laptop"]
COLORS = ["red", "white", "blue", "green", "black", "brown", "gray", "yellow"]


def _scene_50(seed: int = 0):
    from apeiria_model.scene import Scene, SceneObject

    rng = random.Random(seed)
    objs = []
    for i in range(50):
        s = (rng.uniform(0.2, 1.2), rng.uniform(0.2, 1.2), rng.uniform(0.2, 1.5))
        objs.append(SceneObject(i, rng.choice(LABELS), (rng.uniform(-5, 5), rng.uniform(-5, 5), s[2] / 2), s,
                                color=rng.choice(COLORS)))
    return Scene("bench_50", tuple(objs))


def _queries(n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    forms = ["the {c} {a}", "the {a} closest to the {b}", "the {a} next to the {b}", "the largest {a}",
             "the {c} {a} farthest from the {b}"]
    return [rng.choice(forms).format(a=rng.choice(LABELS), b=rng.choice(LABELS), c=rng.choice(COLORS))
            for _ in range(n)]


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _float(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _pct(xs, q):
    return round(float(np.percentile(xs, q)), 3) if len(xs) else None


def _setup(tmp: Path):
    from apeiria_ros.env import ros_environment

    env = ros_environment(domain_id=1 + (os.getpid() + 37) % 100, log_dir=tmp / "ros_log")
    os.environ.update({k: env[k] for k in ("FASTDDS_DEFAULT_PROFILES_FILE", "RMW_IMPLEMENTATION", "ROS_DOMAIN_ID",
                                            "ROS_HOME", "ROS_LOG_DIR")})
    import rclpy
    from rclpy.executors import MultiThreadedExecutor

    ctx = rclpy.context.Context()
    rclpy.init(context=ctx, signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)
    node = rclpy.create_node("apeiria_bench", context=ctx)
    ex = MultiThreadedExecutor(num_threads=2, context=ctx)
    ex.add_node(node)
    import threading

    th = threading.Thread(target=lambda: _spin(ex), daemon=True)
    th.start()
    return env, rclpy, ctx, node, ex, th


def _spin(ex):
    try:
        ex.spin()
    except Exception:
        pass


def _wait(pred, timeout, what):
    t = time.monotonic()
    while time.monotonic() - t < timeout:
        v = pred()
        if v:
            return v
        time.sleep(0.01)
    raise RuntimeError(f"timed out waiting for {what}")


def bench_latency(env, node, tmp: Path, n: int) -> dict:
    from std_msgs.msg import String

    from apeiria.msg import GroundingResult
    from apeiria_model.scene.io import save_scene
    from apeiria_ros.launching import NodeSpec, ProcessGroup
    from apeiria_ros.qos import qos_profile

    save_scene(_scene_50(), tmp / "scene50.json")
    # Requests go one at a time, so the next result for an instruction is its answer.
    arrivals: dict[str, tuple[float, float, str]] = {}
    node.create_subscription(GroundingResult, "/apeiria/grounding_result",
                             lambda m: arrivals.setdefault(m.instruction, (time.perf_counter(), m.latency_ms, m.status)),
                             qos_profile("reliable", 1000))
    pub = node.create_publisher(String, "/apeiria/instruction", qos_profile("reliable", 100))
    with ProcessGroup(env, tmp / "latency") as g:
        g.start(NodeSpec("grounding_node", params={"scene_file": str(tmp / "scene50.json"), "queue_size": 64}))
        _wait(lambda: pub.get_subscription_count() >= 1 and node.count_publishers("/apeiria/grounding_result") >= 1,
              60, "grounding node")
        # warm-up request, then wait for the node's reasoner preload to finish
        pub.publish(String(data="the chair"))
        _wait(lambda: "the chair" in arrivals, 120, "warm-up result")
        e2e, reasoner_ms, statuses = [], [], {}
        for q in _queries(n):
            arrivals.pop(q, None)
            t0 = time.perf_counter()
            pub.publish(String(data=q))  # one at a time: latency, not throughput
            t1, lat, st = _wait(lambda q=q: arrivals.get(q), 60, "result")
            e2e.append((t1 - t0) * 1000.0)
            reasoner_ms.append(lat)
            statuses[st] = statuses.get(st, 0) + 1
    return {"queries": n, "objects": 50, "e2e_p50_ms": _pct(e2e, 50), "e2e_p95_ms": _pct(e2e, 95),
            "e2e_max_ms": round(max(e2e), 3), "reasoner_p50_ms": _pct(reasoner_ms, 50),
            "reasoner_p95_ms": _pct(reasoner_ms, 95), "statuses": statuses}


def bench_flood(env, node, tmp: Path, n_topic: int, n_service: int, soak_s: float, rate_hz: float = 1000.0) -> dict:
    from std_msgs.msg import String

    from apeiria.msg import GroundingResult
    from apeiria.srv import Ground
    from apeiria_model.scene.io import save_scene
    from apeiria_ros.launching import NodeSpec, ProcessGroup
    from apeiria_ros.qos import qos_profile

    save_scene(_scene_50(), tmp / "scene50.json")
    results: list = []
    keep_all = qos_profile("reliable", 0)
    node.create_subscription(GroundingResult, "/flood/result", results.append, keep_all)
    pub = node.create_publisher(String, "/flood/instruction", keep_all)
    cli = node.create_client(Ground, "/flood/ground", qos_profile=keep_all)
    params = {"scene_file": str(tmp / "scene50.json"), "instruction_topic": "/flood/instruction",
              "result_topic": "/flood/result", "service_name": "/flood/ground"}
    queries = _queries(200, seed=3)
    with ProcessGroup(env, tmp / "flood") as g:
        gn = g.start(NodeSpec("grounding_node", params=params))
        _wait(lambda: pub.get_subscription_count() >= 1 and node.count_publishers("/flood/result") >= 1
              and cli.service_is_ready(), 90, "grounding node")
        pub.publish(String(data="the chair"))
        _wait(lambda: results, 120, "warm-up result")
        results.clear()
        rss0 = _rss_mb(gn.pid)
        # topic: paced at rate_hz
        t0 = time.monotonic()
        for i in range(n_topic):
            pub.publish(String(data=f"{queries[i % len(queries)]} #{i}"))
            time.sleep(max(0.0, t0 + (i + 1) / rate_hz - time.monotonic()))
        send_s = time.monotonic() - t0
        want = n_topic
        try:
            _wait(lambda: len(results) >= want, 600, "flood results")
        except RuntimeError:
            pass
        time.sleep(1.0)  # anything extra (a duplicate) would show up here
        topic = list(results)
        ids = [m.request_id for m in topic]
        by_status: dict[str, int] = {}
        for m in topic:
            by_status[m.status] = by_status.get(m.status, 0) + 1
        topic_out = {"sent": n_topic, "rate_hz": round(n_topic / send_s, 1), "results": len(topic),
                     "distinct_request_ids": len(set(ids)), "unaccounted": n_topic - len(set(ids)),
                     "duplicates": len(ids) - len(set(ids)), "by_status": by_status}
        # service: every call at once
        futures = [cli.call_async(Ground.Request(instruction=f"{queries[i % len(queries)]} %{i}"))
                   for i in range(n_service)]
        t1 = time.monotonic()
        try:
            _wait(lambda: all(f.done() for f in futures), 600, "service responses")
        except RuntimeError:
            pass
        svc = [f.result().result for f in futures if f.done() and f.result() is not None]
        svc_status: dict[str, int] = {}
        for r in svc:
            svc_status[r.status] = svc_status.get(r.status, 0) + 1
        service_out = {"calls": n_service, "answered": len(svc), "unanswered": n_service - len(svc),
                       "answer_s": round(time.monotonic() - t1, 2), "by_status": svc_status}
        # soak: steady requests, RSS sampled every second
        results.clear()
        rss = [_rss_mb(gn.pid)]
        t2, k, next_sample = time.monotonic(), 0, time.monotonic() + 1.0
        while time.monotonic() - t2 < soak_s:
            pub.publish(String(data=f"{queries[k % len(queries)]} @{k}"))
            k += 1
            if time.monotonic() >= next_sample:
                rss.append(_rss_mb(gn.pid))
                next_sample += 1.0
            time.sleep(0.005)
        try:
            _wait(lambda: len(results) >= k, 300, "soak results")
        except RuntimeError:
            pass
        soak_out = {"duration_s": round(time.monotonic() - t2, 1), "requests": k, "results": len(results),
                    "unaccounted": k - len({m.request_id for m in results}),
                    "rss_before_flood_mb": round(rss0, 1), "rss_start_mb": round(rss[0], 1),
                    "rss_end_mb": round(rss[-1], 1), "rss_max_mb": round(max(rss), 1),
                    "rss_growth_mb": round(rss[-1] - rss[0], 1),
                    "rss_trace_mb": [round(x, 1) for x in rss[::30]]}
    cli.destroy()
    return {"topic": topic_out, "service": service_out, "soak": soak_out}


def _prerendered(n: int):
    """n orbit frames of the demo scene as (color, depth, info, pose) messages, rendered
    once up front so the publisher can hold 15 Hz whatever the renderer's speed."""
    from geometry_msgs.msg import PoseStamped

    from apeiria_model.perception.frame import CameraIntrinsics
    from apeiria_model.perception.sim import SceneRenderer, sweep
    from apeiria_model.scene.io import load_scene
    from apeiria_ros.conversions.camera import intrinsics_to_camera_info
    from apeiria_ros.conversions.geometry import matrix_to_pose
    from apeiria_ros.conversions.image import depth_to_image, numpy_to_image
    from apeiria_ros.env import REPO_ROOT

    scene = load_scene(REPO_ROOT / "config" / "demo_scene.json")
    intr = CameraIntrinsics.from_fov(640, 480)
    r = SceneRenderer(scene, intr)
    out = []
    for pose in sweep(scene, n):
        f = r.render(pose)
        ps = PoseStamped()
        ps.header.frame_id = "map"
        ps.pose = matrix_to_pose(pose)
        out.append((numpy_to_image(f.color, "rgb8"), depth_to_image(f.depth, "16UC1"),
                    intrinsics_to_camera_info(intr), ps))
    return out


def bench_sensor(env, node, tmp: Path, duration: float, rate: float = 15.0, n_frames: int = 30) -> dict:
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import PoseStamped
    from sensor_msgs.msg import CameraInfo, Image

    from apeiria_ros.launching import NodeSpec, ProcessGroup
    from apeiria_ros.qos import qos_profile

    frames = _prerendered(n_frames)
    diags: list = []
    node.create_subscription(DiagnosticArray, "/diagnostics", diags.append, qos_profile("reliable", 100))
    q = qos_profile("reliable", 5)
    pubs = [node.create_publisher(Image, "/camera/image", q), node.create_publisher(Image, "/camera/depth_image", q),
            node.create_publisher(CameraInfo, "/camera/camera_info", q),
            node.create_publisher(PoseStamped, "/camera/pose", qos_profile("reliable", 50))]

    def counters():
        for a in reversed(diags):
            for s in a.status:
                if s.name.endswith("scene_builder_node"):
                    return {kv.key: kv.value for kv in s.values}
        return {}

    with ProcessGroup(env, tmp / "sensor") as g:
        sb = g.start(NodeSpec("scene_builder_node", params={"map_file": str(tmp / "map.json"), "queue_size": 4}))
        _wait(lambda: counters() and all(p.get_subscription_count() for p in pubs), 60, "scene builder")
        c0 = counters()
        t0 = time.monotonic()
        rss = [_rss_mb(sb.pid)]
        depth_max, sent, k = 0, 0, 0
        next_t, next_sample = t0, t0 + 1.0
        while time.monotonic() - t0 < duration:
            color, depth, info, pose = frames[k % len(frames)]
            stamp = node.get_clock().now().to_msg()
            for m in (color, depth, info):
                m.header.stamp, m.header.frame_id = stamp, "camera_color_optical_frame"
            pose.header.stamp = stamp
            pubs[3].publish(pose)
            pubs[2].publish(info)
            pubs[1].publish(depth)
            pubs[0].publish(color)
            sent += 1
            k += 1
            if time.monotonic() >= next_sample:
                rss.append(_rss_mb(sb.pid))
                depth_max = max(depth_max, int(counters().get("queue_depth", 0)))
                next_sample += 1.0
            next_t += 1.0 / rate
            time.sleep(max(0.0, next_t - time.monotonic()))
        elapsed = time.monotonic() - t0
        time.sleep(2.5)  # let the last frames and a heartbeat through
        c1 = counters()

    def d(key):
        return int(c1.get(key, 0)) - int(c0.get(key, 0))

    received, processed, dropped = d("color_received"), d("frames_processed"), d("frames_dropped")
    half = len(rss) // 2
    return {"duration_s": round(elapsed, 1), "target_rate_hz": rate, "resolution": "640x480 rgb8 + 16UC1",
            "sent_hz": round(sent / elapsed, 2), "received_hz": round(received / elapsed, 2),
            "processed_hz": round(processed / elapsed, 2), "frames_sent": sent,
            "frames_received": received, "frames_processed": processed, "frames_dropped": dropped,
            "frames_rejected": d("frames_rejected"),
            "processed_fraction": round(processed / received, 3) if received else None,
            "max_queue_depth": depth_max, "queue_size": 4,
            "rss_start_mb": round(rss[0], 1), "rss_end_mb": round(rss[-1], 1),
            "rss_growth_second_half_mb": round(rss[-1] - rss[half], 1),
            # every 30 s: growth that levels off (allocator warm-up) vs a leak that keeps going
            "rss_trace_mb": [round(x, 1) for x in rss[::30]],
            "perception_ms_p50_last_20s": _float(c1.get("perception_ms_p50")),
            "perception_ms_p95_last_20s": _float(c1.get("perception_ms_p95")),
            "map_objects": int(c1.get("map_objects", 0)), "last_problem": c1.get("last_problem", "")}


def run(quick: bool = False) -> dict:
    with tempfile.TemporaryDirectory(prefix="apeiria_bench_ros_") as d:
        tmp = Path(d)
        env, rclpy, ctx, node, ex, th = _setup(tmp)
        try:
            latency = bench_latency(env, node, tmp, 10 if quick else 100)
            sensor = bench_sensor(env, node, tmp, 8.0 if quick else 300.0, n_frames=10 if quick else 30)
            flood = bench_flood(env, node, tmp, 1000 if quick else 10000, 100 if quick else 500,
                                10.0 if quick else 300.0)
        finally:
            rclpy.try_shutdown(context=ctx)
            ex.shutdown(timeout_sec=2)
            th.join(5)
    return {"grounding_latency": latency, "sensor_pipeline": sensor, "flood": flood,
            "note": "2-core machine shared with other work; sim and perception compete for the same cores"}


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
