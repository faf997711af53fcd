"""Personalized generation: a person's profile steers Stable Diffusion 1.x / SDXL.

Modules, one job each (nothing is loaded at import time):
- ``settings``: bounds-checked request settings; ``errors``: typed errors.
- ``loading``: pipelines and CLIP models from a hub id, folder, single file or ``tiny``.
- ``tiny``: seeded tiny random SD 1.x / SDXL / CLIP built from configs (tests, demo).
- ``plan`` + ``conflicts``: which liked/disliked attributes condition a prompt, and why (pure).
- ``encoding``: text encoding as the pipelines do it, with optional weight overrides.
- ``aesthetic``: the aesthetic embedding and the A1111 ``.pt`` format.
- ``aesthetic_gradients``: per-prompt tuning without touching the shared encoder.
- ``guidance``: ViPer's extra-UNet-pass mode; per-request pipeline views.
- ``generator``: ``PersonalizedGenerator``, the one entry point; ``cache``: LRU caches.
- ``scoring``: the CLIP proxy preference score; ``png``: PNGs that record their provenance.
"""
