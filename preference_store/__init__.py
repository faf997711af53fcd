"""The domain model of preferences and the stores that keep them.

- ``models``: visual attributes, profiles, versions (pydantic).
- ``store``: ``PreferenceStore``, attributes and aesthetic embeddings in chromadb.
- ``versions``: the profile history, in the relational database.
- ``accounts``: users and hashed API tokens, in the relational database.
- ``transfer``: export/import as versioned JSON.
- ``embeddings``, ``categories``: the text embedder and the category guess built on it.
"""
