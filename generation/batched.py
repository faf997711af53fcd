"""The one denoising path: several people's generations in one UNet batch, and a lone request
as a batch of one (``PersonalizedGenerator.__call__`` calls ``generate_batch``), so the CLI and
every worker run the same stages (docs/design.md, "One denoising path").

ViPer's conditioning, aesthetic gradients and style tokens change only text embeddings, never
weights, so requests on one model with the same size, steps, scheduler, guidance scale and mode
can share the denoising loop: each row of the batch carries its own embeddings and its own
``torch.Generator`` for the initial noise, so an image does not depend on who else was in the
batch (up to float reduction order in batched kernels: well under 1/255 per pixel).

``generate_batch`` reads as numbered stages, like a diffusers pipeline. Stages 1–4
run per request and a failure there (bad prompt, a style token for another model, ...) fails only
that request. A request whose step callback raises (its job was cancelled) is dropped from the
batch at that step: its rows leave the latents, the embeddings and the scheduler's state.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from generation import img2img
from generation.encoding import TextEmbeddings, blend, combine
from generation.errors import InvalidGenerationRequest
from generation.guidance import ViPerGuidedUNet, pipeline_view
from generation.lora_apply import with_loras
from generation.lora_files import LoraFile
from generation.plan import ConditioningPlan
from generation.result import (
    OUTPUT_TYPES,
    Conditioning,
    GenerationResult,
    StageTimer,
    StepCallback,
)
from generation.row_references import RowReferences, row_references, stack_references
from generation.samplers import build_scheduler, keep_rows, steps_done
from generation.settings import ConditioningMode, GenerationSettings
from generation.style_refs import StyleReferences
from generation.style_token import StyleToken
from preference_store.models import Profile

if TYPE_CHECKING:  # the generator calls this module: a lone request is a batch of one
    from PIL import Image

    from generation.generator import PersonalizedGenerator

BatchOutcome = GenerationResult | Exception
"""Per request: its result, or the exception that ended it (its own input, or its cancel)."""


@dataclass
class BatchItem:
    """One request of a batch: the arguments ``PersonalizedGenerator.__call__`` takes."""

    prompt: str
    profile: Profile
    settings: GenerationSettings
    negative_prompt: str = ""
    aesthetic_embedding: Tensor | None = None
    on_step: StepCallback | None = None
    style: StyleToken | None = None
    negative_style: StyleToken | None = None
    references: StyleReferences | None = None  # style references (IP-Adapter), if any
    init_image: Image.Image | None = None  # img2img: start from it (generation/img2img.py)
    loras: tuple[LoraFile, ...] = ()  # the files of ``settings.loras``, in order


@dataclass
class _Prepared:
    """Stages 1–4 of one request: what its rows of the batch carry."""

    index: int
    item: BatchItem
    plan: ConditioningPlan
    conditioning: Conditioning
    cached: bool
    seed: int
    prompt: TextEmbeddings
    negative: TextEmbeddings
    liked: Tensor | None  # guidance mode only: E(VP+) / E(VP−) and their weights
    disliked: Tensor | None
    a: float = 0.0
    b: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    refs: RowReferences | None = None  # its image tokens and per-layer factors

    def shape_key(self) -> tuple[object, ...]:
        pooled = self.prompt.pooled
        return (
            tuple(self.prompt.hidden.shape),
            tuple(self.negative.hidden.shape),
            tuple(pooled.shape) if pooled is not None else None,
        )


class _AllDropped(Exception):
    """Every request of a batch was cancelled: stop the loop."""


def generate_batch(
    generator: PersonalizedGenerator,
    items: list[BatchItem],
    *,
    output_type: str = "pil",
) -> list[BatchOutcome]:
    """Run ``items`` through one denoising loop; one outcome per item, in order."""
    if not items:
        return []
    # The loop's LoRAs on the shared pipeline around stages 1–7 (docs/design.md, "LoRAs").
    return with_loras(generator, items, lambda: _generate_batch(generator, items, output_type))


def _generate_batch(
    generator: PersonalizedGenerator, items: list[BatchItem], output_type: str
) -> list[BatchOutcome]:
    if output_type not in OUTPUT_TYPES:
        raise InvalidGenerationRequest(f"output_type must be one of {', '.join(OUTPUT_TYPES)}")
    if any(not isinstance(item.settings, GenerationSettings) for item in items):
        raise InvalidGenerationRequest("settings must be a GenerationSettings")
    first = items[0].settings.loop_key()
    if any(item.settings.loop_key() != first for item in items):
        raise InvalidGenerationRequest(
            "a batch needs one size, step count, guidance scale, mode and sampler for all its "
            "requests"
        )
    outcomes: list[BatchOutcome | None] = [None] * len(items)

    # 1–4. Check, plan, encode and mix each request on its own: a bad one fails alone.
    prepared: list[_Prepared] = []
    for index, item in enumerate(items):
        try:
            prepared.append(_prepare(generator, index, item))
        except Exception as error:
            outcomes[index] = error

    # 5–6. Seeds and one denoising loop per embedding shape (normally exactly one).
    groups: dict[tuple[object, ...], list[_Prepared]] = {}
    for one in prepared:
        groups.setdefault(one.shape_key(), []).append(one)
    for group in groups.values():
        for index, outcome in _denoise(generator, group, output_type).items():
            outcomes[index] = outcome
    return [o if o is not None else RuntimeError("request was not run") for o in outcomes]


def _prepare(generator: PersonalizedGenerator, index: int, item: BatchItem) -> _Prepared:
    """Stages 1–4 of one request (the generator's checks and conditioning cache), ending in the
    embeddings its rows of the batch carry."""
    laps = StageTimer()
    settings = item.settings

    # 1–3. Check, plan and encode (the generator's checks and cache entries).
    plan, conditioning, cached = generator.condition(
        laps,
        item.prompt,
        item.profile,
        settings,
        negative_prompt=item.negative_prompt,
        aesthetic_embedding=item.aesthetic_embedding,
        style=item.style,
        negative_style=item.negative_style,
    )

    # 4. Mix ViPer's conditioning: into the embeddings (embeds mode), or kept apart for the
    #    guided UNet's extra pass (guidance mode; docs/design.md, "ViPer conditioning").
    beta = settings.vp_degree
    text = blend(conditioning.prompt, conditioning.styled, settings.style_weight)
    negative = blend(
        conditioning.negative, conditioning.negative_styled, settings.negative_style_weight
    )
    liked = disliked = None
    a = b = 0.0
    if settings.mode == ConditioningMode.GUIDANCE and (
        conditioning.liked is not None or conditioning.disliked is not None
    ):
        zeros = torch.zeros_like(text.hidden)
        liked = conditioning.liked.hidden if conditioning.liked is not None else zeros
        disliked = conditioning.disliked.hidden if conditioning.disliked is not None else zeros
        a = beta if conditioning.liked is not None else 0.0
        b = beta if conditioning.disliked is not None else 0.0
    else:
        text = combine(text, conditioning.liked, beta)
        negative = combine(negative, conditioning.disliked, beta)
    refs = row_references(generator.style_adapter, item.references, settings)
    laps.lap("prepare")

    seed = settings.seed if settings.seed is not None else secrets.randbelow(2**31)
    return _Prepared(
        index,
        item,
        plan,
        conditioning,
        cached,
        seed,
        text,
        negative,
        liked,
        disliked,
        a,
        b,
        laps.timings,
        refs,
    )


@dataclass
class _Row:
    """One image of the batch: which request, which of its images."""

    owner: _Prepared
    image: int


def _denoise(
    generator: PersonalizedGenerator, group: list[_Prepared], output_type: str
) -> dict[int, BatchOutcome]:
    """5–7. One loop for ``group``; each request's result or the exception that ended it."""
    settings = group[0].item.settings
    device = generator.text.device
    rows = [_Row(p, i) for p in group for i in range(p.item.settings.num_images)]

    # 5. Seeds: per row, the generator the request would use alone (seed, seed + 1, ...).
    generators = [torch.Generator(device=device).manual_seed(r.owner.seed + r.image) for r in rows]

    def stack(pick: Any) -> Tensor:
        return torch.cat([pick(r.owner) for r in rows])

    kwargs: dict[str, Any] = {
        "prompt_embeds": stack(lambda p: p.prompt.hidden),
        "negative_prompt_embeds": stack(lambda p: p.negative.hidden),
    }
    tensor_inputs = ["latents", "prompt_embeds"]
    if generator.text.sdxl:
        kwargs["pooled_prompt_embeds"] = stack(lambda p: p.prompt.pooled)
        kwargs["negative_pooled_prompt_embeds"] = stack(lambda p: p.negative.pooled)
        tensor_inputs += ["add_text_embeds", "add_time_ids"]
    replace: dict[str, Any] = {
        # Schedulers keep per-run state: each loop gets its own (a few µs).
        "scheduler": build_scheduler(
            generator.pipeline.scheduler.config,
            settings.sampler,
            seeds=[r.owner.seed + r.image for r in rows],  # per-row SDE noise (design: Samplers)
        )
    }
    unet: Any = generator.pipeline.unet
    referenced = stack_references(generator.style_adapter, unet, [r.owner.refs for r in rows])
    if referenced is not None:  # style references: each row its image tokens and scale
        unet = replace["unet"] = referenced
    guided: ViPerGuidedUNet | None = None
    if any(p.liked is not None for p in group):
        zeros = torch.zeros_like(group[0].prompt.hidden)

        def weights(pick: Any) -> Tensor:
            values = [pick(r.owner) for r in rows]
            return torch.tensor(values, dtype=unet.dtype, device=device).view(-1, 1, 1, 1)

        guided = ViPerGuidedUNet(
            unet,
            vp_negative=stack(lambda p: p.disliked if p.disliked is not None else zeros),
            vp_positive=stack(lambda p: p.liked if p.liked is not None else zeros),
            a=weights(lambda p: p.a),  # type: ignore[arg-type]  # per-row weights broadcast
            b=weights(lambda p: p.b),  # type: ignore[arg-type]
        )
        replace["unet"] = guided
    pipe = pipeline_view(generator.pipeline, **replace)
    outcomes: dict[int, BatchOutcome] = {}
    alive = list(rows)

    # 6. Denoise; after each step, tell each request and drop the ones that stop.
    def step_end(
        _pipe: Any, step: int, _timestep: Any, callback_kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        dropped: set[int] = set()
        for owner in {id(r.owner): r.owner for r in alive}.values():
            if owner.item.on_step is None:
                continue
            try:
                owner.item.on_step(steps_done(_pipe, step, settings.steps), settings.steps)
            except Exception as error:
                outcomes[owner.index] = error
                dropped.add(owner.index)
        if not dropped:
            return callback_kwargs
        keep = [i for i, r in enumerate(alive) if r.owner.index not in dropped]
        if not keep:
            raise _AllDropped
        _shrink(callback_kwargs, pipe.scheduler, guided, keep, len(alive))
        if referenced is not None:
            referenced.keep(torch.tensor(keep))
        generators[:] = [generators[i] for i in keep]  # the list ancestral schedulers sample with
        alive[:] = [alive[i] for i in keep]
        return callback_kwargs

    started = time.perf_counter()
    try:
        with torch.no_grad():
            output = img2img.denoise(  # text to image, or image to image from each row's init image
                pipe,
                [r.owner.item.init_image for r in rows],
                settings,
                num_inference_steps=settings.steps,
                guidance_scale=settings.guidance_scale,
                guidance_rescale=settings.cfg_rescale,
                num_images_per_prompt=1,
                generator=generators,
                output_type=output_type,
                callback_on_step_end=step_end,
                callback_on_step_end_tensor_inputs=tensor_inputs,
                **kwargs,
            )
    except _AllDropped:
        return outcomes
    except Exception as error:  # the model itself failed: every request still running fails
        for owner in {r.owner.index: error for r in alive}:
            outcomes.setdefault(owner, error)
        return outcomes
    denoise = time.perf_counter() - started

    # 7. Results, per request, with everything needed to explain and reproduce them.
    images: dict[int, list[Any]] = {}
    for row, image in zip(alive, list(output.images), strict=True):
        images.setdefault(row.owner.index, []).append(image)
    scheduler = type(pipe.scheduler).__name__
    for p in group:
        if p.index in outcomes:
            continue
        timings = {**p.timings, "denoise": denoise}
        timings["total"] = sum(v for k, v in timings.items() if k != "aesthetic")
        outcomes[p.index] = GenerationResult(
            images=images[p.index],
            plan=p.plan,
            seed=p.seed,
            settings=p.item.settings.updated(seed=p.seed),
            aesthetic=p.conditioning.aesthetic,
            timings=timings,
            conditioning_cached=p.cached,
            model=generator.model_name,
            scheduler=scheduler,
            style_refs=p.refs.report if p.refs is not None else None,
        )
    return outcomes


def _shrink(
    tensors: dict[str, Any],
    scheduler: Any,
    guided: ViPerGuidedUNet | None,
    keep: list[int],
    alive: int,
) -> None:
    """Keep only rows ``keep`` (of ``alive``) in the loop's tensors and the scheduler's state."""
    index = torch.tensor(keep)
    for name, value in tensors.items():
        if not isinstance(value, Tensor):
            continue
        if value.shape[0] == 2 * alive:  # [unconditional rows, conditional rows] under CFG
            tensors[name] = value[torch.cat([index, index + alive])]
        elif value.shape[0] == alive:
            tensors[name] = value[index]
    # Multistep schedulers keep earlier model outputs / samples (batch first) between steps.
    for name, value in list(vars(scheduler).items()):
        if isinstance(value, Tensor) and value.ndim >= 2 and value.shape[0] == alive:
            setattr(scheduler, name, value[index])
        elif isinstance(value, list) and any(isinstance(v, Tensor) for v in value):
            setattr(scheduler, name, [_rows(v, index, alive) for v in value])
    keep_rows(scheduler, index)
    if guided is not None:
        guided.vp_negative = guided.vp_negative[index]
        guided.vp_positive = guided.vp_positive[index]
        guided.a = guided.a[index]  # type: ignore[index]
        guided.b = guided.b[index]  # type: ignore[index]


def _rows(value: Any, index: Tensor, alive: int) -> Any:
    if isinstance(value, Tensor) and value.ndim >= 2 and value.shape[0] == alive:
        return value[index]
    return value
