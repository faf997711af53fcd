"""The one way to run a generation: a typed request and a profile in, stored PNGs out.

The CLI's ``generate``, the in-process job worker and the Celery worker all call
``render_batch`` (``render_request`` is a batch of one), so what a person gets does not depend on
how they asked or who else was in the batch.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generation.batched import BatchItem, generate_batch
from generation.generator import PersonalizedGenerator
from generation.img2img import init_image_for
from generation.infotext import BLEND_CHUNK
from generation.lora_export import PALP_ADAPTER_CHUNK
from generation.lora_files import LoraLibrary, lora_files
from generation.lora_infotext import lora_chunks
from generation.model_identity import provenance
from generation.palp_adapters import AdapterStore
from generation.palp_run import PalpAdapter, applied, prepare_adapter
from generation.png import INIT_IMAGE_CHUNK, png_bytes
from generation.prepare import Prepared, note_in_plan, prepare
from generation.request import GenerationRequest
from generation.result import GenerationResult, StepCallback
from generation.style_training import native_resolution

if TYPE_CHECKING:
    from PIL import Image

    from preference_store.blobs import BlobStore
    from preference_store.store import PreferenceStore
    from preference_store.styles import StyleStore

log = logging.getLogger("tastemaker.generation")

PathFor = Callable[[str, int, int], Path]
"""(variant "image" or "plain", index, seed of that image) -> where its PNG goes."""
ImageSink = Callable[[str, int, int, bytes], str]
"""(variant, index, seed of that image, PNG bytes) -> where it was stored (a path or blob key)."""
Ranker = Callable[[str, "list[Image.Image]", str], "list[float] | None"]
"""(user id, images, prompt) -> each image's taste match for that person, or None when their
taste model has no signal yet (flat at 0.5). Injected by the wiring: generation/ has no taste
service of its own (docs/design.md, "Taste from choices")."""
FLAT_TASTE = 0.5
FLAT_TASTE_NOTE = (
    "no taste signal yet that tells these images apart (it learns from pictures: choices in "
    "`tastemaker pick`, likes of images), so they are in seed order"
)


def file_sink(path_for: PathFor) -> ImageSink:
    """Writes each PNG to the file ``path_for`` names (the CLI's sink); a file already there is
    kept and the new one numbered ``name-2.png``, ``name-3.png``… as A1111 does, so the same
    seed twice never overwrites an image silently."""

    def write(variant: str, index: int, seed: int, data: bytes) -> str:
        path = path_for(variant, index, seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        return str(write_new(path, data))

    return write


def write_new(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path``, or to the first free ``stem-N`` beside it (N from 2); the
    exclusive create makes two writers racing for one name both keep their image."""
    candidate, number = path, 1
    while True:
        try:
            with candidate.open("xb") as file:
                file.write(data)
            return candidate
        except FileExistsError:
            number += 1
            candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")


@dataclass
class Rendered:
    """The personalized result, the plain one when asked for, and the files written."""

    result: GenerationResult
    plain: GenerationResult | None
    profile_version: int
    files: list[str] = field(default_factory=list)
    palp: PalpAdapter | None = None
    order: list[int] | None = None  # candidates: seed-order indices, best taste match first
    taste_matches: list[float] | None = None  # in ``order``; None: not ranked
    taste_flat: bool = False  # ranked, but every match equal: seed order kept

    def summary(self) -> dict[str, Any]:
        """What a job keeps about its result (JSON-ready)."""
        result = self.result
        return {
            "seed": result.seed,
            "profile_version": self.profile_version,
            "model": result.model,
            "plan": result.plan.model_dump(mode="json"),
            "aesthetic": dict(result.aesthetic.__dict__),
            "timings": {k: round(v, 4) for k, v in result.timings.items()},
            "images": len(result.images),
            "plain_images": len(self.plain.images) if self.plain is not None else 0,
            "settings": result.settings.model_dump(mode="json"),
            "style_refs": result.style_refs,
            **({"palp": self.palp.summary()} if self.palp is not None else {}),
            **({"taste_matches": self.taste_matches} if self.taste_matches is not None else {}),
            **({"taste_flat": True} if self.taste_flat else {}),
        }


def render_request(
    generator: PersonalizedGenerator,
    store: PreferenceStore,
    user_id: str,
    request: GenerationRequest,
    sink: ImageSink,
    *,
    on_step: Callable[[int, int], None] | None = None,
    styles: StyleStore | None = None,
    palp_cache: AdapterStore | None = None,
    blobs: BlobStore | None = None,
    references: Sequence[tuple[str, bytes]] = (),
    ranker: Ranker | None = None,
    init_image: bytes | None = None,
    loras: LoraLibrary | None = None,
) -> Rendered:
    """Render ``request`` in ``user_id``'s current taste and hand each PNG to ``sink``: a batch
    of one through ``render_batch``; what ended it (bad input, a cancel) is raised.

    ``on_step(done, total)`` counts over the whole request (PALP's training, then both images
    when the plain one is made); raising from it stops the generation between two steps.
    """
    entry = BatchEntry(user_id, request, sink, on_step, references, init_image)
    (outcome,) = render_batch(
        generator,
        store,
        [entry],
        styles=styles,
        palp_cache=palp_cache,
        blobs=blobs,
        ranker=ranker,
        loras=loras,
    )
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


@dataclass
class BatchEntry:
    """One person's request in a batch: who, what, where its PNGs go, whom to tell."""

    user_id: str
    request: GenerationRequest
    sink: ImageSink
    on_step: Callable[[int, int], None] | None = None
    references: Sequence[tuple[str, bytes]] = ()  # this request's own style references
    init_image: bytes | None = None  # img2img: the file's bytes (else read by request id)


def render_batch(
    generator: PersonalizedGenerator,
    store: PreferenceStore,
    entries: list[BatchEntry],
    *,
    styles: StyleStore | None = None,
    palp_cache: AdapterStore | None = None,
    blobs: BlobStore | None = None,
    ranker: Ranker | None = None,
    loras: LoraLibrary | None = None,
) -> list[Rendered | Exception]:
    """Render several people's requests (one ``batch_key``) in one denoising loop; per entry
    its ``Rendered`` or the exception that ended it alone.

    With ``styles``, each person's newest style tokens for this model are applied (at the
    request's style weights). A request with ``palp`` comes alone (its ``batch_key`` equals no
    other): its PALP adapter is trained first (or found in ``palp_cache``) and the personalized
    image is made with it; the plain image never is. Liked images the profile names by blob key
    (generated ones) are read from ``blobs``. A request with ``candidates`` has its images
    ranked by ``ranker`` and handed to its sink best first (``_rank``). LoRAs a request names
    are found in ``loras`` (docs/design.md, "LoRAs"); each PNG records their hashes.
    """
    if len(entries) > 1 and any(entry.request.palp is not None for entry in entries):
        raise ValueError("a PALP request carries its own adapter and is rendered alone")
    outcomes: list[Rendered | Exception] = [RuntimeError("not run")] * len(entries)
    offsets = [0] * len(entries)

    def step(index: int) -> StepCallback:
        entry = entries[index]

        def report(done: int, _steps: int) -> None:
            if entry.on_step is not None:
                entry.on_step(offsets[index] + done, entry.request.total_steps())

        return report

    # 1. Each person's profile (with its aesthetic embedding for this CLIP model) and style
    #    tokens; a failure here costs only that entry.
    items: list[BatchItem] = []
    prepared: list[Prepared] = []
    versions: list[int] = []
    live: list[int] = []
    for index, entry in enumerate(entries):
        try:
            ready = prepare(
                generator, store, entry.user_id, entry.request, entry.references, styles, blobs
            )
            init = init_image_for(entry.user_id, entry.request.init_image, entry.init_image, blobs)
            files = lora_files(loras, entry.request.settings)  # by name, from ``loras``
        except Exception as error:
            outcomes[index] = error
            continue
        request = entry.request
        items.append(
            BatchItem(
                request.prompt,
                ready.profile,
                request.image_settings(),
                negative_prompt=request.negative_prompt,
                on_step=step(index),
                style=ready.tokens.style,
                negative_style=ready.tokens.negative,
                references=ready.references,
                init_image=init,
                loras=files,
            )
        )
        prepared.append(ready)
        versions.append(ready.profile.version)
        live.append(index)

    # 2. PALP (a lone request): the prompt's adapter, cached or trained now; its steps come first.
    adapter = None
    palp = entries[live[0]].request.palp if len(live) == 1 else None
    if palp is not None:
        try:
            adapter = _palp_adapter(
                generator, items[0], entries[live[0]].request, palp_cache, blobs
            )
        except Exception as error:
            outcomes[live[0]] = error
            return outcomes
        offsets[live[0]] = palp.steps

    # 3. The personalized images, one loop for all (with the adapter when there is one).
    with applied(generator.pipeline, adapter):
        personalized = generate_batch(generator, items)
    plain_items: list[BatchItem] = []
    plain_of: list[int] = []
    for index, item, version, ready, result in zip(
        live, items, versions, prepared, personalized, strict=True
    ):
        if isinstance(result, Exception):
            outcomes[index] = result
            continue
        note_in_plan(result, ready)
        rendered = Rendered(result=result, plain=None, profile_version=version, palp=adapter)
        try:
            _rank(rendered, ranker, entries[index])
            chunks = provenance(generator, result, ready.tokens, version) | lora_chunks(item.loras)
            if ready.blend:  # no one version to pin: the profiles and their weights instead
                chunks.pop("tastemaker:profile_version", None)
                chunks[BLEND_CHUNK] = json.dumps(ready.blend)
            palp_request = entries[index].request.palp
            if palp_request is not None:  # made with PALP: its training options
                chunks["tastemaker:palp"] = palp_request.model_dump_json()
                chunks[PALP_ADAPTER_CHUNK] = adapter.key if adapter is not None else ""
            init_image = entries[index].request.init_image
            if init_image is not None:  # img2img: which image it started from
                chunks[INIT_IMAGE_CHUNK] = init_image
            _save(rendered, "image", result, entries[index].sink, chunks)
        except Exception as error:
            outcomes[index] = error
            continue
        outcomes[index] = rendered
        if entries[index].request.include_plain:
            offsets[index] += item.settings.steps
            plain_items.append(
                BatchItem(
                    item.prompt,
                    item.profile,
                    result.settings.updated(vp_degree=0.0, aesthetic_steps=0),
                    negative_prompt=item.negative_prompt,
                    on_step=item.on_step,
                    init_image=item.init_image,
                    loras=item.loras,  # a LoRA is the person's choice, not their taste: kept
                )
            )
            plain_of.append(index)

    # 4. The plain model's images for the same seeds, again in one loop, to compare side by side.
    for index, plain in zip(plain_of, generate_batch(generator, plain_items), strict=True):
        rendered_or_error = outcomes[index]
        assert isinstance(rendered_or_error, Rendered)
        if isinstance(plain, Exception):
            outcomes[index] = plain
            continue
        rendered_or_error.plain = plain
        try:
            chunks = provenance(generator, plain, None, rendered_or_error.profile_version)
            chunks |= lora_chunks(plain_items[plain_of.index(index)].loras)
            _save(rendered_or_error, "plain", plain, entries[index].sink, chunks)
        except Exception as error:
            outcomes[index] = error
    return outcomes


def _palp_adapter(
    generator: PersonalizedGenerator,
    item: BatchItem,
    request: GenerationRequest,
    cache: AdapterStore | None,
    blobs: BlobStore | None,
) -> PalpAdapter:
    """The PALP adapter for ``request``'s prompt (docs/design.md, "PALP"), reporting its
    training steps through the item's step callback."""
    assert request.palp is not None
    native = native_resolution(generator.pipeline)
    size = (request.settings.height or native, request.settings.width or native)
    return prepare_adapter(
        generator.pipeline,
        model=generator.model_name,
        profile=item.profile,
        prompt=request.prompt,
        size=size,
        settings=request.palp.settings(seed=request.settings.seed or 0),
        token=item.style,
        cache=cache,
        on_step=item.on_step,
        blobs=blobs,
    )


def _rank(rendered: Rendered, ranker: Ranker | None, entry: BatchEntry) -> None:
    """Best-of-N (docs/design.md, "Taste from choices"): order the candidates by taste match,
    best first, ties in seed order; a person with no taste signal keeps the seed order."""
    if entry.request.candidates is None or ranker is None:
        return
    images = rendered.result.images
    matches = ranker(entry.user_id, images, entry.request.prompt)
    unknown = matches is None
    if matches is None:
        matches = [FLAT_TASTE] * len(images)
    # Words alone (no picture chosen or liked) weigh only the text half: equal for one prompt.
    rendered.taste_flat = unknown or (len(images) > 1 and len(set(matches)) == 1)
    order = sorted(range(len(images)), key=lambda i: -matches[i])  # stable: seed order on ties
    rendered.order = order
    rendered.taste_matches = [matches[i] for i in order]


def _save(
    rendered: Rendered,
    variant: str,
    result: GenerationResult,
    sink: ImageSink,
    chunks: dict[str, str],
) -> None:
    """Each image as a PNG with its metadata, the ``provenance`` chunks and its place among
    the request's images (``--from-png`` makes the whole request again, for the same pixels).
    Ranked candidates reach the sink best first; each keeps its own seed and image index."""
    order = rendered.order or list(range(len(result.images)))
    for rank, index in enumerate(order):
        own = {**result.metadata(index), **chunks, "tastemaker:image_index": str(index)}
        if rendered.taste_matches is not None and variant == "image":
            own["tastemaker:taste_match"] = f"{rendered.taste_matches[rank]:.4f}"
        data = png_bytes(result.images[index], own)
        rendered.files.append(sink(variant, rank, result.seed + index, data))
