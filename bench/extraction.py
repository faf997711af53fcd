"""Extraction quality and speed on the labelled comments in tests/data/extraction_eval.jsonl.

    python bench/extraction.py            # offline extractor (and the LLM one if configured)
    python bench/extraction.py --verbose  # also list every miss

Prints recall, precision, F1 and polarity errors overall and per kind of comment, and the
offline extractor's per-comment latency (p50/p95 after the model is loaded, one torch thread).
The matching rule is documented in ``agent/evaluation.py``: token-overlap F1 ≥ 0.5 between a
predicted and an expected phrase, paired one-to-one; a paired phrase under the other polarity
is a polarity error. The LLM extractor runs when TASTEMAKER_LLM_BASE_URL and
TASTEMAKER_LLM_MODEL are set (with TASTEMAKER_LLM_API_KEY or OPENAI_API_KEY).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from agent.evaluation import Labelled, Score, load_labelled, score_all  # noqa: E402
from agent.extraction import Extraction, ExtractionError, Extractor  # noqa: E402

DATA = ROOT / "tests" / "data" / "extraction_eval.jsonl"
# Written after the rules were tuned on DATA. Held-out 1 scored F1 0.780 on its first run; a few
# general lexicon/comma rules were then added after reading its misses (it now scores higher and
# is no longer blind). Held-out 2 was written after that and has never been used for tuning:
# its figure is the honest one.
HELDOUT = ROOT / "tests" / "data" / "extraction_heldout.jsonl"
HELDOUT2 = ROOT / "tests" / "data" / "extraction_heldout2.jsonl"
TARGET_F1 = 0.8


def run(extractor: Extractor, rows: list[Labelled]) -> tuple[list[Extraction], list[float]]:
    """Extract every comment; a comment the extractor fails on counts as an empty answer."""
    extractions: list[Extraction] = []
    latencies: list[float] = []
    failures = 0
    for row in rows:
        start = time.perf_counter()
        try:
            extractions.append(extractor.extract(row.comment, row.image))
        except ExtractionError as error:
            failures += 1
            extractions.append(Extraction(notes=[str(error)]))
        latencies.append((time.perf_counter() - start) * 1000)
    if failures:
        print(f"  ({failures} of {len(rows)} comments failed and count as empty answers)")
    return extractions, latencies


def report(name: str, scores: dict[str, Score], verbose: bool) -> None:
    total = scores["all"]
    print(
        f"\n== {name} extractor: {total.expected} expected attributes, {total.predicted} predicted"
    )
    print(f"{'kind':<18}{'recall':>8}{'precision':>11}{'F1':>7}{'polarity errors':>17}")
    for kind, score in sorted(scores.items(), key=lambda kv: (kv[0] != "all", kv[0])):
        print(
            f"{kind:<18}{score.recall:>8.3f}{score.precision:>11.3f}{score.f1:>7.3f}"
            f"{score.polarity_errors:>17d}"
        )
    verdict = "meets" if total.f1 >= TARGET_F1 and total.polarity_errors == 0 else "MISSES"
    print(f"{name}: F1 {total.f1:.3f}, polarity errors {total.polarity_errors} ({verdict} target)")
    if verbose:
        for miss in total.misses:
            print("  ", miss)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--repeat", type=int, default=5, help="timing passes over the set")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = load_labelled(DATA)
    print(f"{len(rows)} labelled comments from {DATA.relative_to(ROOT)}")

    from api.agent_wiring import build_llm_extractor, build_offline_extractor
    from api.wiring import load_settings, open_embedder

    settings = load_settings()
    load_start = time.perf_counter()
    offline = build_offline_extractor(open_embedder(settings))
    elapsed = time.perf_counter() - load_start
    print(f"offline extractor loaded (MiniLM + vocabulary) in {elapsed:.1f} s")
    extractions, _ = run(offline, rows)
    report("offline", score_all(rows, extractions), args.verbose)
    heldout = load_labelled(HELDOUT)
    report(
        f"offline, held-out 1 ({len(heldout)} comments, seen once)",
        score_all(heldout, run(offline, heldout)[0]),
        args.verbose,
    )
    blind = load_labelled(HELDOUT2)
    report(
        f"offline, held-out 2 ({len(blind)} comments, never tuned on)",
        score_all(blind, run(offline, blind)[0]),
        args.verbose,
    )
    heldout = heldout + blind
    timings: list[float] = []
    for _ in range(args.repeat):
        timings.extend(run(offline, rows)[1])
    print(
        f"offline latency per comment over {len(timings)} calls: "
        f"p50 {statistics.median(timings):.2f} ms, p95 {percentile(timings, 0.95):.2f} ms, "
        f"max {max(timings):.2f} ms (budget p95 <= 50 ms)"
    )

    if settings.llm_configured:
        llm = build_llm_extractor(settings)
        extractions, latencies = run(llm, rows + heldout)
        scores = score_all(rows + heldout, extractions)
        report(f"LLM ({settings.llm_model}), all three sets", scores, args.verbose)
        print(f"LLM latency p50 {statistics.median(latencies):.0f} ms")
    else:
        print(
            "\nLLM extractor: not configured (set TASTEMAKER_LLM_BASE_URL and TASTEMAKER_LLM_MODEL)"
        )


if __name__ == "__main__":
    main()
