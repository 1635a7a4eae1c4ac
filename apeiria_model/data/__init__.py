"""Datasets: records (``schema``), external loaders (``loaders``) and the synthetic
generator.

Generator modules, one job each: ``categories`` (object categories, sizes, synonyms),
``rooms`` (procedural rooms), ``scene_context`` (per-scene executor cache + relation
tables), ``program_sampler`` (gold programs), ``templates`` + ``wording`` (instructions,
train / held-out phrasing), ``perception_tasks`` (stage-1 records), ``generator``
(``generate_dataset``: JSON Lines + manifest), ``demo_assets`` (shipped demo scenes).
Nothing is imported here so that ``import apeiria_model.data.schema`` stays cheap.
"""
