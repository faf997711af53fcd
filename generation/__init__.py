"""Personalized generation: a person's profile steers Stable Diffusion 1.x / SDXL.

Modules, one job each (nothing is loaded at import time):
- ``request`` + ``settings``: the typed, bounds-checked request; ``errors``: typed errors.
- ``render``: the one way to run a request (profile in, PNGs out); ``batched``: several
  people's requests denoised in one UNet batch.
- ``loading``: pipelines and CLIP models from a hub id, folder, single file or ``tiny``.
- ``hub``: hub ids and the local cache; a download only when asked (``models pull``).
- ``tiny``: seeded tiny random SD 1.x / SDXL / CLIP built from configs (tests, demo).
- ``plan`` + ``conflicts``: which liked/disliked attributes condition a prompt, and why (pure).
- ``encoding``: text encoding as the pipelines do it, with optional weight overrides;
  ``tokenizing``: tokenizer calls safe from several threads.
- ``clip``: the CLIP model matching the text encoder; ``aesthetic``: the aesthetic embedding and
  the A1111 ``.pt`` format; ``aesthetic_gradients``: per-prompt tuning without touching the
  shared encoder.
- ``guidance``: ViPer's extra-UNet-pass mode; per-request pipeline views.
- ``palp``, ``palp_adapters``, ``palp_run``: PALP adapters, trained per prompt and cached.
- ``style_token``, ``style_training``, ``style_inject``, ``style_library``, ``style_formats``:
  learned style tokens (textual inversion), used per call, imported and exported.
- ``generator``: ``PersonalizedGenerator``; ``cache``: LRU caches; ``reaction_images``: the
  picture behind an image reaction.
- ``samplers``: A1111's sampler names as diffusers schedulers.
- ``scoring``: the CLIP proxy preference score; ``png``: PNGs that record their provenance;
  ``model_identity``: the model's hash or revision and the style tokens' hashes for them;
  ``infotext``: a request read back from a tastemaker or A1111 PNG.
"""
