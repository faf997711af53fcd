"""Images per second for 4 people's requests: one denoising batch vs one request at a time.

SD 1.5's architecture with random weights (``build_sd15_shapes`` from ``bench/generation.py``;
no hub), a small side (128 px: 16×16 latents), one torch thread, CPU time of this process (with
one pinned thread it is the work done, whatever else shares the cores). Each request has its own
profile, prompt and seed, in ``embeds`` mode; conditioning is warm in the cache for both
variants (it is the same per-request work either way), so the ratio is the denoising loop's.
Variants alternate round by round; the fastest round of each is kept.

Printed side by side: seconds and images per second, sequential vs batched, their ratio (goal
≥ 1.4×), and the gathering window's cost to a lone request (the wait, measured, over that
request's time; goal ≤ 5 %).

    python bench/batching.py                       # ~2–4 minutes on these machines
    python bench/batching.py --side 64 --steps 2 --rounds 1
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import torch  # noqa: E402

from generation.batched import BatchItem, generate_batch  # noqa: E402
from generation.generator import PersonalizedGenerator  # noqa: E402
from generation.result import GenerationResult  # noqa: E402
from generation.settings import GenerationSettings  # noqa: E402
from preference_store.models import Category, Polarity, Profile, VisualAttribute  # noqa: E402

PEOPLE = [
    ("a lighthouse on a cliff at dusk", "teal and gold palette", "harsh flash lighting"),
    ("a fox asleep in fresh snow", "soft diffuse light", "cluttered composition"),
    ("a quiet harbour at dawn", "pastel tones", "neon colours"),
    ("a reading room full of plants", "visible brush strokes", "glossy plastic texture"),
]


def _bench_generation() -> object:
    spec = importlib.util.spec_from_file_location("bench_generation", _HERE / "generation.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def profile(user: str, liked: str, disliked: str) -> Profile:
    rows = [(liked, Polarity.LIKE, Category.COLOR), (disliked, Polarity.DISLIKE, Category.STYLE)]
    return Profile(
        user_id=user,
        version=1,
        attributes=[
            VisualAttribute(user_id=user, text=t, polarity=p, category=c, strength=0.8)
            for t, p, c in rows
        ],
    )


def cpu_seconds(fn: Callable[[], object]) -> float:
    started = time.process_time()
    fn()
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--side", type=int, default=128)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--window-ms", type=float, default=50.0)
    args = parser.parse_args()
    torch.set_num_threads(1)

    module = _bench_generation()
    pipe, _clip, built_s = module.build_sd15_shapes()  # type: ignore[attr-defined]
    generator = PersonalizedGenerator(pipe, model_name="sd15-shapes")
    settings = GenerationSettings(
        steps=args.steps, width=args.side, height=args.side, aesthetic_steps=0
    )
    items = [
        BatchItem(prompt, profile(f"user{i}", liked, disliked), settings.updated(seed=i))
        for i, (prompt, liked, disliked) in enumerate(PEOPLE)
    ]
    print(
        f"SD 1.5 shapes, random weights (built in {built_s:.1f} s); {len(items)} requests, "
        f"{args.side}x{args.side}, {args.steps} steps, embeds mode, one thread"
    )

    def sequential() -> None:
        for item in items:
            generator(item.prompt, item.profile, settings=item.settings, output_type="latent")

    def batched() -> None:
        outcomes = generate_batch(generator, items, output_type="latent")
        assert all(isinstance(o, GenerationResult) for o in outcomes), outcomes

    def lone() -> None:
        item = items[0]
        generator(item.prompt, item.profile, settings=item.settings, output_type="latent")

    batched()  # warm: conditioning cached, allocator primed
    sequential()
    times: dict[str, list[float]] = {"sequential": [], "batched": [], "lone": []}
    variants = {"sequential": sequential, "batched": batched, "lone": lone}
    for _ in range(args.rounds):
        for name, fn in variants.items():
            times[name].append(cpu_seconds(fn))
    seq, bat, one = (min(times[k]) for k in ("sequential", "batched", "lone"))
    images = len(items)
    print(f"  sequential (4 batches of 1): {seq:7.2f} cpu s  {images / seq:6.3f} images/s")
    print(f"  batched    (1 batch of 4):   {bat:7.2f} cpu s  {images / bat:6.3f} images/s")
    print(f"  throughput ratio batched/sequential: {seq / bat:.2f}x  (goal >= 1.4x)")

    waits = []
    for _ in range(5):
        started = time.perf_counter()
        threading.Event().wait(args.window_ms / 1000)
        waits.append(time.perf_counter() - started)
    wait = min(waits)
    print(
        f"  gathering window {args.window_ms:.0f} ms (measured {wait * 1000:.1f} ms) on a lone "
        f"request of {one:.2f} cpu s: +{wait / one:.1%}  (goal <= 5 %)"
    )


if __name__ == "__main__":
    main()
