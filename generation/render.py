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

from generation.aesthetic import ensure_aesthetic_embedding
from generation.batched import BatchItem, generate_batch
from generation.blend import blend_profiles, blend_references, blend_tokens
from generation.blend_parts import BlendPart
from generation.errors import AestheticEmbeddingError, InvalidGenerationRequest
from generation.generator import PersonalizedGenerator
from generation.model_identity import provenance
from generation.palp_adapters import AdapterStore
from generation.palp_run import PalpAdapter, applied, prepare_adapter
from generation.png import png_bytes
from generation.reference_files import ReferenceFiles
from generation.request import GenerationRequest
from generation.result import GenerationResult, StepCallback
from generation.style_library import UsableTokens, tokens_for
from generation.style_refs import StyleReferences, choose_references
from generation.style_training import native_resolution

if TYPE_CHECKING:
    from PIL import Image

    from preference_store.blobs import BlobStore
    from preference_store.models import Profile
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
) -> Rendered:
    """Render ``request`` in ``user_id``'s current taste and hand each PNG to ``sink``: a batch
    of one through ``render_batch``; what ended it (bad input, a cancel) is raised.

    ``on_step(done, total)`` counts over the whole request (PALP's training, then both images
    when the plain one is made); raising from it stops the generation between two steps.
    """
    entry = BatchEntry(user_id, request, sink, on_step, references)
    (outcome,) = render_batch(
        generator, store, [entry], styles=styles, palp_cache=palp_cache, blobs=blobs, ranker=ranker
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


def render_batch(
    generator: PersonalizedGenerator,
    store: PreferenceStore,
    entries: list[BatchEntry],
    *,
    styles: StyleStore | None = None,
    palp_cache: AdapterStore | None = None,
    blobs: BlobStore | None = None,
    ranker: Ranker | None = None,
) -> list[Rendered | Exception]:
    """Render several people's requests (one ``batch_key``) in one denoising loop; per entry
    its ``Rendered`` or the exception that ended it alone.

    With ``styles``, each person's newest style tokens for this model are applied (at the
    request's style weights). A request with ``palp`` comes alone (its ``batch_key`` equals no
    other): its PALP adapter is trained first (or found in ``palp_cache``) and the personalized
    image is made with it; the plain image never is. Liked images the profile names by blob key
    (generated ones) are read from ``blobs``. A request with ``candidates`` has its images
    ranked by ``ranker`` and handed to its sink best first (``_rank``).
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
            ready = _prepare(generator, store, entry, styles, blobs)
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
        _report(result, ready)
        rendered = Rendered(result=result, plain=None, profile_version=version, palp=adapter)
        try:
            _rank(rendered, ranker, entries[index])
            chunks = provenance(generator, result, ready.tokens, version)
            if ready.blend:  # no one version to pin: the profiles and their weights instead
                chunks.pop("tastemaker:profile_version", None)
                chunks["tastemaker:blend"] = json.dumps(ready.blend)
            palp_request = entries[index].request.palp
            if palp_request is not None:  # made with PALP: its training options
                chunks["tastemaker:palp"] = palp_request.model_dump_json()
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


@dataclass
class Prepared:
    """What one request generates with: its profile (a blend's, for a blend), the style tokens
    and references, and what the plan must say about them."""

    profile: Profile
    tokens: UsableTokens
    references: StyleReferences | None
    blend: dict[str, float] = field(default_factory=dict)
    blend_notes: list[str] = field(default_factory=list)


def _prepare(
    generator: PersonalizedGenerator,
    store: PreferenceStore,
    entry: BatchEntry,
    styles: StyleStore | None,
    blobs: BlobStore | None,
) -> Prepared:
    """Stage 0 of one request: each profile it names (one, or a blend's; docs/design.md,
    "Blending") with its aesthetic embedding for this CLIP model, its style tokens and its
    reference set, mixed by ``generation.blend`` (one profile at weight 1 is itself)."""
    request = entry.request
    own = list(entry.references)
    if request.style_ref_ids:
        if blobs is None:
            raise InvalidGenerationRequest("uploaded references need the blob store")
        own += ReferenceFiles(blobs).images(entry.user_id, request.style_ref_ids)
    parts = request.blend or [BlendPart(name="profile", owner=entry.user_id, weight=1.0)]
    profiles, tokens, references = [], [], []
    for part in parts:
        profile = profile_for(store, part.owner, request)
        try:
            profile = ensure_aesthetic_embedding(store, profile, generator.clip, blobs)
        except AestheticEmbeddingError as error:  # a broken liked-image file costs the steps
            log.warning("no aesthetic embedding for %s: %s", part.owner, error)
        profiles.append((part.name, profile, part.weight))
        tokens.append(_usable(styles, part.owner, generator))
        if not own:
            chosen = choose_references(
                generator.style_adapter, store.references, profile, request.settings, (), blobs
            )
            references.append((chosen, part.weight))
    blended = blend_profiles(entry.user_id, profiles)
    weights = [part.weight for part in parts]
    return Prepared(
        profile=blended.profile,
        tokens=UsableTokens(
            style=blend_tokens([(t.style, w) for t, w in zip(tokens, weights, strict=True)]),
            negative=blend_tokens([(t.negative, w) for t, w in zip(tokens, weights, strict=True)]),
            skipped=[note for t in tokens for note in t.skipped],
        ),
        references=choose_references(
            generator.style_adapter, store.references, blended.profile, request.settings, own, blobs
        )
        if own
        else blend_references(references),
        blend={part.name: part.weight for part in request.blend or []},
        blend_notes=blended.notes,
    )


def profile_for(store: PreferenceStore, user_id: str, request: GenerationRequest) -> Profile:
    """The current profile, or the version the request pins (``VersionNotFound`` if none)."""
    profile = store.profile(user_id)
    pinned = request.profile_version
    if pinned is None or pinned == profile.version:
        return profile
    return store.profile_at(user_id, pinned)


def _usable(
    styles: StyleStore | None, user_id: str, generator: PersonalizedGenerator
) -> UsableTokens:
    if styles is None:
        return UsableTokens()
    return tokens_for(styles, user_id, generator.model_name, generator.pipeline)


def _report(result: GenerationResult, ready: Prepared) -> None:
    """Stored tokens left out, and a blend's weights and decisions, go into the plan (the
    job's answer); left-out tokens into the log too."""
    if ready.tokens.skipped:
        log.warning("%s", "; ".join(ready.tokens.skipped))
        result.plan = result.plan.model_copy(update={"style_skipped": ready.tokens.skipped})
    if ready.blend:
        update = {"blend": ready.blend, "blend_notes": ready.blend_notes}
        result.plan = result.plan.model_copy(update=update)


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
