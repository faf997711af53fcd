"""The domain model of preferences and the stores that keep them.

- ``models``: visual attributes, profiles, versions (pydantic); ``text``: the one check of
  stored text and numbers; ``errors``: the layer's typed errors.
- ``merge_key`` + ``merging``: how spellings of one attribute merge, as pure functions.
- ``store``: ``PreferenceStore``, attributes and aesthetic embeddings in chromadb.
- ``database``: the relational database (SQLAlchemy); ``versions``: the profile history in it;
  ``accounts``: users and hashed API tokens.
- ``blobs``: blobs (generated PNGs) by key; ``styles`` + ``style_blobs``: learned style tokens
  and the check of their stored vectors.
- ``transfer``: export/import as versioned JSON.
- ``embeddings``, ``categories``: the text embedder and the category guess built on it.
"""
