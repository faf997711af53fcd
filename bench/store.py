"""Store look-ups stay flat as users grow: 100 users, then 2,000 users, x 50 attributes each.

Measures p50/p95 of listing one user's profile and of a semantic search within one user, in one
run (the two stores side by side, alternating sample by sample), and prints
p95(2,000 users) / p95(100 users). Budget: ratio <= 1.5, p95 <= 20 ms at 2,000.

Attribute texts come from a fixed vocabulary whose embeddings are computed once by the real
MiniLM model (the fill would otherwise spend minutes re-embedding the same phrases); queries are
embedded for real on every search, as in the service.

    python bench/store.py [--users-small 100] [--users-large 2000] [--samples 300]
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import chromadb
import torch
from chromadb.config import Settings as ChromaSettings

from preference_store.database import create_schema, make_engine
from preference_store.embeddings import (
    SentenceTransformerEmbedder,
    TextEmbedder,
    packaged_minilm_path,
)
from preference_store.models import AttributeDraft, Category, Polarity
from preference_store.store import PreferenceStore

# fmt: off
ADJECTIVES = [
    "teal", "warm", "cold", "pastel", "vivid", "muted", "gritty", "smooth", "glossy", "soft",
    "harsh", "golden", "dark", "bright", "moody", "dreamy", "eerie", "calm", "chaotic",
    "minimal", "ornate", "grainy", "sharp", "hazy", "neon", "earthy",
]
# fmt: on
# fmt: off
NOUNS = [
    "palette", "light", "shadows", "texture", "composition", "brushwork", "tones", "glow",
    "contrast", "details", "background", "lines", "shapes", "atmosphere", "colours",
    "highlights",
]
# fmt: on
QUERIES = ["blue colours", "dramatic lighting", "clean layout", "rough surfaces", "calm mood"]


class MemoizedEmbedder:
    """Wraps the real embedder; each distinct text is embedded once."""

    def __init__(self, inner: TextEmbedder) -> None:
        self._inner = inner
        self._cache: dict[str, list[float]] = {}
        self.name = inner.name
        self.dimension = inner.dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        for text, vector in zip(missing, self._inner.embed(missing), strict=True):
            self._cache[text] = vector
        return [self._cache[t] for t in texts]


def fill(store: PreferenceStore, users: range, per_user: int, rng: random.Random) -> None:
    phrases = [f"{a} {n}" for a, n in itertools.product(ADJECTIVES, NOUNS)]
    categories = list(Category)
    for index in users:
        chosen = rng.sample(phrases, per_user)
        store.add(
            f"user{index:05d}",
            [
                AttributeDraft(
                    text=text,
                    category=rng.choice(categories),
                    polarity=rng.choice([Polarity.LIKE, Polarity.DISLIKE]),
                    strength=round(rng.random(), 2),
                )
                for text in chosen
            ],
            reason="bench",
        )


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return statistics.median(ordered), p95


def open_store(directory: Path, embedder: TextEmbedder) -> PreferenceStore:
    engine = make_engine(f"sqlite:///{directory / 'state.db'}")
    create_schema(engine)
    client = chromadb.PersistentClient(
        path=str(directory / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    return PreferenceStore(client, embedder, engine)


Operation = Callable[[PreferenceStore, str, int], object]


def measure_side_by_side(
    operation: Operation,
    stores: dict[int, PreferenceStore],
    samples: int,
    rng: random.Random,
) -> dict[int, tuple[float, float]]:
    """Alternate between the stores sample by sample, so load on the machine hits both alike."""
    timings: dict[int, list[float]] = {users: [] for users in stores}
    for i in range(samples):
        for users, store in stores.items():
            user = f"user{rng.randrange(users):05d}"
            start = time.perf_counter()
            operation(store, user, i)
            timings[users].append((time.perf_counter() - start) * 1000)
    return {users: percentiles(t) for users, t in timings.items()}


def list_profile(store: PreferenceStore, user: str, _i: int) -> object:
    return store.profile(user)


def search(store: PreferenceStore, user: str, i: int) -> object:
    return store.search(user, QUERIES[i % len(QUERIES)], limit=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users-small", type=int, default=100)
    parser.add_argument("--users-large", type=int, default=2000)
    parser.add_argument("--per-user", type=int, default=50)
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(1)
    small, large = args.users_small, args.users_large

    embedder = MemoizedEmbedder(SentenceTransformerEmbedder(packaged_minilm_path()))
    embedder.embed(QUERIES)  # warm the model
    with tempfile.TemporaryDirectory() as tmp:
        stores: dict[int, PreferenceStore] = {}
        for users in (small, large):
            stores[users] = open_store(Path(tmp) / f"u{users}", embedder)
            start = time.perf_counter()
            fill(stores[users], range(users), args.per_user, random.Random(users))
            print(
                f"filled {users} users x {args.per_user} attributes "
                f"in {time.perf_counter() - start:.1f} s",
                flush=True,
            )
        rng = random.Random(7)
        for operation in (list_profile, search):  # warm caches of both stores, untimed
            measure_side_by_side(operation, stores, 30, rng)
        results = {
            "list profile": measure_side_by_side(list_profile, stores, args.samples, rng),
            "search": measure_side_by_side(search, stores, args.samples, rng),
        }

    print(f"\n{'operation':<14}{'users':>7}{'p50 ms':>9}{'p95 ms':>9}")
    for operation, by_users in results.items():
        for users, (p50, p95) in by_users.items():
            print(f"{operation:<14}{users:>7}{p50:>9.2f}{p95:>9.2f}")
    print()
    failed = False
    for operation, by_users in results.items():
        ratio = by_users[large][1] / by_users[small][1]
        p95_large = by_users[large][1]
        within = ratio <= 1.5 and p95_large <= 20.0
        failed |= not within
        print(
            f"{operation}: p95 ratio {large}/{small} users = {ratio:.2f} (budget 1.5), "
            f"p95 at {large} = {p95_large:.2f} ms (budget 20) "
            f"{'OK' if within else 'OVER BUDGET'}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
