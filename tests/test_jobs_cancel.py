"""A cancel lands within the step it arrives in (issue 25, item 7): on a CPU one step of a large
image takes minutes, so the worker checks at every part of the UNet, before the VAE decode and
between the personalized and the plain pass, not only between steps. Real SQLite job rows, a
real chromadb store, file blobs and the tiny SD 1.x pipeline; counted in model calls, not time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings
from torch import nn

from api.wiring.jobs import job_kinds
from generation.generator import PersonalizedGenerator
from generation.interrupt import checking
from generation.request import GenerationRequest
from generation.settings import GenerationSettings
from jobs.generation import GenerationWork
from jobs.progress import LocalProgress
from jobs.repository import CANCELLED, DONE, QUEUED, AdmissionRules, Job, JobRepository
from jobs.runner import JobExecutor
from preference_store.blobs import FileBlobStore
from preference_store.database import create_schema, make_engine
from preference_store.models import AttributeDraft, Category, Polarity
from preference_store.store import PreferenceStore

RULES = AdmissionRules(per_user=3, capacity=10, max_pixel_steps=10**9)


@dataclass
class World:
    jobs: JobRepository
    executor: JobExecutor
    pipeline: Any


@pytest.fixture()
def world(tmp_path: Path, embedder: Any, tiny_sd: Any) -> Iterator[World]:
    engine = make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    create_schema(engine)
    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    store = PreferenceStore(client, embedder, engine)
    for user in ("ann", "bob"):
        draft = AttributeDraft(text="teal palette", polarity=Polarity.LIKE, category=Category.COLOR)
        store.add(user, [draft])
    blobs = FileBlobStore(tmp_path / "blobs")
    work = GenerationWork(PersonalizedGenerator(tiny_sd, model_name="tiny"), store, blobs)
    jobs = JobRepository(engine, job_kinds())
    executor = JobExecutor(jobs, {"generation": work}, LocalProgress(), max_batch=2, gather_s=0.0)
    yield World(jobs, executor, tiny_sd)
    engine.dispose()


def submit(world: World, user: str, *, plain: bool = False) -> Job:
    settings = GenerationSettings(steps=4, width=64, height=64, seed=1, aesthetic_steps=0)
    request = GenerationRequest(prompt="a lighthouse", settings=settings, include_plain=plain)
    return world.jobs.create(user, "generation", request, RULES)


def cancel(world: World, job: Job) -> None:
    """What ``DELETE /v1/generations/{id}`` does in the embedded service."""
    world.jobs.cancel(job.user_id, job.id)
    world.executor.cancel_here(job.id)


class Calls:
    """Counts the finished calls of a module, from a moment on (hooks removed afterwards)."""

    def __init__(self) -> None:
        self.finished = 0
        self.counting = False
        self._handles: list[Any] = []

    def count(self, module: nn.Module) -> Calls:
        def done(*_args: Any) -> None:
            self.finished += self.counting

        self._handles.append(module.register_forward_hook(done))
        return self

    def on(self, module: nn.Module, action: Callable[[], None], *, before: bool = True) -> None:
        """Run ``action`` (then count) at the first call of ``module`` (before it, or after)."""

        def once(*_args: Any) -> None:
            if not self.counting:
                self.counting = True
                action()

        hook = module.register_forward_pre_hook if before else module.register_forward_hook
        self._handles.append(hook(once))

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()


@pytest.fixture()
def calls() -> Iterator[Calls]:
    counter = Calls()
    yield counter
    counter.remove()


def test_a_cancel_during_a_unet_call_stops_that_call(world: World, calls: Calls) -> None:
    job = submit(world, "ann")
    unet = world.pipeline.unet
    calls.count(unet).on(unet.up_blocks[0], lambda: cancel(world, job))

    world.executor.run_next()
    assert world.jobs.get(job.id).status == CANCELLED  # type: ignore[union-attr]
    assert calls.finished == 0  # the UNet call it arrived in never finished, none began after


def test_a_cancel_after_the_last_step_stops_before_the_vae_decode(
    world: World, calls: Calls
) -> None:
    job = submit(world, "ann")
    vae = world.pipeline.vae
    calls.count(vae.decoder).on(vae.post_quant_conv, lambda: cancel(world, job), before=False)

    world.executor.run_next()
    assert world.jobs.get(job.id).status == CANCELLED  # type: ignore[union-attr]
    assert calls.finished == 0


def test_a_cancel_between_the_personalized_and_the_plain_pass_runs_no_plain_step(
    world: World, calls: Calls
) -> None:
    job = submit(world, "ann", plain=True)
    calls.count(world.pipeline.unet)
    calls.on(world.pipeline.vae.decoder, lambda: cancel(world, job), before=False)

    world.executor.run_next()
    assert world.jobs.get(job.id).status == CANCELLED  # type: ignore[union-attr]
    assert calls.finished == 0  # the plain pass stopped at its first UNet part


def test_a_batch_stops_within_the_step_only_when_all_its_jobs_are_cancelled(
    world: World, calls: Calls
) -> None:
    ann, bob = submit(world, "ann"), submit(world, "bob")
    unet = world.pipeline.unet

    def both() -> None:
        cancel(world, ann)
        cancel(world, bob)

    calls.count(unet).on(unet.up_blocks[0], both)
    world.executor.run_next()
    assert world.executor.batches.snapshot()[0] == {2: 1}
    assert {world.jobs.get(j.id).status for j in (ann, bob)} == {CANCELLED}  # type: ignore[union-attr]
    assert calls.finished == 0


def test_one_cancelled_job_of_a_batch_leaves_at_the_step_end_and_the_other_finishes(
    world: World, calls: Calls
) -> None:
    ann, bob = submit(world, "ann"), submit(world, "bob")
    unet = world.pipeline.unet
    calls.count(unet).on(unet.up_blocks[0], lambda: cancel(world, ann))

    world.executor.run_next()
    assert world.jobs.get(ann.id).status == CANCELLED  # type: ignore[union-attr]
    assert world.jobs.get(bob.id).status == DONE  # type: ignore[union-attr]
    assert calls.finished == 4  # the batch ran on: its step 1, then Bob's 3 alone


def test_a_worker_stopping_mid_step_puts_the_job_back_in_the_queue(
    world: World, calls: Calls
) -> None:
    job = submit(world, "ann")
    unet = world.pipeline.unet
    calls.count(unet).on(unet.up_blocks[0], world.executor.stopping.set)

    world.executor.run_next()
    assert world.jobs.get(job.id).status == QUEUED  # type: ignore[union-attr]
    assert calls.finished == 0


def test_a_thread_without_a_check_is_never_stopped(world: World, calls: Calls) -> None:
    """The CLI and the benchmarks share hooked pipelines: their runs are not checked, and a
    check set for one block of code is gone after it."""

    def refuse() -> None:
        raise AssertionError("checked outside its block")

    with checking(refuse):
        pass
    job = submit(world, "ann")
    calls.count(world.pipeline.unet).counting = True
    world.executor.run_next()
    assert world.jobs.get(job.id).status == DONE  # type: ignore[union-attr]
    assert calls.finished == 4
