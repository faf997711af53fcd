"""What learning and using a style token costs, measured side by side in one run.

1. Seconds per textual-inversion step (``generation.style_training``) as a ratio to one UNet
   forward + backward at the same shapes (SD 1.5's real UNet, text encoder and VAE built from
   their configs with random weights; 128² images, i.e. 16² latents, batch 1; one thread). The
   backward of the baseline goes to the conditioning only, as in training (UNet frozen).
2. Peak resident memory of the process (weights included).
3. The steps the defaults take before the plateau stop (on the tiny pipeline: a random UNet's
   loss curve says little about a real one's; see docs/benchmarks.md).
4. FLOPs per training step at 512² (counted on the meta device, no compute) and the lower bound
   on GPU wall time they imply at an assumed effective throughput (an estimate, said so).
5. Generation with a token vs without: stage times (encode, denoise per step) interleaved, the
   fastest of each; cold (conditioning encoded afresh) and warm (re-roll, cached).

    python bench/style.py            # ~5 minutes on one CPU thread
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from diffusers import UNet2DConditionModel  # noqa: E402
from PIL import Image  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from generation.generator import PersonalizedGenerator  # noqa: E402
from generation.settings import GenerationSettings  # noqa: E402
from generation.style_token import StyleToken  # noqa: E402
from generation.style_training import (  # noqa: E402
    TrainingConfig,
    TrainingImage,
    train_style_token,
)
from generation.tiny import build_tiny_sd  # noqa: E402
from preference_store.models import Profile  # noqa: E402

ASSUMED_GPU_FLOPS = 350e12
"""Effective throughput assumed for the estimate: ~35% of an H100's 989 TFLOP/s dense bf16."""


def _sd15_bench_module():  # type: ignore[no-untyped-def]
    """bench/generation.py's SD 1.5 builders (a file, not a package: load it by path)."""
    spec = importlib.util.spec_from_file_location("bench_generation", _HERE / "generation.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def images(count: int = 4) -> list[TrainingImage]:
    rng = np.random.default_rng(0)
    return [
        TrainingImage(Image.fromarray(rng.integers(0, 255, (160, 144, 3), dtype=np.uint8)))
        for _ in range(count)
    ]


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def unet_step_seconds(unet: torch.nn.Module, latent: int) -> float:
    """One UNet forward + backward (to the conditioning, UNet frozen) at [1, 4, latent, latent]."""
    x = torch.randn(1, 4, latent, latent)
    cond = torch.randn(1, 77, 768, requires_grad=True)
    started = time.perf_counter()
    out = unet(x, torch.tensor([500]), cond).sample
    out.float().pow(2).mean().backward()
    return time.perf_counter() - started


def train_step_seconds(pipe: object) -> float:
    """The second step of a 2-step run (the first interval includes caching the latents)."""
    times: list[float] = []
    last = [time.perf_counter()]

    def progress(_step: int, _loss: float) -> None:
        now = time.perf_counter()
        times.append(now - last[0])
        last[0] = now

    train_style_token(pipe, images(), config=TrainingConfig(steps=2), progress=progress)
    return times[-1]


def flops_per_train_step_512() -> float:
    """UNet fwd + bwd-to-conditioning + text encoder fwd/bwd at 512², counted on meta tensors."""
    module = _sd15_bench_module()
    from transformers import CLIPTextConfig, CLIPTextModel

    with torch.device("meta"):
        unet = UNet2DConditionModel(**module.SD15_UNET).requires_grad_(False)
        text = CLIPTextModel(CLIPTextConfig(**module.SD15_TEXT)).requires_grad_(False)
        ids = torch.zeros(1, 77, dtype=torch.long)
        latents = torch.randn(1, 4, 64, 64)
    # Only the token table collects a gradient, so the backward runs through the whole encoder
    # to its input, as training's does (the table's own gradient is a scatter: no FLOPs).
    text.get_input_embeddings().weight.requires_grad_(True)
    counter = FlopCounterMode(display=False)
    with counter:
        hidden = text(ids)[0]
        out = unet(latents, torch.tensor([500], device="meta"), hidden).sample
        out.pow(2).mean().backward()
    return float(counter.get_total_flops())


def generation_stages(pipe: object, rounds: int) -> dict[str, float]:
    """Fastest stage times (timings of ``GenerationResult``), interleaved with/without a token.

    Whole-call times on shared cores swing by more than the 2% being checked, so the stages
    are timed separately: ``encode`` (cold: the token adds one encoding; warm: a cache hit)
    and ``denoise`` per step, which the token does not change.
    """
    generator = PersonalizedGenerator(pipe, model_name="sd15-shapes")
    profile = Profile(user_id="bench", version=1)
    width = int(pipe.text_encoder.get_input_embeddings().weight.shape[1])  # type: ignore[attr-defined]
    token = StyleToken("bench", "<bench>", {"clip_l": torch.randn(1, width) * 0.02}, 1)
    settings = GenerationSettings(
        steps=1, width=128, height=128, seed=1, aesthetic_steps=0, vp_degree=0.0
    )
    best: dict[str, float] = {}

    def keep(name: str, value: float) -> None:
        best[name] = min(best.get(name, float("inf")), value)

    for _ in range(rounds):
        for with_token in (False, True):
            tag = "token" if with_token else "plain"
            for temperature in ("cold", "warm"):
                if temperature == "cold":
                    generator.clear_caches()
                result = generator(
                    "a lighthouse at dusk",
                    profile,
                    settings=settings,
                    style=token if with_token else None,
                    output_type="latent",
                )
                t = result.timings
                keep(f"{temperature}_{tag}_encode", t["encode"])
                keep(f"{temperature}_{tag}_rest", t["check"] + t["plan"] + t["prepare"])
                keep("denoise_step", t["denoise"])
    return best


def generation_ratio(stages: dict[str, float], temperature: str, steps: int) -> float:
    def total(tag: str) -> float:
        return (
            stages[f"{temperature}_{tag}_encode"]
            + stages[f"{temperature}_{tag}_rest"]
            + steps * stages["denoise_step"]
        )

    return total("token") / total("plain")


def defaults_steps_on_tiny() -> tuple[int, bool]:
    result = train_style_token(build_tiny_sd(), images(), config=TrainingConfig())
    return result.steps, result.stopped_early


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    module = _sd15_bench_module()
    pipe, _clip, built = module.build_sd15_shapes()
    pipe.unet.register_to_config(sample_size=16)  # native size 128² for this benchmark
    print(f"SD 1.5 shapes (random weights) built in {built:.1f}s; {args.threads} thread(s)")

    # Interleaved round by round; the fastest of each is the least disturbed by other load.
    unet_s = train_s = float("inf")
    for _ in range(args.rounds):
        unet_s = min(unet_s, unet_step_seconds(pipe.unet, 16))
        train_s = min(train_s, train_step_seconds(pipe))
    print(f"UNet fwd+bwd (16² latents):      {unet_s:.3f} s")
    print(
        f"textual-inversion step:          {train_s:.3f} s = {train_s / unet_s:.2f}× UNet fwd+bwd"
    )
    print(f"peak resident memory:            {peak_rss_gib():.2f} GiB (weights included)")

    stages = generation_stages(pipe, max(args.rounds, 4))
    print(
        f"encode (cold) plain {stages['cold_plain_encode']:.3f} s, with token "
        f"{stages['cold_token_encode']:.3f} s; warm {stages['warm_plain_encode'] * 1e3:.2f} / "
        f"{stages['warm_token_encode'] * 1e3:.2f} ms; one denoising step "
        f"{stages['denoise_step']:.3f} s (128², CFG)"
    )
    for steps in (4, 30):
        print(
            f"generation with token / without, {steps} steps at 128²: "
            f"cold {generation_ratio(stages, 'cold', steps):.3f}×, "
            f"warm (re-roll) {generation_ratio(stages, 'warm', steps):.3f}×"
        )

    flops = flops_per_train_step_512()
    steps, early = defaults_steps_on_tiny()
    config = TrainingConfig()
    print(f"FLOPs per step at 512² (UNet fwd+bwd-to-cond + text enc): {flops / 1e12:.2f} TFLOP")
    print(
        f"defaults: at most {config.steps} steps, lr {config.lr:g}, plateau window "
        f"{config.plateau_window}; on the tiny pipeline they took {steps} steps"
        f"{' (plateau stop)' if early else ''}"
    )
    for label, count in (("defaults' cap", config.steps), ("reference recipe", 3000)):
        estimate = count * flops / ASSUMED_GPU_FLOPS
        print(
            f"GPU lower bound from FLOPs, {label} ({count} steps at 512²): {estimate:.0f} s "
            f"(at {ASSUMED_GPU_FLOPS / 1e12:.0f} TFLOP/s effective; not measured: batch-1 steps "
            "are latency-bound on a GPU, so expect several times more)"
        )


if __name__ == "__main__":
    main()
