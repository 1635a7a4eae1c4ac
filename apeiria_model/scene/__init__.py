"""Object-centric scenes and Scene JSON v1 (see docs/scene-format.md)."""

from apeiria_model.scene.geometry import box_gap, box_iou, ground_overlap_area, pairwise_iou
from apeiria_model.scene.io import (
    SceneValidationError,
    load_scene,
    loads_scene,
    object_to_dict,
    save_scene,
    scene_from_dict,
    scene_to_dict,
    validate_scene,
)
from apeiria_model.scene.model import Scene, SceneObject, Viewpoint

__all__ = [
    "Scene", "SceneObject", "Viewpoint", "SceneValidationError", "load_scene", "loads_scene",
    "save_scene", "scene_from_dict", "scene_to_dict", "object_to_dict", "box_iou", "pairwise_iou",
    "box_gap", "ground_overlap_area", "validate_scene",
]
