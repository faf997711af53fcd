"""A scripted "model" on the loopback server, to measure the LLM extractor's checks on real
labelled comments (``bench/llm_extraction.py --simulate``): it answers with the labels, the labels
with flipped polarities, or the labels plus echoed prompt examples with unrelated quotes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agent.evaluation import Labelled, load_labelled
from agent.extraction import clean_comment
from agent.guard import content_stems, sentences, shared_stems, strip_instructions
from api.settings import Settings
from tests.doubles.llm_server import LoopbackLLMServer, RecordedRequest, Reply

ECHOES = ("neon reflections on water", "thick fog")


def _evidence(label: str, comment: str) -> str:
    """The sentence that shares most words with the label (what a good model would quote)."""
    stems = content_stems(label)
    return max(
        sentences(comment) or [comment], key=lambda s: len(shared_stems(stems, content_stems(s)))
    )


def answer(row: Labelled, kind: str) -> dict[str, Any]:
    def features(labels: tuple[str, ...]) -> list[dict[str, Any]]:
        return [
            {"text": t, "category": "other", "strength": 0.7, "evidence": _evidence(t, row.comment)}
            for t in labels
        ]

    liked, disliked = features(row.liked), features(row.disliked)
    if kind == "flip":
        liked, disliked = disliked, liked
    if kind == "echo":
        first = (sentences(row.comment) or [row.comment])[0]
        liked = [
            *liked,
            *({"text": e, "category": "mood", "strength": 0.7, "evidence": first} for e in ECHOES),
        ]
    return {"liked": liked, "disliked": disliked}


@contextmanager
def simulated_settings(settings: Settings, kind: str, paths: list[Path]) -> Iterator[Settings]:
    """Settings pointing at a loopback server that answers every labelled comment."""
    by_text = {}
    for path in paths:
        for row in load_labelled(path):
            seen = strip_instructions(clean_comment(row.comment)).text
            by_text[json.dumps(seen, ensure_ascii=False)] = row

    def responder(request: RecordedRequest) -> Reply:
        text = request.last_user_text
        row = next((r for key, r in by_text.items() if key in text), None)
        if row is None:
            return Reply.structured({"liked": [], "disliked": []})
        return Reply.structured(answer(row, kind))

    with LoopbackLLMServer() as server:
        server.responder = responder
        yield settings.model_copy(
            update={"llm_base_url": server.base_url, "llm_model": "loopback-model"}
        )
