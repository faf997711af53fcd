"""What personalization costs next to a plain generation, measured side by side in one run.

For the tiny pipeline and for SD 1.5's real architecture (random weights, built from its configs,
no hub): plain vs ViPer ``embeds`` mode (cold cache and warm, i.e. a re-roll) vs ``guidance`` mode
vs ``embeds`` + 5 aesthetic-gradient steps; same pipeline, steps and seed, variants interleaved
round by round; the fastest round of each is printed, as a ratio to plain (on shared cores
interference only ever adds time, so the fastest run is the least disturbed one). Then, for
SD 1.5 shapes, the conditioning time (plan + text encoding + 5 aesthetic steps, cold caches)
divided by one UNet forward at 512².

Timed: denoising (``output_type="latent"``); the VAE decode is the same for every variant and
leaving it out makes the ratios stricter. Threads are pinned (one by default): on these shared
2-core machines two threads swing timings 3-10×.

    python bench/generation.py                 # both pipelines, under 3 minutes
    python bench/generation.py --pipeline tiny
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# This file is called generation.py: keep its folder off the path so the package wins.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import torch  # noqa: E402
from diffusers import (  # noqa: E402
    AutoencoderKL,
    DDIMScheduler,
    StableDiffusionPipeline,
    UNet2DConditionModel,
)
from transformers import (  # noqa: E402
    CLIPConfig,
    CLIPModel,
    CLIPTextConfig,
    CLIPTextModel,
    CLIPVisionConfig,
)

from generation.clip import ClipBundle  # noqa: E402
from generation.generator import PersonalizedGenerator  # noqa: E402
from generation.settings import GenerationSettings  # noqa: E402
from generation.tiny import (  # noqa: E402
    TINY_CLIP_NAME,
    build_tiny_clip,
    build_tiny_sd,
    build_tiny_tokenizer,
)
from preference_store.models import Category, Polarity, Profile, VisualAttribute  # noqa: E402

# Stable Diffusion 1.5's configs (unet/vae/text_encoder config.json of stable-diffusion-v1-5),
# written inline: no hub access. The tokenizer is the tiny in-memory one (its ids are valid in
# the 49,408-token table; compute per token is the same). Images from these weights are noise.
SD15_UNET = {
    "sample_size": 64,
    "in_channels": 4,
    "out_channels": 4,
    "center_input_sample": False,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "down_block_types": [
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "DownBlock2D",
    ],
    "up_block_types": [
        "UpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
    ],
    "block_out_channels": [320, 640, 1280, 1280],
    "layers_per_block": 2,
    "downsample_padding": 1,
    "mid_block_scale_factor": 1,
    "act_fn": "silu",
    "norm_num_groups": 32,
    "norm_eps": 1e-05,
    "cross_attention_dim": 768,
    "attention_head_dim": 8,
}
SD15_VAE = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "block_out_channels": [128, 256, 512, 512],
    "layers_per_block": 2,
    "act_fn": "silu",
    "latent_channels": 4,
    "norm_num_groups": 32,
    "sample_size": 512,
}
SD15_TEXT = {
    "vocab_size": 49408,
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "max_position_embeddings": 77,
    "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-05,
    "projection_dim": 768,
    "bos_token_id": 0,
    "eos_token_id": 2,
    "pad_token_id": 1,
}
SD15_SCHEDULER = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "clip_sample": False,
    "set_alpha_to_one": False,
    "steps_offset": 1,
}


def build_sd15_shapes(seed: int = 0) -> tuple[StableDiffusionPipeline, ClipBundle, float]:
    """The pipeline, a CLIP bundle with ViT-L/14's 768→768 text projection, and build seconds.

    The CLIP bundle's vision tower is tiny (it is not used by the conditioning being timed).
    """
    started = time.perf_counter()
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(**SD15_UNET).eval()
    vae = AutoencoderKL(**SD15_VAE).eval()
    text_encoder = CLIPTextModel(CLIPTextConfig(**SD15_TEXT)).eval()
    tokenizer = build_tiny_tokenizer()
    pipe = StableDiffusionPipeline(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        scheduler=DDIMScheduler(**SD15_SCHEDULER),
        safety_checker=None,
        feature_extractor=None,
        image_encoder=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    for module in (unet, vae, text_encoder):
        module.requires_grad_(False)
    vision = CLIPVisionConfig(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=1,
        num_attention_heads=4,
        image_size=32,
        patch_size=8,
        projection_dim=768,
    )
    text_config = CLIPTextConfig(**{**SD15_TEXT, "num_hidden_layers": 1})
    clip_model = CLIPModel(
        CLIPConfig(
            text_config=text_config.to_dict(), vision_config=vision.to_dict(), projection_dim=768
        )
    ).eval()
    clip_model.requires_grad_(False)
    clip = ClipBundle(model=clip_model, tokenizer=tokenizer, name="sd15-shapes-clip")
    return pipe, clip, time.perf_counter() - started


PROMPT = "a lighthouse on a cliff at dusk, waves below"
ATTRIBUTES = [
    ("teal and gold palette", Polarity.LIKE, Category.COLOR, 0.9),
    ("flowing organic lines", Polarity.LIKE, Category.COMPOSITION, 0.8),
    ("soft diffuse light", Polarity.LIKE, Category.LIGHTING, 0.75),
    ("visible brush strokes", Polarity.LIKE, Category.TEXTURE, 0.7),
    ("dreamy calm mood", Polarity.LIKE, Category.MOOD, 0.6),
    ("wide angle view", Polarity.LIKE, Category.PERSPECTIVE, 0.5),
    ("cluttered composition", Polarity.DISLIKE, Category.COMPOSITION, 0.85),
    ("harsh flash lighting", Polarity.DISLIKE, Category.LIGHTING, 0.7),
    ("neon colours", Polarity.DISLIKE, Category.COLOR, 0.6),
    ("glossy plastic texture", Polarity.DISLIKE, Category.TEXTURE, 0.5),
]


def make_profile(clip: ClipBundle) -> Profile:
    embedding = torch.randn(clip.embedding_dim, generator=torch.Generator().manual_seed(3))
    return Profile(
        user_id="bench",
        version=1,
        attributes=[
            VisualAttribute(user_id="bench", text=t, polarity=p, category=c, strength=s)
            for t, p, c, s in ATTRIBUTES
        ],
        aesthetic_embeddings={clip.name: (embedding / embedding.norm()).tolist()},
    )


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process). With one pinned thread the CPU time is the
    work done, whatever else shares the cores, so ratios use it; wall time is shown too."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def compare(
    pipe: object, clip: ClipBundle, *, side: int, steps: int, rounds: int
) -> dict[str, float]:
    """Fastest CPU seconds per variant (printed with ratios to plain)."""
    generator = PersonalizedGenerator(pipe, clip=clip)  # type: ignore[arg-type]
    profile = make_profile(clip)
    base = GenerationSettings(steps=steps, width=side, height=side, seed=0, guidance_scale=5.0)

    def plain() -> None:
        pipe(  # type: ignore[operator]
            PROMPT,
            num_inference_steps=steps,
            guidance_scale=5.0,
            height=side,
            width=side,
            generator=torch.Generator().manual_seed(0),
            output_type="latent",
        )

    def personalized(cold: bool, **changes: object) -> Callable[[], None]:
        settings = base.updated(**changes)

        def run() -> None:
            if cold:
                generator.clear_caches()
            generator(PROMPT, profile, settings=settings, output_type="latent")

        return run

    variants: dict[str, Callable[[], None]] = {
        "plain": plain,
        "embeds (cold caches)": personalized(True, aesthetic_steps=0),
        "embeds (warm: re-roll)": personalized(False, aesthetic_steps=0),
        "guidance": personalized(True, aesthetic_steps=0, mode="guidance"),
        "embeds + 5 aesthetic steps": personalized(True, aesthetic_steps=5),
    }
    variants["plain"]()  # warm-up: the first call allocates
    variants["embeds (cold caches)"]()
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, run in variants.items():
            times[name].append(timed(run))
    plain_wall = min(w for w, _ in times["plain"])
    plain_cpu = min(c for _, c in times["plain"])
    print(f"  {'variant':<28} {'cpu s':>8} {'× plain':>8} {'wall s':>8} {'× plain':>8}")
    for name, values in times.items():
        wall = min(w for w, _ in values)
        cpu = min(c for _, c in values)
        print(
            f"  {name:<28} {cpu:>8.3f} {cpu / plain_cpu:>8.3f} {wall:>8.3f} "
            f"{wall / plain_wall:>8.3f}"
        )
    return {name: min(c for _, c in values) for name, values in times.items()}


def conditioning_vs_unet(
    pipe: object, clip: ClipBundle, repeats: int, fastest: dict[str, float]
) -> None:
    """Plan + encoding + 5 aesthetic steps (cold caches) over one UNet forward at 512²."""
    generator = PersonalizedGenerator(pipe, clip=clip)  # type: ignore[arg-type]
    profile = make_profile(clip)
    embedding = torch.tensor(profile.aesthetic_embeddings[clip.name])
    unet = pipe.unet  # type: ignore[attr-defined]
    with torch.no_grad():
        latents = torch.randn(1, 4, 64, 64)
        states = torch.randn(1, 77, 768)
        unet_times = [
            timed(lambda: unet(latents, 500, encoder_hidden_states=states))[1] for _ in range(2)
        ]  # the first call also allocates: the faster one is the forward itself
    unet_s = min(unet_times)
    overhead = fastest["embeds (cold caches)"] - fastest["plain"]
    print(
        f"  embeds-mode overhead, cold: {overhead:+.3f} cpu s = {overhead / (30 * unet_s):.2%} "
        "of the UNet work of a 30-step 512² generation (30 batch-1 forwards: a lower bound)"
    )
    for layers in (None, 4):
        settings = GenerationSettings(aesthetic_steps=5, aesthetic_layers=layers)
        samples = []
        for _ in range(repeats + 1):
            generator.clear_caches()
            started = time.process_time()
            plan = generator.plan(PROMPT, profile)
            conditioning = generator.encode(plan, settings, embedding)
            samples.append(time.process_time() - started)
        assert conditioning.aesthetic.applied
        cond_s = min(samples[1:])
        which = "all 12 layers" if layers is None else f"last {layers} layers"
        print(
            f"  conditioning (plan + encode + 5 aesthetic steps, {which}): {cond_s:.2f} cpu s; "
            f"UNet forward 512² (batch 1): {unet_s:.2f} cpu s; ratio {cond_s / unet_s:.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pipeline", choices=["tiny", "sd15", "both"], default="both")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sd15-size", type=int, default=128)
    parser.add_argument("--sd15-steps", type=int, default=3)
    parser.add_argument("--sd15-rounds", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    if args.pipeline in ("tiny", "both"):
        tiny_clip = build_tiny_clip()
        clip = ClipBundle(model=tiny_clip.model, tokenizer=tiny_clip.tokenizer, name=TINY_CLIP_NAME)
        print("tiny SD 1.x pipeline, 64×64, 10 steps, 10 rounds")
        compare(build_tiny_sd(clip=tiny_clip), clip, side=64, steps=10, rounds=10)
    if args.pipeline in ("sd15", "both"):
        pipe, clip, built = build_sd15_shapes()
        print(
            f"SD 1.5 shapes (random weights, built in {built:.1f} s), "
            f"{args.sd15_size}×{args.sd15_size}, {args.sd15_steps} steps, "
            f"{args.sd15_rounds} rounds"
        )
        fastest = compare(
            pipe, clip, side=args.sd15_size, steps=args.sd15_steps, rounds=args.sd15_rounds
        )
        conditioning_vs_unet(pipe, clip, repeats=1, fastest=fastest)
    print(f"total bench time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
