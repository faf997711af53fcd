"""Seconds per image for each sampler, side by side with DDIM's, and what a model hash costs.

SD 1.5's architecture with random weights (``build_sd15_shapes`` from ``bench/generation.py``;
no hub) or ``--tiny``, one torch thread, CPU time of this process; conditioning warm in the cache
(the same for every sampler), so each ratio is the denoising loop's. Samplers alternate round by
round; the fastest round of each is kept. DPM++ SDE evaluates the UNet about twice a step, so its
ratio is the one to expect near 2; the others should be within a few percent of DDIM.

The last line hashes a file of ``--hash-mb`` MB as a single-file checkpoint is hashed for the
PNG's ``Model hash`` (A1111's sha256), in MB/s: the once-per-process cost of a real checkpoint.

    python bench/samplers.py                          # ~3–6 minutes on these machines
    python bench/samplers.py --tiny --rounds 1 --hash-mb 64

Issue 28 (this 2-core machine shared with 4 other sessions, load average 9-10; one round, so
±10 % is noise): SD 1.5 shapes, 128 px, 8 steps, CPU s per image: DDIM 21.1, DPM++ 2M 1.01x,
DPM++ 2M Karras 0.97x, DPM++ SDE Karras 1.68x (15 UNet passes for 8 steps), Euler 0.94x,
Euler a 0.93x, UniPC 0.90x. Tiny, 64 px, 8 steps: SDE 2.78x (torchsde's Brownian tree costs
more than the tiny UNet). Model hash: 994 MB/s (a 2 GB checkpoint ≈ 2 s, once per process).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import torch  # noqa: E402

from generation.batched import BatchItem, generate_batch  # noqa: E402
from generation.generator import PersonalizedGenerator  # noqa: E402
from generation.model_identity import identify  # noqa: E402
from generation.samplers import Sampler  # noqa: E402
from generation.settings import GenerationSettings  # noqa: E402
from preference_store.models import Profile  # noqa: E402


def _pipeline(tiny: bool) -> object:
    if tiny:
        from generation.tiny import build_tiny_sd

        return build_tiny_sd()
    spec = importlib.util.spec_from_file_location("bench_generation", _HERE / "generation.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    pipeline, _clip, _seconds = module.build_sd15_shapes()
    return pipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--side", type=int, default=128)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--tiny", action="store_true", help="The tiny model instead of SD 1.5's.")
    parser.add_argument("--hash-mb", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(1)

    generator = PersonalizedGenerator(_pipeline(args.tiny), model_name="bench")  # type: ignore[arg-type]
    profile = Profile(user_id="bench", version=1, attributes=[])
    base = GenerationSettings(
        steps=args.steps, width=args.side, height=args.side, aesthetic_steps=0, seed=1
    )
    best: dict[Sampler, float] = {}
    for _round in range(args.rounds):
        for sampler in Sampler:
            item = BatchItem("a lighthouse at dusk", profile, base.updated(sampler=sampler))
            generate_batch(generator, [item], output_type="latent")  # warm the conditioning
            started = time.process_time()
            generate_batch(generator, [item], output_type="latent")
            seconds = time.process_time() - started
            best[sampler] = min(best.get(sampler, seconds), seconds)

    model = "tiny" if args.tiny else "SD 1.5 shapes"
    print(f"{model}, {args.side}px, {args.steps} steps, 1 thread, CPU s per image (best of rounds)")
    print(f"{'sampler':<18} {'seconds':>8} {'vs DDIM':>8}")
    for sampler, seconds in best.items():
        print(f"{sampler.value:<18} {seconds:8.3f} {seconds / best[Sampler.DDIM]:7.2f}x")

    with tempfile.TemporaryDirectory() as folder:
        checkpoint = Path(folder) / "model.safetensors"
        checkpoint.write_bytes(os.urandom(args.hash_mb * 1024 * 1024))
        started = time.perf_counter()
        identity = identify(str(checkpoint), None)
        seconds = time.perf_counter() - started
    print(
        f"Model hash of a {args.hash_mb} MB file: {seconds:.2f} s ({args.hash_mb / seconds:.0f} "
        f"MB/s; a 2 GB SD 1.5 checkpoint ≈ {2048 / (args.hash_mb / seconds):.0f} s once per "
        f"process), hash {identity.hash}"
    )


if __name__ == "__main__":
    main()
