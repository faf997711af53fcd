"""What one PALP step costs, as a ratio to one UNet forward at the same shapes, side by side.

SD 1.5's UNet architecture with random weights (configs from ``bench/generation.py``; no hub),
a small image side (128 px by default: 16×16 latents), one torch thread, CPU time of this
process (with one pinned thread it is the work done, whatever else shares the cores). Variants
are interleaved round by round and the fastest round of each is kept.

Printed:
- one UNet forward (batch 1, no gradient) — the unit;
- a PALP step's parts: personalization forward + backward to the LoRA, the pretrained CFG pair
  (batch 2, adapter disabled), the adapted CFG pair (batch 2), and a whole step of
  ``train_palp_adapter`` (optimizer included);
- peak resident memory of the process after the forwards and after the PALP steps;
- FLOPs at 512² counted on the meta device (no compute) for a forward and a PALP step, and the
  wall-time estimate per prompt at the default 500 steps on a modern GPU from those FLOPs.

    python bench/palp.py                 # ~3 minutes on these machines
    python bench/palp.py --side 64 --rounds 2
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import torch  # noqa: E402
from diffusers import DDIMScheduler, UNet2DConditionModel  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from generation.encoding import TextEmbeddings  # noqa: E402
from generation.palp import (  # noqa: E402
    PalpConditioning,
    PalpSettings,
    add_noise,
    personalization_loss,
    predicted_x0,
    train_palp_adapter,
)
from generation.palp_adapters import attached_lora  # noqa: E402

GPU_TFLOPS_ASSUMED = 300.0  # bf16 dense at ~30-40 % utilisation of an H100/H200-class part


def _sd15_configs() -> tuple[dict[str, object], dict[str, object]]:
    spec = importlib.util.spec_from_file_location("bench_generation", _HERE / "generation.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.SD15_UNET), dict(module.SD15_SCHEDULER)


def cpu_seconds(fn: Callable[[], object]) -> float:
    started = time.process_time()
    fn()
    return time.process_time() - started


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def conditioning(hidden: int, seed: int) -> PalpConditioning:
    generator = torch.Generator().manual_seed(seed)

    def text() -> TextEmbeddings:
        return TextEmbeddings(hidden=torch.randn(1, 77, hidden, generator=generator))

    return PalpConditioning(personalization=text(), target=text(), unconditional=text())


def step_parts(
    unet: UNet2DConditionModel, cond: PalpConditioning, latents: torch.Tensor
) -> dict[str, Callable[[], object]]:
    """Each part of one PALP step as a separate callable (the adapter must be attached)."""
    t = torch.tensor([500])
    alpha_bar = torch.tensor(0.3)
    noise = torch.randn_like(latents)
    x_t = add_noise(latents, noise, alpha_bar)
    pair_hidden = torch.cat([cond.unconditional.hidden, cond.target.hidden])

    def forward() -> object:
        with torch.no_grad():
            return unet(x_t, t, encoder_hidden_states=cond.target.hidden).sample

    def personalization() -> object:
        eps = unet(x_t, t, encoder_hidden_states=cond.personalization.hidden).sample
        loss = personalization_loss(eps, noise) + predicted_x0(x_t, eps, alpha_bar).mean()
        loss.backward()
        return loss

    def pair(enabled: bool) -> Callable[[], object]:
        def run() -> object:
            with torch.no_grad():
                if not enabled:
                    unet.disable_adapters()
                try:
                    return unet(
                        torch.cat([x_t, x_t]), t.expand(2), encoder_hidden_states=pair_hidden
                    ).sample
                finally:
                    unet.enable_adapters()

        return run

    return {
        "unet forward (batch 1)": forward,
        "personalization fwd+bwd": personalization,
        "pretrained CFG pair": pair(False),
        "adapted CFG pair": pair(True),
    }


def count_flops(unet_config: dict[str, object], side: int, rank: int) -> tuple[float, float]:
    """(forward, PALP step) FLOPs at ``side``² counted on the meta device."""
    with torch.device("meta"):
        unet = UNet2DConditionModel(**unet_config)  # type: ignore[arg-type]
        unet.requires_grad_(False)
        latents = torch.randn(1, 4, side // 8, side // 8)
        hidden = torch.randn(1, 77, 768)
        t = torch.tensor([500])
    with FlopCounterMode(display=False) as forward_counter, torch.no_grad():
        unet(latents, t, encoder_hidden_states=hidden)
    with attached_lora(unet, rank=rank), FlopCounterMode(display=False) as step_counter:
        eps = unet(latents, t, encoder_hidden_states=hidden).sample
        eps.sum().backward()
        with torch.no_grad():
            for _ in range(2):
                unet(
                    torch.cat([latents, latents]),
                    t.expand(2),
                    encoder_hidden_states=torch.cat([hidden, hidden]),
                )
    return float(forward_counter.get_total_flops()), float(step_counter.get_total_flops())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rank", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    unet_config, scheduler_config = _sd15_configs()
    torch.manual_seed(0)
    unet = UNet2DConditionModel(**unet_config).eval()  # type: ignore[arg-type]
    unet.requires_grad_(False)
    scheduler = DDIMScheduler(**scheduler_config)  # type: ignore[arg-type]
    cond = conditioning(768, seed=1)
    latents = torch.randn(1, 4, args.side // 8, args.side // 8)
    print(
        f"PALP cost, SD 1.5 UNet shapes (random weights), {args.side}², rank {args.rank}, "
        f"{args.threads} thread(s), fastest of {args.rounds} rounds, CPU seconds"
    )

    best: dict[str, float] = {}
    rss_forward = 0.0
    for _ in range(args.rounds):
        with attached_lora(unet, rank=args.rank):
            for name, part in step_parts(unet, cond, latents).items():
                best[name] = min(best.get(name, float("inf")), cpu_seconds(part))
                if name.startswith("unet forward"):
                    rss_forward = max(rss_forward, peak_rss_mb())
        settings = PalpSettings(steps=2, rank=args.rank)
        started = time.process_time()
        train_palp_adapter(
            unet=unet, scheduler=scheduler, latents=latents, conditioning=cond, settings=settings
        )
        whole = time.process_time() - started
        best["whole PALP step (train_palp_adapter)"] = min(
            best.get("whole PALP step (train_palp_adapter)", float("inf")), whole / settings.steps
        )
    unit = best["unet forward (batch 1)"]
    for name, seconds in best.items():
        print(f"  {name:<40} {seconds:8.3f} s   {seconds / unit:5.2f}× a forward")
    parts = sum(
        v
        for k, v in best.items()
        if k not in ("unet forward (batch 1)",) and not k.startswith("whole")
    )
    print(f"  {'sum of the three parts':<40} {parts:8.3f} s   {parts / unit:5.2f}× a forward")
    print(f"peak RSS: {rss_forward:.0f} MB after forwards, {peak_rss_mb():.0f} MB after PALP steps")

    forward_flops, step_flops = count_flops(unet_config, 512, args.rank)
    per_prompt = step_flops * 500
    gpu_seconds = per_prompt / (GPU_TFLOPS_ASSUMED * 1e12)
    print(
        f"FLOPs at 512²: forward {forward_flops / 1e12:.2f} TFLOP, PALP step "
        f"{step_flops / 1e12:.2f} TFLOP ({step_flops / forward_flops:.2f}× a forward); "
        f"500 steps = {per_prompt / 1e15:.2f} PFLOP ≈ {gpu_seconds:.0f} s "
        f"on a GPU sustaining {GPU_TFLOPS_ASSUMED:.0f} TFLOP/s (an estimate, not a measurement)"
    )


if __name__ == "__main__":
    main()
