"""Samplers by the names AUTOMATIC1111 users know, built as diffusers schedulers.

Each name is a diffusers scheduler class plus the config flags that make it that sampler
(``use_karras_sigmas``, ``algorithm_type``), laid over the model's own scheduler config, so the
model's beta schedule, prediction type and timestep spacing are kept (docs/design.md,
"Samplers"). A fresh scheduler is built per denoising loop: schedulers keep per-run state.

diffusers loads only when a scheduler is built: the CLI's other commands start without it.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import Tensor


class Sampler(StrEnum):
    """The offered samplers, by A1111's names (also how the PNG ``parameters`` chunk says them)."""

    DDIM = "DDIM"
    DPMPP_2M = "DPM++ 2M"
    DPMPP_2M_KARRAS = "DPM++ 2M Karras"
    DPMPP_SDE_KARRAS = "DPM++ SDE Karras"
    EULER = "Euler"
    EULER_A = "Euler a"
    UNIPC = "UniPC"


DEFAULT_SAMPLER = Sampler.DDIM

_NO_SIGMA_SCHEDULE = {
    "use_karras_sigmas": False,
    "use_exponential_sigmas": False,
    "use_beta_sigmas": False,
}
"""A model's own config may turn one of these on; each name says which one it wants."""

SCHEDULERS: Mapping[Sampler, tuple[str, Mapping[str, object]]] = {
    Sampler.DDIM: ("DDIMScheduler", {}),
    Sampler.DPMPP_2M: (
        "DPMSolverMultistepScheduler",
        {**_NO_SIGMA_SCHEDULE, "algorithm_type": "dpmsolver++", "solver_order": 2},
    ),
    Sampler.DPMPP_2M_KARRAS: (
        "DPMSolverMultistepScheduler",
        {
            **_NO_SIGMA_SCHEDULE,
            "algorithm_type": "dpmsolver++",
            "solver_order": 2,
            "use_karras_sigmas": True,
        },
    ),
    # A1111's "DPM++ SDE" is k-diffusion's sample_dpmpp_sde: diffusers' DPMSolverSDEScheduler
    # (Brownian-tree noise from torchsde), with Karras sigmas.
    Sampler.DPMPP_SDE_KARRAS: (
        "DPMSolverSDEScheduler",
        {**_NO_SIGMA_SCHEDULE, "use_karras_sigmas": True},
    ),
    Sampler.EULER: ("EulerDiscreteScheduler", _NO_SIGMA_SCHEDULE),
    Sampler.EULER_A: ("EulerAncestralDiscreteScheduler", {}),
    Sampler.UNIPC: ("UniPCMultistepScheduler", _NO_SIGMA_SCHEDULE),
}

ALIASES = {
    # A1111 1.9+ writes the schedule apart: "Sampler: DPM++ 2M, Schedule type: Karras".
    ("DPM++ 2M", "Karras"): Sampler.DPMPP_2M_KARRAS,
    ("DPM++ SDE", "Karras"): Sampler.DPMPP_SDE_KARRAS,
    ("DPM++ SDE Karras", "Karras"): Sampler.DPMPP_SDE_KARRAS,
    ("DPM++ 2M Karras", "Karras"): Sampler.DPMPP_2M_KARRAS,
}


def sampler_names() -> str:
    return ", ".join(s.value for s in Sampler)


def find_sampler(name: str, schedule: str | None = None) -> Sampler | None:
    """The sampler A1111 means by ``name`` (and its ``Schedule type``), if it is offered.

    ``Automatic`` or no schedule means the sampler's own; a named schedule the sampler does not
    have here (``Exponential``, ...) means a sampler tastemaker does not offer."""
    name = name.strip()
    if schedule and schedule.strip() not in ("", "Automatic"):
        found = ALIASES.get((name, schedule.strip()))
        if found is not None:
            return found
        return None
    try:
        return Sampler(name)
    except ValueError:
        return None


def build_scheduler(
    config: Mapping[str, Any], sampler: Sampler | str, *, seeds: Sequence[int] = ()
) -> Any:
    """A new scheduler for ``sampler`` from a model's scheduler ``config``.

    ``seeds`` (one per image of the batch) seed the Brownian-tree noise of the SDE sampler per
    row, so an image does not depend on the others in its batch; ancestral samplers take their
    noise from the per-row ``torch.Generator``s the pipeline is called with instead.
    """
    class_name, flags = SCHEDULERS[Sampler(sampler)]
    # torchsde warns when float rounding puts a query a hair outside its interval (ta=0.02916754
    # vs t0=0.029168): harmless, and not the person's to act on.
    warnings.filterwarnings("ignore", message="Should have t[ab]", module="torchsde")
    diffusers = importlib.import_module("diffusers")
    scheduler = getattr(diffusers, class_name).from_config(dict(config), **flags)
    if hasattr(scheduler, "noise_sampler_seed") and seeds:
        scheduler.noise_sampler_seed = list(seeds)
    return scheduler


def keep_rows(scheduler: Any, index: Tensor) -> None:
    """Drop the rows not in ``index`` from sampler state that is not a plain tensor (the SDE
    sampler's Brownian trees, one per row); tensors are the caller's."""
    if isinstance(getattr(scheduler, "noise_sampler_seed", None), list):
        scheduler.noise_sampler_seed = [scheduler.noise_sampler_seed[i] for i in index.tolist()]
    noise = getattr(scheduler, "noise_sampler", None)
    tree = getattr(noise, "tree", None)
    if tree is not None and getattr(tree, "batched", False):
        tree.trees = [tree.trees[i] for i in index.tolist()]


def steps_done(pipe: Any, step: int, total: int) -> int:
    """Steps done out of ``total`` after loop iteration ``step`` (from 0): a second-order
    sampler (DPM++ SDE) runs about two iterations per step, so the count is scaled to
    ``total``."""
    iterations = int(getattr(pipe, "num_timesteps", 0) or total)
    return min(total, max(1, round((step + 1) * total / iterations)))
