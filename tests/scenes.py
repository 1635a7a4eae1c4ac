"""Small hand-built scenes whose answers are known by construction (shared by all tests)."""

from apeiria_model.scene import Scene, SceneObject, Viewpoint


def office() -> Scene:
    """A desk against the north wall, a mug and a lamp on it, two chairs, a window."""
    objs = [
        SceneObject(0, "desk", (0.0, 1.5, 0.375), (1.4, 0.7, 0.75), color="brown"),
        SceneObject(1, "mug", (-0.4, 1.5, 0.80), (0.08, 0.08, 0.10), color="red"),
        SceneObject(2, "mug", (0.45, 1.45, 0.80), (0.08, 0.08, 0.10), color="white"),
        SceneObject(3, "lamp", (0.5, 1.7, 1.0), (0.2, 0.2, 0.5), color="black"),
        SceneObject(4, "chair", (-0.3, 0.8, 0.45), (0.5, 0.5, 0.9), color="black", front=(0.0, 1.0, 0.0)),
        SceneObject(5, "chair", (1.8, 0.5, 0.45), (0.5, 0.5, 0.9), color="blue", front=(-1.0, 0.0, 0.0)),
        SceneObject(6, "window", (1.2, 1.95, 1.4), (1.0, 0.1, 1.2)),
    ]
    return Scene("office_test", tuple(objs), viewpoint=Viewpoint((0.0, -2.0, 1.6), (0.0, 1.0, 1.0)))
