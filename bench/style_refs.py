"""What style references cost: generation with 4 references vs none, at the same settings.

SD 1.5's architecture with random weights (``build_sd15_shapes`` from ``bench/generation.py``)
and an IP-Adapter of ``ip-adapter_sd15``'s shapes (random, seeded: 1024-d image embeddings, 4
image tokens of 768) loaded with diffusers' ``load_ip_adapter``; the image encoder has ViT-H/14's
shapes (``CLIPVisionModelWithProjection``, 224 px, 1024-d projection) unless ``--small-encoder``.
One torch thread, CPU time of this process. Variants alternate round by round; the fastest
round of each is kept.

Printed side by side: the denoising loop per step with none / 4 references in ``style`` mode
(InstantStyle: one block) and in ``full`` mode (every cross-attention layer), their ratios (goal
≤ 1.05× at 30 steps; with fewer ``--steps`` the 30-step figure is projected from the per-step
and one-off costs), and the one-off costs apart: encoding 4 new reference images, and
preparing the request's image tokens (the embeddings themselves are cached by content).

    python bench/style_refs.py                         # SD 1.5 shapes, 128 px, 30 steps
    python bench/style_refs.py --side 64 --steps 10    # what a busy 2-core machine can afford
    python bench/style_refs.py --side 64 --steps 2 --rounds 1 --small-encoder
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import torch  # noqa: E402
from PIL import Image  # noqa: E402
from transformers import (  # noqa: E402
    CLIPImageProcessor,
    CLIPVisionConfig,
    CLIPVisionModelWithProjection,
)

from generation.batched import BatchItem, generate_batch  # noqa: E402
from generation.generator import PersonalizedGenerator  # noqa: E402
from generation.ip_adapter import attach_ip_adapter  # noqa: E402
from generation.settings import GenerationSettings, StyleRefMode  # noqa: E402
from generation.style_refs import ReferenceEmbedder  # noqa: E402
from generation.tiny_ip_adapter import tiny_ip_adapter_state_dict  # noqa: E402
from preference_store.models import Profile  # noqa: E402

VIT_H = {  # the image encoder of h94/IP-Adapter models/image_encoder (OpenCLIP ViT-H/14)
    "hidden_size": 1280,
    "intermediate_size": 5120,
    "num_attention_heads": 16,
    "num_hidden_layers": 32,
    "image_size": 224,
    "patch_size": 14,
    "projection_dim": 1024,
    "hidden_act": "gelu",
}
SMALL = {**VIT_H, "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4}
SMALL["num_hidden_layers"] = 2


def _bench_generation() -> object:
    spec = importlib.util.spec_from_file_location("bench_generation", _HERE / "generation.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cpu_seconds(fn: Callable[[], object]) -> float:
    started = time.process_time()
    fn()
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--side", type=int, default=128)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--small-encoder", action="store_true", help="a 2-layer image encoder")
    args = parser.parse_args()
    torch.set_num_threads(1)

    module = _bench_generation()
    pipe, _clip, built_s = module.build_sd15_shapes()  # type: ignore[attr-defined]
    torch.manual_seed(1)
    config = SMALL if args.small_encoder else VIT_H
    encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(**config)).eval()
    encoder.requires_grad_(False)
    side = int(config["image_size"])
    pipe.register_modules(
        image_encoder=encoder, feature_extractor=CLIPImageProcessor(size=side, crop_size=side)
    )
    state = tiny_ip_adapter_state_dict(pipe.unet, image_embed_dim=int(config["projection_dim"]))
    adapter = attach_ip_adapter(pipe, state, name="sd15-shapes-ip-adapter")
    generator = PersonalizedGenerator(pipe, model_name="sd15-shapes", style_adapter=adapter)
    print(
        f"SD 1.5 shapes + ip-adapter_sd15 shapes, random weights (built in {built_s:.1f} s); "
        f"image encoder {'2-layer' if args.small_encoder else 'ViT-H/14'}; "
        f"{args.side}x{args.side}, {args.steps} steps, one thread"
    )

    images = [Image.new("RGB", (512, 512), (40 * i, 255 - 40 * i, 90)) for i in range(4)]
    named = []
    for i, image in enumerate(images):
        path = Path(f"/tmp/style-ref-bench-{os.getpid()}-{i}.png")
        image.save(path)
        named.append((path.name, path.read_bytes()))
        path.unlink()

    def encode() -> None:  # a fresh embedder: every reference is new to it
        ReferenceEmbedder(adapter).request_set(named)

    references = ReferenceEmbedder(adapter).request_set(named)
    profile = Profile(user_id="bench", version=1)
    settings = GenerationSettings(
        steps=args.steps, width=args.side, height=args.side, aesthetic_steps=0, seed=1
    )

    def run(
        refs: bool, mode: StyleRefMode = StyleRefMode.STYLE, steps: int = args.steps
    ) -> Callable[[], None]:
        item = BatchItem(
            "a lighthouse at dusk",
            profile,
            settings.updated(style_ref_mode=mode, steps=steps),
            references=references if refs else None,
        )
        return lambda: generate_batch(generator, [item], output_type="latent")

    variants = {
        "none": run(False),
        "4 refs, style": run(True),
        "4 refs, full": run(True, StyleRefMode.FULL),
    }
    for refs, mode in ((False, StyleRefMode.STYLE), (True, StyleRefMode.FULL)):
        run(refs, mode, steps=1)()  # warm: conditioning cached, allocator primed
    times: dict[str, list[float]] = {name: [] for name in variants}
    encodes: list[float] = []
    for _ in range(args.rounds):
        for name, fn in variants.items():
            times[name].append(cpu_seconds(fn))
        encodes.append(cpu_seconds(encode))
    best = {name: min(values) for name, values in times.items()}
    tokens = cpu_seconds(lambda: adapter.tokens(references.embedding))
    base = best["none"]
    for name, seconds in best.items():
        print(
            f"  {name:14s} {seconds:7.2f} cpu s  {seconds / args.steps * 1000:8.1f} ms/step  "
            f"{seconds / base:5.3f}x  (goal <= 1.05x)"
        )
    per_step = {name: seconds / args.steps for name, seconds in best.items()}
    for name in ("4 refs, style", "4 refs, full"):
        at_30 = (30 * per_step[name] + min(encodes)) / (30 * per_step["none"])
        print(f"  at 30 steps, {name} with 4 new references encoded: {at_30:5.3f}x")
    print(
        f"  one-off: encoding 4 new references {min(encodes):.2f} cpu s "
        f"({min(encodes) / base:.1%} of a generation without them); image tokens "
        f"{tokens * 1000:.2f} ms; a known reference (same bytes) is read from the cache"
    )


if __name__ == "__main__":
    main()
