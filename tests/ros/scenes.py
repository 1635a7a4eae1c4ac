"""Small scenes for the ROS tests (answers known by construction)."""

from apeiria_model.scene import Scene, SceneObject
from tests.scenes import office  # noqa: F401 - re-exported for the ROS tests


def kitchen() -> Scene:
    objs = [
        SceneObject(10, "table", (0.0, 0.0, 0.4), (1.2, 0.8, 0.8), color="white"),
        SceneObject(11, "bowl", (0.2, 0.0, 0.85), (0.2, 0.2, 0.1), color="green"),
        SceneObject(12, "fridge", (2.0, 1.0, 0.9), (0.7, 0.7, 1.8), color="white"),
    ]
    return Scene("kitchen_test", tuple(objs))
