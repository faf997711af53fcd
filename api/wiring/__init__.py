"""The composition root: settings in, ready objects out, for the CLI, the app and workers.

- ``services``: ``Components`` (engine, stores, embedder, blob store) and their openers.
- ``agent``: extractors, the gallery, follow-ups and the onboarding agent.
- ``generation``: the pipeline, its CLIP model, the generator and the scorer.
- ``jobs``: job kinds, rules, the progress bus and the engine that runs jobs.

Nothing is re-exported here: import the module you need (it keeps heavy imports lazy).
"""
