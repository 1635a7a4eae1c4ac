"""Simulated RGB-D sensor: category shapes, ray-cast renderer, trajectories, SDF worlds.

    from apeiria_model.perception.sim import SceneRenderer, sweep
    renderer = SceneRenderer(scene)                 # or SceneRenderer.from_sdf("world.sdf")
    frames = [renderer.render(p) for p in sweep(scene, 30, kind="orbit")]

Everything here is CPU-only (Open3D RaycastingScene) and deterministic. Top-down
pictures: ``apeiria_model.perception.sim.topdown.draw_topdown`` (imports matplotlib).
"""

from apeiria_model.perception.sim.camera import (backproject, check_pose, depth_to_points, look_at_pose,
                                                 project_points)
from apeiria_model.perception.sim.mesh import ObjectMesh
from apeiria_model.perception.sim.noise import SensorNoise
from apeiria_model.perception.sim.renderer import SceneRenderer
from apeiria_model.perception.sim.room import Room, infer_room
from apeiria_model.perception.sim.sdf import SdfError, load_sdf_world
from apeiria_model.perception.sim.shapes import object_mesh, shape_name
from apeiria_model.perception.sim.trajectory import orbit, sweep, walkthrough

__all__ = [
    "ObjectMesh", "Room", "SceneRenderer", "SdfError", "SensorNoise", "backproject", "check_pose", "depth_to_points",
    "infer_room", "load_sdf_world", "look_at_pose", "object_mesh", "orbit", "project_points", "shape_name", "sweep",
    "walkthrough",
]
