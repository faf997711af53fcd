"""How many CPU threads torch uses: ``TASTEMAKER_TORCH_THREADS``, else the physical cores this
process may run on, at most ``MAX_DEFAULT_THREADS``. torch's own default spreads over every
logical core, and on a machine that is busy anyway its threads wait on each other: CLI style
training took 274 s with the default and 13 s with one thread (issue 27).

Applied by the CLI before torch is imported (as ``OMP_NUM_THREADS``/``MKL_NUM_THREADS``, which
torch reads when it loads, so commands that never load torch pay nothing) and by the model
worker of the service. An ``OMP_NUM_THREADS`` the person set is kept unless the setting is set.

The embedded worker (a thread of the API process) leaves one core to the event loop by default:
with torch on every core, ``/healthz`` waited behind the model (issue 25, item 8;
docs/benchmarks.md).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from api.settings import Settings

MAX_DEFAULT_THREADS = 8
_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def physical_cores() -> int:
    """Distinct (package, core) pairs among the CPUs this process may use; logical CPUs when
    the platform does not say."""
    usable = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    logical = len(usable) or os.cpu_count() or 1
    try:
        blocks = Path("/proc/cpuinfo").read_text(encoding="utf-8").split("\n\n")
    except OSError:
        return logical
    cores = set()
    for block in blocks:
        fields = dict(
            (key.strip(), value.strip())
            for key, _, value in (line.partition(":") for line in block.splitlines())
        )
        if "processor" in fields and (not usable or int(fields["processor"]) in usable):
            cores.add((fields.get("physical id", ""), fields.get("core id", fields["processor"])))
    return max(1, min(len(cores) or logical, logical))


def torch_threads(settings: Settings, *, beside_api: bool = False) -> int:
    """The setting, else the physical cores (capped); ``beside_api``: one fewer, at least one."""
    if settings.torch_threads:
        return settings.torch_threads
    cores = physical_cores() - (1 if beside_api else 0)
    return max(1, min(cores, MAX_DEFAULT_THREADS))


_set_here: dict[str, str] = {}  # what use_torch_threads wrote, told apart from the person's own


def use_torch_threads(settings: Settings, *, beside_api: bool = False) -> int | None:
    """Limit torch to ``torch_threads(settings, beside_api=...)`` threads, whether or not it is
    loaded yet; the number set, or None when an ``OMP_NUM_THREADS`` of the person's own decides
    instead."""
    own = os.environ.get("OMP_NUM_THREADS")
    if settings.torch_threads is None and own and own != _set_here.get("OMP_NUM_THREADS"):
        return None
    threads = torch_threads(settings, beside_api=beside_api)
    for name in _ENV:
        os.environ[name] = _set_here[name] = str(threads)
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(threads)
    return threads


def use_recorded_threads(settings: Settings, recorded: int) -> bool:
    """``generate --from-png``: make the image again with the thread count it was made with
    (CPU kernels split sums by thread, so another count can move a pixel by 1/255), unless
    ``TASTEMAKER_TORCH_THREADS`` or an ``OMP_NUM_THREADS`` of the person's own decides; True
    when the count changed."""
    own = os.environ.get("OMP_NUM_THREADS")
    if settings.torch_threads is not None or (own and own != _set_here.get("OMP_NUM_THREADS")):
        return False
    current = own or str(torch_threads(settings))  # ours, or what use_torch_threads would set
    if current == str(recorded):
        return False
    for name in _ENV:
        os.environ[name] = _set_here[name] = str(recorded)
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(recorded)
    return True
