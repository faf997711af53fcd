"""How similar (MiniLM cosine) a feature and a quote must be for the quote to count as evidence
*about* the feature — measured on labelled pairs, not guessed.

    python bench/evidence_similarity.py
    python bench/evidence_similarity.py --limit 40   # a quick run (the test suite's)

Pairs come from the labelled comments in tests/data/ (every extraction set): each labelled
attribute with the sentence of its own comment that shares most words with it is a *related* pair;
the same attribute with every sentence of a different comment (shifted by one, so deterministic) is
an *unrelated* pair, as is each of the prompt's example phrases with each comment's first sentence
(what a small model echoing the examples produces). The script prints both distributions and the
lowest threshold that accepts no more than 1 % of unrelated pairs, with the share of related pairs
it accepts. Pairs that share a word are left out: the word check decides those already.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from agent.evaluation import load_labelled  # noqa: E402
from agent.guard import content_stems, sentences, shared_stems  # noqa: E402
from agent.llm_extractor import example_phrases  # noqa: E402


def pairs() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    # extraction sets only: tests/data also holds dialogue and conflict cases in other shapes
    sets = sorted((ROOT / "tests" / "data").glob("extraction_*.jsonl"))
    rows = [r for p in sets for r in load_labelled(p)]
    related: list[tuple[str, str]] = []
    unrelated: list[tuple[str, str]] = []
    for index, row in enumerate(rows):
        other = rows[(index + 1) % len(rows)]
        for label in (*row.liked, *row.disliked):
            stems = content_stems(label)
            own = max(
                sentences(row.comment), key=lambda s: len(shared_stems(stems, content_stems(s)))
            )
            related.append((label, own))
            unrelated.extend((label, s) for s in sentences(other.comment))
        unrelated.extend((e, sentences(row.comment)[0]) for e in example_phrases())
    return related, unrelated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--limit", type=int, help="only the first N pairs of each kind the word check leaves"
    )
    args = parser.parse_args()
    import torch

    from preference_store.embeddings import SentenceTransformerEmbedder, packaged_minilm_path

    torch.set_num_threads(1)
    embedder = SentenceTransformerEmbedder(packaged_minilm_path())
    related, unrelated = pairs()
    print(f"{len(related)} related pairs, {len(unrelated)} unrelated pairs (all, before filtering)")

    def cosines(items: list[tuple[str, str]]) -> np.ndarray:
        # only pairs the word check cannot decide
        kept = [(a, b) for a, b in items if not shared_stems(content_stems(a), content_stems(b))]
        kept = kept[: args.limit] if args.limit else kept
        if not kept:
            return np.zeros(0, dtype=np.float32)
        left = np.asarray(embedder.embed([a for a, _ in kept]))
        right = np.asarray(embedder.embed([b for _, b in kept]))
        return np.sum(left * right, axis=1)

    pos, neg = cosines(related), cosines(unrelated)
    print(f"without a shared word: {len(pos)} related, {len(neg)} unrelated")
    for name, values in (("related", pos), ("unrelated", neg)):
        q = np.percentile(values, [5, 25, 50, 75, 95]) if len(values) else []
        print(f"  {name:<10} cosine p5/p25/p50/p75/p95: " + " ".join(f"{v:.2f}" for v in q))
    threshold = float(np.percentile(neg, 99)) if len(neg) else 1.0
    accepted = float(np.mean(pos >= threshold)) if len(pos) else 0.0
    print(
        f"threshold (99th percentile of unrelated): {threshold:.2f}; "
        f"accepts {accepted:.0%} of related pairs the word check missed"
    )


if __name__ == "__main__":
    main()
