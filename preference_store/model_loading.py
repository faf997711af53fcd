"""One model load at a time per process.

diffusers and transformers (sentence-transformers too) create weights on the meta device inside
a context that patches torch for the whole process, so a model built or loaded in another thread
at that moment gets meta tensors ("Cannot copy out of meta tensor"). Seen when the service
loaded MiniLM or CLIP in a request thread while its worker loaded the pipeline. Every loader
takes this lock; it lives here, at the bottom of the layers, so all of them can.
"""

from __future__ import annotations

import threading

LOADING = threading.RLock()
"""Held while a model loads; re-entrant (loading a pipeline loads its CLIP too)."""
