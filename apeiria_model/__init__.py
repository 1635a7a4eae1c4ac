"""apeiria_model: the pure-Python core of apeiria (no ROS imports).

scene/       object-centric scenes, Scene JSON v1
programs/    the program DSL, relations, executor, traces
language/    instruction -> program parsing, open-vocabulary concepts
reasoning/   reasoners (symbolic, neural, hybrid) behind one interface
data/        synthetic scenes + instructions, dataset loaders
evaluation/  metrics compatible with ScanRefer / Multi3DRefer / ReferIt3D
model/       the APEIRIA neural model (object tokens + causal LM)
training/    the 3-stage curriculum
perception/  RGB-D simulation and the object-map pipeline
cli/         the `apeiria` command
"""

__version__ = "0.1.0"
