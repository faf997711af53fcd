"""Seconds per denoising step on this machine, by image side: the measurement behind the CPU
default of ``TASTEMAKER_MAX_JOB_PIXEL_STEPS`` (docs/configuration.md, docs/benchmarks.md).

One guided step is one UNet call on a batch of two (the prompt and the negative prompt) at the
latent size of a ``side``² image. Timed for the tiny pipeline (``--model tiny``, the default
model; its VAE halves the side, so its attention runs on far more tokens than SD's) and for
SD 1.5's real UNet (random weights built from its config, no hub: ``bench/generation.py``).
The fastest of ``--rounds`` calls is printed (the first also allocates), with the
seconds per million pixel-steps, so sizes compare side by side in one run.

    python bench/step_cost.py                         # tiny 64–512, SD 1.5 256–512, ~3 minutes
    python bench/step_cost.py --sd15-sides 256 512 768 --threads 2
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import importlib.util  # noqa: E402

import torch  # noqa: E402
from diffusers import UNet2DConditionModel  # noqa: E402

from generation.tiny import build_tiny_sd  # noqa: E402


def step_seconds(unet: torch.nn.Module, side: int, scale: int, rounds: int) -> float:
    """The fastest guided step (UNet on a batch of 2) at ``side``² pixels."""
    config = unet.config  # type: ignore[attr-defined]
    latents = torch.randn(2, config.in_channels, side // scale, side // scale)
    states = torch.randn(2, 77, config.cross_attention_dim)
    times = []
    with torch.no_grad():
        for _ in range(rounds):
            started = time.perf_counter()
            unet(latents, 500, encoder_hidden_states=states)
            times.append(time.perf_counter() - started)
    return min(times)


def _sd15_unet_config() -> dict[str, object]:
    """SD 1.5's UNet config, as bench/generation.py writes it (a sibling file, not a package)."""
    spec = importlib.util.spec_from_file_location("bench_generation", _HERE / "generation.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.SD15_UNET)


def report(name: str, unet: torch.nn.Module, scale: int, sides: list[int], rounds: int) -> None:
    for side in sides:
        seconds = step_seconds(unet, side, scale, rounds)
        per_mega = seconds / (side * side / 1e6)
        print(
            f"  {name:<7} {side:>5}²: {seconds:8.2f} s per step, "
            f"{per_mega:8.2f} s per million pixel-steps",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--tiny-sides", type=int, nargs="*", default=[64, 128, 256, 512])
    parser.add_argument("--sd15-sides", type=int, nargs="*", default=[256, 512])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), one guided step")
    if args.tiny_sides:
        tiny = build_tiny_sd()
        report("tiny", tiny.unet, tiny.vae_scale_factor, args.tiny_sides, args.rounds)
        del tiny
    if args.sd15_sides:
        torch.manual_seed(0)
        unet = UNet2DConditionModel(**_sd15_unet_config()).eval().requires_grad_(False)
        report("SD 1.5", unet, 8, args.sd15_sides, args.rounds)


if __name__ == "__main__":
    main()
