"""The machinery behind :mod:`vidseg.datasets.synthetic_videos` (import the public names from there).

- ``spec``: :class:`VideoSpec`, the shape, texture and background kinds, shared array aliases;
- ``appearance``: outlines, textures and colours of objects;
- ``backdrop``: the background canvas and the camera pan;
- ``bodies``: the per-object record filled in during generation, and what is drawn once per object;
- ``motion``: placement and trajectories (crossings, bounces, leaving the view);
- ``render``: rasterising, labels and depth order, painting and camera effects.
"""
