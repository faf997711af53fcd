"""The LLM extractor on each held-out set, exactly as the service runs it.

    TASTEMAKER_LLM_BASE_URL=http://127.0.0.1:11434/v1 TASTEMAKER_LLM_MODEL=qwen2.5:1.5b \\
        python bench/llm_extraction.py [--verbose] [--sets PATH ...]

Reads the LLM settings from the environment like the service (``TASTEMAKER_LLM_*``) and builds
the same chain: LLM extractor (output mode, deadline, clause polarity check) with the offline
extractor behind it. For every held-out set in tests/data/ (``extraction_heldout*``, ``_blind*``) it
prints F1 and polarity errors (matching rule in ``agent/evaluation.py``) over all comments and
over the comments the LLM answered itself, the fallbacks with their reasons, what the checks
changed (phrases shortened, features dropped, features left out on a disputed polarity) and
seconds per comment.

``--simulate echo|flip|oracle`` runs the same chain against the loopback server in
tests/doubles, answering each comment with its labels (oracle), with the polarities flipped
(flip: how many the clause check restores), or with the labels plus copies of the prompt's
example phrases quoting an unrelated part of the comment (echo: how many the guard drops). It
measures the checks, not a model.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.evaluation import Labelled, Score, load_labelled, score_all  # noqa: E402
from agent.extraction import Extraction, ExtractionError, Extractor  # noqa: E402

DATA = ROOT / "tests" / "data"


@dataclass
class SetResult:
    """What one held-out set gave."""

    name: str
    all: Score
    llm_only: Score
    comments: int
    seconds: list[float] = field(default_factory=list)
    fallbacks: Counter[str] = field(default_factory=Counter)
    checks: Counter[str] = field(default_factory=Counter)


def _check_kind(note: str) -> str | None:
    if note.startswith("shortened"):
        return "phrases shortened"
    if note.startswith("polarity of"):
        return "asked: the clause disputed the polarity"
    if "copies the prompt's example" in note:
        return "echoed examples dropped"
    if note.startswith("dropped"):
        return "features without evidence dropped"
    if note.startswith("instruction-like text ignored"):
        return "instruction-like text removed"
    return None


def evaluate(extractor: Extractor, name: str, rows: list[Labelled]) -> SetResult:
    """Extract every comment of one set, timing each; failures count as empty answers."""
    extractions: list[Extraction] = []
    result = SetResult(name=name, all=Score(), llm_only=Score(), comments=len(rows))
    for row in rows:
        start = time.perf_counter()
        try:
            extraction = extractor.extract(row.comment, row.image)
        except ExtractionError as error:
            extraction = Extraction(fallback_reason=f"failed: {error}")
        result.seconds.append(time.perf_counter() - start)
        if extraction.fallback_reason:
            result.fallbacks[extraction.fallback_reason.split(":")[0]] += 1
        for note in extraction.notes:
            if kind := _check_kind(note):
                result.checks[kind] += 1
        extractions.append(extraction)
    result.all = score_all(rows, extractions)["all"]
    own = [(r, e) for r, e in zip(rows, extractions, strict=True) if e.extractor == "llm"]
    if own:
        result.llm_only = score_all([r for r, _ in own], [e for _, e in own])["all"]
    return result


def print_result(result: SetResult, verbose: bool) -> None:
    answered = result.comments - sum(result.fallbacks.values())
    print(f"\n== {result.name}: {result.comments} comments, {answered} answered by the LLM")
    print(
        f"  all comments:         F1 {result.all.f1:.3f}  polarity errors "
        f"{result.all.polarity_errors}  (P {result.all.precision:.3f}, R {result.all.recall:.3f})"
    )
    print(
        f"  answered by the LLM:  F1 {result.llm_only.f1:.3f}  polarity errors "
        f"{result.llm_only.polarity_errors}"
    )
    reasons = ", ".join(f"{k} {v}" for k, v in result.fallbacks.most_common()) or "none"
    print(f"  fallbacks: {sum(result.fallbacks.values())} ({reasons})")
    checks = ", ".join(f"{k} {v}" for k, v in result.checks.most_common()) or "none"
    print(f"  checks: {checks}")
    seconds = result.seconds
    print(
        f"  seconds per comment: mean {statistics.fmean(seconds):.2f}, "
        f"median {statistics.median(seconds):.2f}, max {max(seconds):.2f}"
    )
    if verbose:
        for miss in result.all.misses:
            print("   ", miss)


def heldout_sets(paths: list[Path] | None) -> list[Path]:
    return paths or [
        *sorted(DATA.glob("extraction_heldout*.jsonl")),
        *sorted(DATA.glob("extraction_blind*.jsonl")),
    ]


def run(extractor: Extractor, paths: list[Path], verbose: bool) -> list[SetResult]:
    results = []
    for path in paths:
        result = evaluate(extractor, path.stem, load_labelled(path))
        print_result(result, verbose)
        results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="list every miss")
    parser.add_argument("--sets", nargs="*", type=Path, help="labelled .jsonl files")
    parser.add_argument("--simulate", choices=["oracle", "flip", "echo"])
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from api.wiring.agent import build_deadline, build_extractor
    from api.wiring.services import load_settings, open_embedder

    settings = load_settings()
    paths = heldout_sets(args.sets)
    if args.simulate:
        from bench.llm_simulation import simulated_settings

        with simulated_settings(settings, args.simulate, paths) as simulated:
            extractor = build_extractor(simulated, open_embedder(simulated))
            print(f"simulated LLM ({args.simulate}) on the loopback server")
            run(extractor, paths, args.verbose)
        return 0
    if not settings.llm_configured:
        print(
            "error: no LLM configured; set TASTEMAKER_LLM_BASE_URL and TASTEMAKER_LLM_MODEL "
            "(see the README's LLM section)",
            file=sys.stderr,
        )
        return 2
    deadline = build_deadline(settings)
    extractor = build_extractor(settings, open_embedder(settings), deadline)
    print(
        f"LLM {settings.llm_model} at {settings.llm_base_url}, output mode "
        f"{settings.llm_output_mode}, deadline {settings.llm_deadline_s:g} s per comment"
    )
    run(extractor, paths, args.verbose)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
