"""LoRAs on the shared pipeline for one denoising loop, and gone afterwards (docs/design.md,
"LoRAs").

A loop's requests share one LoRA set (it is part of ``GenerationSettings.loop_key()``), so the
set is attached around the whole batch: diffusers reads the file's format (kohya/A1111 or
diffusers) and adds peft LoRA layers to the UNet (``load_lora_into_unet``), ``set_adapters``
gives each its weight, and ``unload_lora_weights`` puts the original modules back on exit —
whatever happened inside — so the next request sees the pipeline as it was (tested
bit-identical). The job system runs one loop at a time per pipeline, as it does for PALP.

Text-encoder layers: diffusers hands them to transformers' ``load_adapter``, which needs a
newer peft than this project's (``peft<0.22``; transformers 5 asks for 0.22). They are added
here with peft's own ``inject_adapter_in_model`` after the same conversion diffusers applies
(``convert_state_dict_to_diffusers`` → ``convert_state_dict_to_peft``, ranks and alphas by
``get_peft_kwargs``), and unloaded by diffusers like its own. While they are on, the
generator's per-text encoding cache is set aside (its keys do not know the encoder changed).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from generation.cache import LRUCache
from generation.errors import InvalidGenerationRequest
from generation.lora_files import LoraFile, LoraFileError, read_lora
from generation.settings import GenerationSettings

if TYPE_CHECKING:
    from generation.batched import BatchItem, BatchOutcome
    from generation.generator import PersonalizedGenerator

T = TypeVar("T")
_ENCODERS = ("text_encoder", "text_encoder_2")
_PREFIX = "tastemaker_lora_"


def loop_loras(items: Sequence[BatchItem]) -> list[tuple[LoraFile, float]] | None:
    """The LoRA files and weights the loop applies, read off its first request; None when
    the requests disagree (the batch's ``loop_key`` check then refuses it)."""
    if any(not isinstance(item.settings, GenerationSettings) for item in items):
        return None
    first = items[0]
    wanted = first.settings.loras
    if any(item.settings.lora_key() != first.settings.lora_key() for item in items):
        return None
    for item in items:
        names = [lora.name for lora in item.loras]
        if names != [lora.name for lora in wanted]:
            missing = [w.name for w in wanted if w.name not in names]
            raise InvalidGenerationRequest(
                f"LoRA {', '.join(missing) or '?'} was named but its file was not resolved "
                "(render_batch finds LoRA files by name)"
            )
        if [lora.short_hash for lora in item.loras] != [lora.short_hash for lora in first.loras]:
            raise InvalidGenerationRequest("a batch's requests name the same LoRAs by other files")
    return [(file, lora.weight) for file, lora in zip(first.loras, wanted, strict=True)]


def with_loras(
    generator: PersonalizedGenerator,
    items: Sequence[BatchItem],
    run: Callable[[], list[BatchOutcome]],
) -> list[BatchOutcome]:
    """``run()`` with the batch's LoRAs attached; when they cannot be (a missing or broken
    file, one made for another model), every request of the batch ends with that error."""
    if not any(getattr(item.settings, "loras", ()) for item in items):
        return run()
    with ExitStack() as attached:
        try:
            loras = loop_loras(items)
            if loras is not None:
                attached.enter_context(attached_loras(generator, loras))
        except InvalidGenerationRequest as error:
            return [error for _ in items]
        return run()


@contextmanager
def attached_loras(
    generator: PersonalizedGenerator, loras: Sequence[tuple[LoraFile, float]]
) -> Iterator[None]:
    """The LoRAs on the generator's pipeline for the block; a weight of 0 is not loaded at all
    (an image at weight 0 is the image without it, exactly)."""
    active = [(lora, weight) for lora, weight in loras if weight != 0.0]
    if not active:
        yield
        return
    pipeline = generator.pipeline
    if _carries_adapters(pipeline):
        raise InvalidGenerationRequest(
            "the pipeline already carries an adapter (a PALP job?): LoRAs run alone"
        )
    names: list[str] = []
    text_cache = generator.text_cache
    try:
        for index, (lora, _weight) in enumerate(active):
            name = f"{_PREFIX}{index}"
            _load(pipeline, lora, name)
            names.append(name)
        pipeline.set_adapters(names, [weight for _lora, weight in active])
        if any(getattr(getattr(pipeline, e, None), "peft_config", None) for e in _ENCODERS):
            generator.text_cache = LRUCache(32)  # this loop's encodings only
        yield
    finally:
        generator.text_cache = text_cache
        pipeline.unload_lora_weights()


def _carries_adapters(pipeline: Any) -> bool:
    return any(
        getattr(getattr(pipeline, part, None), "peft_config", None) for part in ("unet", *_ENCODERS)
    )


def _load(pipeline: Any, lora: LoraFile, adapter: str) -> None:
    """One file's layers onto the UNet and the text encoders, as adapter ``adapter``."""
    raw = read_lora(lora)
    try:
        state, alphas = pipeline.lora_state_dict(raw)  # kohya/A1111 → diffusers' names
        touched = any(key.startswith("unet.") for key in state)
        if touched:
            pipeline.load_lora_into_unet(
                state, network_alphas=alphas, unet=pipeline.unet, adapter_name=adapter,
                _pipeline=pipeline,
            )  # fmt: skip
        for prefix in _ENCODERS:
            encoder = getattr(pipeline, prefix, None)
            if encoder is not None and _load_text_encoder(encoder, state, alphas, prefix, adapter):
                touched = True
    except (ValueError, RuntimeError, KeyError, TypeError, IndexError) as error:
        reason = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
        raise LoraFileError(f"LoRA {lora.name} does not fit this model: {reason}") from None
    if not touched:
        raise LoraFileError(f"LoRA {lora.name} has no layers this model has (another family?)")


def _load_text_encoder(
    encoder: Any, state: dict[str, Any], alphas: dict[str, Any] | None, prefix: str, adapter: str
) -> bool:
    """diffusers' ``_load_lora_into_text_encoder`` up to its ``load_adapter`` call, with peft's
    ``inject_adapter_in_model`` in its place (see the module docstring); False when the file
    has no layers for this encoder."""
    from diffusers.utils import convert_state_dict_to_diffusers, convert_state_dict_to_peft
    from diffusers.utils.peft_utils import get_peft_kwargs
    from peft import LoraConfig, inject_adapter_in_model, set_peft_model_state_dict

    part = {k.removeprefix(f"{prefix}."): v for k, v in state.items() if k.startswith(f"{prefix}.")}
    if not part:
        return False
    part = convert_state_dict_to_peft(convert_state_dict_to_diffusers(part))
    if not hasattr(encoder, "text_model"):  # transformers 5 flattened CLIPTextModel
        part = {k.removeprefix("text_model."): v for k, v in part.items()}
    ranks = {k: v.shape[1] for k, v in part.items() if k.endswith("lora_B.weight")}
    own_alphas = {
        k.removeprefix(f"{prefix}."): v
        for k, v in (alphas or {}).items()
        if k.split(".")[0] == prefix
    }
    config = LoraConfig(
        **get_peft_kwargs(ranks, network_alpha_dict=own_alphas, peft_state_dict=part, is_unet=False)
    )
    with warnings.catch_warnings():  # a second adapter: peft warns that one is there
        warnings.filterwarnings("ignore", "Already found a `peft_config`", UserWarning)
        inject_adapter_in_model(config, encoder, adapter_name=adapter)
    configs = getattr(encoder, "peft_config", None) or {}
    encoder.peft_config = {**configs, adapter: config}  # what diffusers' set/unload look for
    encoder._hf_peft_config_loaded = True
    loaded = set_peft_model_state_dict(encoder, part, adapter_name=adapter)
    unexpected = [k for k in getattr(loaded, "unexpected_keys", []) if "lora_" in k]
    if unexpected:
        raise ValueError(f"{prefix} has no layer for {unexpected[0]}")
    encoder.to(device=encoder.device, dtype=encoder.dtype)
    return True
