"""Tiny, seeded, randomly initialised Stable Diffusion and CLIP models built from configs.

They have the real architectures (as diffusers' own ``get_dummy_components()`` builds them) at a
size that runs on one CPU thread in a fraction of a second. Their images are noise: they exist
for tests, benchmarks of the plumbing and the offline demo (``--model tiny``). Nothing here
touches the network: the CLIP tokenizer is built in memory from a small BPE vocabulary learned,
deterministically, from a word list of art vocabulary.

One tiny ``CLIPModel`` is the source of truth for the text tower: the SD 1.x text encoder and the
first SDXL text encoder are loaded from its text-model weights, so aesthetic embeddings and
scoring (which need the matching projection and vision tower) work as they do with real weights.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch
from diffusers import (
    AutoencoderKL,
    DDIMScheduler,
    EulerDiscreteScheduler,
    StableDiffusionPipeline,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from transformers import (
    CLIPConfig,
    CLIPModel,
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    CLIPTokenizer,
    CLIPVisionConfig,
)

TINY_VOCAB_SIZE = 1000
TINY_HIDDEN = 32
TINY_PROJECTION = 32
TINY_IMAGE_SIZE = 32
TINY_MODEL_NAME = "tiny"
TINY_SDXL_MODEL_NAME = "tiny-sdxl"
TINY_CLIP_NAME = "tiny-clip"
TINY_NOTICE = (
    "--model tiny uses tiny RANDOM weights: its images are noise. It exists for tests and the "
    "offline demo; use a real Stable Diffusion model for pictures."
)

_START = "<|startoftext|>"
_END = "<|endoftext|>"

# Words the tiny BPE learns merges from: prompt and art vocabulary, so token counts behave like
# CLIP's (common words are one or two tokens, rare words split into pieces).
_CORPUS_TEXT = """
a an the of and in on at with by for from to under over near lighthouse dusk dawn night day
city street market forest mountain river sea ocean beach portrait landscape still life cat dog
horse bird flower flowers tree trees house castle ship boat car robot woman man child face
people crowd photo photograph photography painting drawing sketch illustration render
watercolor watercolour oil acrylic ink pencil charcoal pastel digital vector pixel art anime
cartoon comic poster black white monochrome grayscale greyscale sepia colour color colours
colors colourful colorful vivid vibrant saturated muted desaturated pastel neon teal blue red
green yellow orange purple pink gold golden silver brown grey gray cyan magenta warm cool
palette tones hues light dark bright dim soft hard harsh lighting backlit rim glow glowing
sunset sunrise shadow shadows contrast high low key moody dramatic calm serene cozy gloomy
cheerful melancholic eerie dreamy style realistic photorealistic surreal abstract minimalist
minimal impressionist expressionist cubist baroque renaissance gothic art deco nouveau retro
vintage modern futuristic cyberpunk composition symmetrical symmetric asymmetric centered rule
thirds negative space clutter cluttered busy clean simple balanced flowing lines curves
geometric shapes patterns texture textured smooth rough grainy gritty glossy matte brushwork
brush strokes visible loose tight detailed detail intricate fine ornate sharp blurry blur bokeh
depth field perspective wide angle close up aerial view top down fisheye isometric low camera
eye level scene background foreground sky clouds cloud rain snow fog mist water reflections
reflection fire smoke stars
"""
_CORPUS = tuple(_CORPUS_TEXT.split())


def _bytes_to_unicode() -> dict[int, str]:
    """CLIP's reversible byte -> printable character table (as in the original tokenizer)."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in chars), strict=True))


@lru_cache(maxsize=1)
def tiny_vocab_and_merges() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """A deterministic CLIP-style BPE vocabulary of exactly ``TINY_VOCAB_SIZE`` entries.

    Base symbols are the 256 byte characters and their end-of-word forms; merges are learned
    greedily from ``_CORPUS``; the two special tokens take the last ids, as in CLIP (the text
    model finds the end of the prompt at the end-of-text id).
    """
    base = list(_bytes_to_unicode().values())
    vocab_list = base + [c + "</w>" for c in base]
    words = Counter(tuple([*w[:-1], w[-1] + "</w>"]) for w in _CORPUS)
    merges: list[tuple[str, str]] = []
    budget = TINY_VOCAB_SIZE - 2 - len(vocab_list)
    known = set(vocab_list)
    while len(merges) < budget:
        pairs: Counter[tuple[str, str]] = Counter()
        for word, count in words.items():
            for left, right in itertools.pairwise(word):
                pairs[(left, right)] += count
        if not pairs:
            break
        # Most frequent pair, ties broken alphabetically so the vocabulary never changes.
        (left, right), _ = min(pairs.items(), key=lambda item: (-item[1], item[0]))
        merged = left + right
        merges.append((left, right))
        if merged not in known:
            vocab_list.append(merged)
            known.add(merged)
        new_words: Counter[tuple[str, ...]] = Counter()
        for word, count in words.items():
            out: list[str] = []
            i = 0
            while i < len(word):
                if i + 1 < len(word) and word[i] == left and word[i + 1] == right:
                    out.append(merged)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            new_words[tuple(out)] += count
        words = new_words
    # Pad (never used by the tokenizer) so the special tokens sit at the end of a fixed-size vocab.
    filler = 0
    while len(vocab_list) < TINY_VOCAB_SIZE - 2:
        vocab_list.append(f"<|unused{filler}|>")
        filler += 1
    vocab_list += [_START, _END]
    return {token: i for i, token in enumerate(vocab_list)}, merges


def build_tiny_tokenizer() -> CLIPTokenizer:
    """An in-memory CLIP tokenizer (77-token window) over the tiny vocabulary."""
    vocab, merges = tiny_vocab_and_merges()
    pairs: Any = list(merges)  # (left, right) tuples: what the tokenizers backend accepts
    tokenizer = CLIPTokenizer(vocab=dict(vocab), merges=pairs, model_max_length=77)
    if len(tokenizer) != TINY_VOCAB_SIZE:  # pitfall: a wrong construction gives a 2-token vocab
        raise RuntimeError(
            f"tiny tokenizer has {len(tokenizer)} tokens, expected {TINY_VOCAB_SIZE}"
        )
    return tokenizer


def tiny_text_config(*, projection_dim: int = TINY_PROJECTION) -> CLIPTextConfig:
    """The text tower shared by the tiny CLIP, the tiny SD encoder and SDXL's first encoder."""
    return CLIPTextConfig(
        bos_token_id=TINY_VOCAB_SIZE - 2,
        eos_token_id=TINY_VOCAB_SIZE - 1,
        pad_token_id=TINY_VOCAB_SIZE - 1,
        hidden_size=TINY_HIDDEN,
        intermediate_size=64,
        layer_norm_eps=1e-05,
        num_attention_heads=4,
        num_hidden_layers=5,
        vocab_size=TINY_VOCAB_SIZE,
        max_position_embeddings=77,
        hidden_act="gelu",
        projection_dim=projection_dim,
    )


@dataclass(frozen=True)
class TinyClip:
    """A tiny CLIP model with the tokenizer it reads."""

    model: CLIPModel
    tokenizer: CLIPTokenizer
    name: str = TINY_CLIP_NAME


def build_tiny_clip(seed: int = 0) -> TinyClip:
    """A seeded tiny ``CLIPModel`` (32-pixel images, 32-d projection) in eval mode."""
    torch.manual_seed(seed)
    vision = CLIPVisionConfig(
        hidden_size=TINY_HIDDEN,
        intermediate_size=64,
        num_attention_heads=4,
        num_hidden_layers=2,
        image_size=TINY_IMAGE_SIZE,
        patch_size=4,
        projection_dim=TINY_PROJECTION,
        hidden_act="gelu",
    )
    config = CLIPConfig(
        text_config=tiny_text_config().to_dict(),
        vision_config=vision.to_dict(),
        projection_dim=TINY_PROJECTION,
    )
    model = CLIPModel(config).eval()
    model.requires_grad_(False)
    return TinyClip(model=model, tokenizer=build_tiny_tokenizer())


def _text_encoder_from_clip(clip: TinyClip) -> CLIPTextModel:
    """A ``CLIPTextModel`` holding a copy of the tiny CLIP's text-tower weights."""
    encoder = CLIPTextModel(tiny_text_config())
    tower = clip.model.text_model.state_dict()
    own = encoder.state_dict()
    prefix = next(p for p in ("", "text_model.") if all(p + k in own for k in tower))
    encoder.load_state_dict({prefix + k: v.clone() for k, v in tower.items()}, strict=True)
    return encoder.eval()


# What the tiny SD 1.x and SDXL UNets share (diffusers' own test configs, shrunk).
_TINY_UNET: dict[str, Any] = {
    "block_out_channels": (4, 8),
    "layers_per_block": 1,
    "sample_size": 32,
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D"),
    "up_block_types": ("CrossAttnUpBlock2D", "UpBlock2D"),
}


def _tiny_vae(seed: int, **config: Any) -> Any:
    torch.manual_seed(seed)
    return AutoencoderKL(
        block_out_channels=[4, 8],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
        latent_channels=4,
        norm_num_groups=2,
        **config,
    )


def build_tiny_sd(seed: int = 0, clip: TinyClip | None = None) -> StableDiffusionPipeline:
    """A seeded tiny SD 1.x pipeline whose text encoder equals the tiny CLIP's text tower."""
    clip = clip or build_tiny_clip(seed)
    torch.manual_seed(seed)
    unet: Any = UNet2DConditionModel(
        **_TINY_UNET,
        cross_attention_dim=TINY_HIDDEN,
        norm_num_groups=2,
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    vae = _tiny_vae(seed)
    pipe: Any = StableDiffusionPipeline(
        unet=unet.eval(),
        scheduler=scheduler,
        vae=vae.eval(),
        text_encoder=_text_encoder_from_clip(clip),
        tokenizer=build_tiny_tokenizer(),
        safety_checker=None,
        feature_extractor=None,
        image_encoder=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    _freeze(pipe)
    return pipe


def build_tiny_sdxl(seed: int = 0, clip: TinyClip | None = None) -> StableDiffusionXLPipeline:
    """A seeded tiny SDXL pipeline; its first text encoder equals the tiny CLIP's text tower."""
    clip = clip or build_tiny_clip(seed)
    torch.manual_seed(seed)
    unet: Any = UNet2DConditionModel(
        **_TINY_UNET,
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 1),
        projection_class_embeddings_input_dim=6 * 8 + TINY_PROJECTION,
        cross_attention_dim=2 * TINY_HIDDEN,
        norm_num_groups=2,
    )
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        steps_offset=1,
        beta_schedule="scaled_linear",
        timestep_spacing="leading",
    )
    vae = _tiny_vae(seed, sample_size=64)
    torch.manual_seed(seed + 1)
    text_encoder_2 = CLIPTextModelWithProjection(tiny_text_config()).eval()
    pipe: Any = StableDiffusionXLPipeline(
        unet=unet.eval(),
        scheduler=scheduler,
        vae=vae.eval(),
        text_encoder=_text_encoder_from_clip(clip),
        tokenizer=build_tiny_tokenizer(),
        text_encoder_2=text_encoder_2,
        tokenizer_2=build_tiny_tokenizer(),
        image_encoder=None,
        feature_extractor=None,
        force_zeros_for_empty_prompt=True,
    )
    pipe.set_progress_bar_config(disable=True)
    _freeze(pipe)
    return pipe


def _freeze(pipe: Any) -> None:
    """Inference only: no parameter of a shared pipeline ever collects gradients."""
    for component in pipe.components.values():
        if isinstance(component, torch.nn.Module):
            component.requires_grad_(False)
