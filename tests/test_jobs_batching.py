"""Workers denoise compatible generation jobs together (issue 15.2–3): real SQLite job rows, a
real chromadb preference store, file blobs and the tiny SD 1.x pipeline, on one thread."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import chromadb
import httpx
import numpy as np
import pytest
from chromadb.config import Settings as ChromaSettings
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from api.metrics import Metrics
from api.wiring.jobs import job_kinds
from generation.generator import PersonalizedGenerator
from generation.render import BatchEntry, Rendered, render_batch, render_request
from generation.request import GenerationRequest
from generation.samplers import Sampler
from generation.settings import GenerationSettings
from jobs.generation import GenerationWork, image_key
from jobs.progress import JobEvent, LocalProgress
from jobs.repository import CANCELLED, DONE, QUEUED, AdmissionRules, JobRepository
from jobs.runner import JobExecutor
from preference_store.blobs import FileBlobStore
from preference_store.database import create_schema, make_engine
from preference_store.models import AttributeDraft, Category, Polarity
from preference_store.store import PreferenceStore
from tests.doubles.forker import Forker
from tests.doubles.uvicorn_server import ForkedUvicornServer

RULES = AdmissionRules(per_user=3, capacity=10, max_pixel_steps=10**9)
TOLERANCE = 2 / 255


def request(prompt: str, seed: int, steps: int = 2) -> GenerationRequest:
    settings = GenerationSettings(steps=steps, width=64, height=64, seed=seed, aesthetic_steps=0)
    return GenerationRequest(prompt=prompt, settings=settings)


class CancelOnStep(LocalProgress):
    """The real in-process progress bus; cancels one job (as its owner would) at its step 1."""

    def __init__(self) -> None:
        super().__init__()
        self.executor: JobExecutor | None = None
        self.victim: str | None = None
        self.victim_steps: list[int] = []

    def publish(self, event: JobEvent) -> None:
        super().publish(event)
        if event.job_id == self.victim:
            self.victim_steps.append(event.step)
        if event.job_id == self.victim and event.step == 1 and self.executor is not None:
            self.executor.cancel_here(event.job_id)


@dataclass
class World:
    jobs: JobRepository
    store: PreferenceStore
    blobs: FileBlobStore
    work: GenerationWork
    executor: JobExecutor
    progress: CancelOnStep


@pytest.fixture()
def world(tmp_path: Path, embedder, tiny_sd) -> Iterator[World]:
    engine = make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    create_schema(engine)
    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    store = PreferenceStore(client, embedder, engine)
    for user, liked in (("ann", "teal palette"), ("bob", "warm light"), ("cid", "pastel tones")):
        store.add(
            user, [AttributeDraft(text=liked, polarity=Polarity.LIKE, category=Category.COLOR)]
        )
    blobs = FileBlobStore(tmp_path / "blobs")
    work = GenerationWork(PersonalizedGenerator(tiny_sd, model_name="tiny"), store, blobs)
    jobs = JobRepository(engine, job_kinds())
    progress = CancelOnStep()
    executor = JobExecutor(jobs, {"generation": work}, progress, max_batch=4, gather_s=0.0)
    progress.executor = executor
    yield World(jobs, store, blobs, work, executor, progress)
    engine.dispose()


def png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float32) / 255


def alone(world: World, user: str, req: GenerationRequest) -> np.ndarray:
    kept: list[bytes] = []
    render_request(
        world.work.generator,
        world.store,
        user,
        req,
        lambda _v, _i, _s, data: kept.append(data) or "memory",
    )
    return png(kept[0])


def test_a_mixed_queue_batches_the_compatible_jobs_and_runs_the_other_alone(world) -> None:
    a = world.jobs.create("ann", "generation", request("a lighthouse at dusk", 1), RULES)
    b = world.jobs.create("bob", "generation", request("a fox in the snow", 2), RULES)
    c = world.jobs.create("cid", "generation", request("a quiet harbour", 3, steps=3), RULES)

    world.executor.run_next()
    assert {world.jobs.get(j.id).status for j in (a, b)} == {DONE}  # type: ignore[union-attr]
    assert world.jobs.get(c.id).status == QUEUED  # type: ignore[union-attr]
    world.executor.run_next()
    assert world.jobs.get(c.id).status == DONE  # type: ignore[union-attr]
    assert world.executor.batches.snapshot()[0] == {2: 1, 1: 1}

    for job, user in ((a, "ann"), (b, "bob"), (c, "cid")):
        stored = png(world.blobs.get(image_key(job.id, "image", 0)))
        assert np.abs(stored - alone(world, user, job.request)).max() <= TOLERANCE  # type: ignore[arg-type]
        result = world.jobs.get(job.id).result  # type: ignore[union-attr]
        assert result["seed"] == job.request.settings.seed  # type: ignore[attr-defined]

    metrics = Metrics()
    metrics.watch_batches(world.executor.batches.snapshot)
    body, _ = metrics.render()
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    samples = {
        (s.name, s.labels.get("le")): s.value for s in families["tastemaker_batch_size"].samples
    }
    assert samples[("tastemaker_batch_size_count", None)] == 2
    assert samples[("tastemaker_batch_size_sum", None)] == 3
    assert samples[("tastemaker_batch_size_bucket", "1")] == 1
    assert families["tastemaker_images_per_second"].samples[0].value > 0


def test_jobs_are_batched_by_sampler_as_by_steps(world) -> None:
    euler = GenerationRequest(
        prompt="a fox in the snow",
        settings=request("x", 2).settings.updated(sampler=Sampler.EULER_A),
    )
    a = world.jobs.create("ann", "generation", request("a lighthouse at dusk", 1), RULES)
    b = world.jobs.create("bob", "generation", euler, RULES)
    c = world.jobs.create("cid", "generation", request("a quiet harbour", 3), RULES)

    world.executor.run_next()
    assert {world.jobs.get(j.id).status for j in (a, c)} == {DONE}  # type: ignore[union-attr]
    assert world.jobs.get(b.id).status == QUEUED  # type: ignore[union-attr]
    world.executor.run_next()
    assert world.jobs.get(b.id).status == DONE  # type: ignore[union-attr]
    parameters = Image.open(io.BytesIO(world.blobs.get(image_key(b.id, "image", 0)))).text
    assert "Sampler: Euler a" in parameters["parameters"]  # type: ignore[attr-defined]


def test_cancelling_one_job_of_a_batch_leaves_the_others_to_finish(world) -> None:
    a = world.jobs.create("ann", "generation", request("a lighthouse at dusk", 1, steps=3), RULES)
    b = world.jobs.create("bob", "generation", request("a fox in the snow", 2, steps=3), RULES)
    c = world.jobs.create("cid", "generation", request("a quiet harbour", 3, steps=3), RULES)
    world.progress.victim = b.id

    world.executor.run_next()
    assert world.jobs.get(b.id).status == CANCELLED  # type: ignore[union-attr]
    assert max(world.progress.victim_steps) == 1  # dropped at the step after the cancel
    for job, user in ((a, "ann"), (c, "cid")):
        assert world.jobs.get(job.id).status == DONE  # type: ignore[union-attr]
        stored = png(world.blobs.get(image_key(job.id, "image", 0)))
        assert np.abs(stored - alone(world, user, job.request)).max() <= TOLERANCE  # type: ignore[arg-type]
    assert world.executor.batches.snapshot()[0] == {3: 1}


def test_a_request_the_generator_refuses_fails_alone_in_a_batch(world) -> None:
    good = [request("a lighthouse at dusk", 1), request("a fox in the snow", 2)]
    # A stored request from before a bound was tightened: it skips today's validation.
    bad = GenerationRequest.model_construct(
        prompt="\x00", negative_prompt="", settings=good[0].settings, include_plain=False
    )
    kept: dict[str, list[bytes]] = {}

    def sink(user: str):
        return lambda _v, _i, _s, data: kept.setdefault(user, []).append(data) or user

    entries = [
        BatchEntry("ann", good[0], sink("ann")),
        BatchEntry("bob", bad, sink("bob")),
        BatchEntry("cid", good[1], sink("cid")),
    ]
    outcomes = render_batch(world.work.generator, world.store, entries)
    assert isinstance(outcomes[0], Rendered) and isinstance(outcomes[2], Rendered)
    assert isinstance(outcomes[1], Exception) and "NUL" in str(outcomes[1])
    assert set(kept) == {"ann", "cid"}


# -- over HTTP: the settings reach the in-process worker --------------------------------------


@pytest.mark.slow
def test_over_http_two_peoples_jobs_share_one_batch(
    tmp_path: Path, service_forker: Forker, shared_cache_dir: str
) -> None:
    """With TASTEMAKER_MAX_BATCH=2 and a long gathering window, the worker waits for the second
    person's job and denoises both together; /metrics shows one batch of two."""
    server = ForkedUvicornServer(
        service_forker,
        cache_dir=shared_cache_dir,
        data_dir=tmp_path / "data",
        max_batch=2,
        batch_window_ms=5_000,
    )
    server.start()
    try:
        ids = []
        for name, prompt in (("ann", "a lighthouse at dusk"), ("bob", "a fox in the snow")):
            with httpx.Client(base_url=server.url, timeout=60) as http:
                token = http.post("/v1/users", json={"id": name}).json()["token"]
                body = {"prompt": prompt, "steps": 2, "width": 64, "height": 64, "seed": 1}
                headers = {"Authorization": f"Bearer {token}"}
                created = http.post("/v1/generations", json=body, headers=headers)
                assert created.status_code == 202, created.text
                ids.append((created.json()["id"], headers))
        with httpx.Client(base_url=server.url, timeout=60) as http:
            for job_id, headers in ids:
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    status = http.get(f"/v1/generations/{job_id}", headers=headers).json()
                    if status["status"] in ("done", "failed"):
                        break
                    time.sleep(0.05)
                assert status["status"] == "done", status
            families = {
                f.name: f for f in text_string_to_metric_families(http.get("/metrics").text)
            }
        samples = {
            (s.name, s.labels.get("le")): s.value for s in families["tastemaker_batch_size"].samples
        }
        assert samples[("tastemaker_batch_size_count", None)] == 1
        assert samples[("tastemaker_batch_size_sum", None)] == 2
    finally:
        server.stop()
